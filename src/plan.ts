import type { Command } from './adapters/runner.js';
import type { Redactor } from './adapters/redactor.js';
import type { SourceName } from './config/series.js';
import {
  adminImageBuildCommand,
  adminImageCheckCommand,
  adminLocalTag,
  amiRegisterCommand,
  dockerLoginCommand,
  dockerPushCommand,
  dockerTagCommand,
  osBuildCommand,
  type BuildInputs,
} from './commands-for-build.js';
import type { BuildContext } from './context.js';
import type { CheckResult } from './preflight/checks.js';
import { formatChecks } from './preflight/preflight.js';
import { adminImageTag, adminImageUri, amiName, amisJsonPath } from './naming.js';

/**
 * The plan: everything a real build would do outside the workspace, as one
 * versioned JSON document. `bro build --dry-run` prints it.
 */
export const PLAN_SCHEMA_VERSION = 1;

export interface PlannedCommand {
  step: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface PlannedAwsAction {
  step: string;
  region: string;
  service: 'ec2' | 'ecr';
  action: string;
  target: string;
  account?: string;
}

export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  kind: 'bro.plan';
  variant: string;
  arch: string;
  version: string;
  amiName: string;
  amisJson: string;
  sources: Record<SourceName, { url: string; ref: string; commit: string; series: { base: string; digest: string; patches: string[] } | null; head: string }>;
  commands: PlannedCommand[];
  aws: PlannedAwsAction[];
  adminImages: { region: string; uri: string }[];
  warnings: string[];
  /** Whether this host can run the build (the checks `bro doctor` makes); a real build stops at a failed must-have. */
  preflight?: CheckResult[];
}

export function buildInputs(ctx: BuildContext): BuildInputs {
  if (!ctx.sources || !ctx.adminVersion || !ctx.infraPath) throw new Error('buildInputs() needs the sources, patch and render steps to have run');
  return {
    variant: ctx.variant,
    version: ctx.version,
    bottlerocketDir: ctx.sources.bottlerocket.dir,
    adminContainerDir: ctx.sources['admin-container'].dir,
    adminVersion: ctx.adminVersion,
    infraPath: ctx.infraPath,
  };
}

/** Where logins go: a temporary directory made for each run (see adapters/docker.ts). */
const PER_RUN_DOCKER_CONFIG = '<work>/.bro/docker/<per-run directory>';

const planned = (step: string, command: Command): PlannedCommand => ({
  step,
  argv: [...command.argv],
  cwd: command.cwd ?? '.',
  env: command.env ?? {},
});

/**
 * `dropped`: per region, the accounts bro granted on this version's AMI that
 * share-with no longer lists (see `droppedFromShare`): share removes their grants.
 */
export function makePlan(ctx: BuildContext, warnings: readonly string[], redactor: Redactor, dropped: Record<string, string[]> = {}): Plan {
  const inputs = buildInputs(ctx);
  const { variant } = ctx;
  const tag = adminImageTag(inputs.adminVersion, ctx.version);
  const localTag = adminLocalTag(inputs, tag);
  const commands: PlannedCommand[] = [
    planned('admin-image-build', adminImageBuildCommand(inputs, localTag)),
    planned('admin-image-build', adminImageCheckCommand(inputs, localTag)),
  ];
  const aws: PlannedAwsAction[] = [];
  const adminImages = variant.regions.map((region) => ({ region, uri: adminImageUri(variant, region, tag) }));
  for (const { region, uri } of adminImages) {
    const repo = variant['admin-image'].repository;
    const registry = uri.slice(0, uri.indexOf('/'));
    aws.push(
      { step: 'admin-image-push', region, service: 'ecr', action: 'DescribeRepositories/CreateRepository (if missing; immutable tags, scan on push)', target: repo },
      { step: 'admin-image-push', region, service: 'ecr', action: 'DescribeImages (skip the region if the tag already holds this image)', target: `${repo}:${tag}` },
      { step: 'admin-image-push', region, service: 'ecr', action: 'GetAuthorizationToken', target: registry },
    );
    commands.push(
      planned('admin-image-push', dockerLoginCommand(registry, PER_RUN_DOCKER_CONFIG)),
      planned('admin-image-push', dockerTagCommand(localTag, uri)),
      planned('admin-image-push', dockerPushCommand(uri, PER_RUN_DOCKER_CONFIG)),
    );
    aws.push({ step: 'admin-image-push', region, service: 'ecr', action: 'DescribeImages (verify digest)', target: `${repo}:${tag}` });
  }
  commands.push(planned('os-build', osBuildCommand(inputs)), planned('ami-register', amiRegisterCommand(inputs)));
  for (const region of variant.regions) {
    aws.push(
      { step: 'share', region, service: 'ec2', action: 'DescribeImages (wait until available)', target: amiName(variant, ctx.version) },
      { step: 'share', region, service: 'ec2', action: 'DescribeSnapshotAttribute/DescribeImageAttribute (permissions already there)', target: 'the AMI and its snapshots' },
    );
    for (const account of variant['share-with']) {
      aws.push(
        { step: 'share', region, service: 'ec2', action: 'ModifySnapshotAttribute createVolumePermission add (if missing)', target: 'each snapshot of the AMI', account },
        { step: 'share', region, service: 'ec2', action: 'ModifyImageAttribute launchPermission add (if missing)', target: 'the AMI', account },
      );
    }
    for (const account of dropped[region] ?? []) {
      aws.push(
        { step: 'share', region, service: 'ec2', action: 'ModifySnapshotAttribute createVolumePermission remove (granted by bro, no longer in share-with)', target: 'each snapshot of the AMI', account },
        { step: 'share', region, service: 'ec2', action: 'ModifyImageAttribute launchPermission remove (granted by bro, no longer in share-with)', target: 'the AMI', account },
      );
    }
    aws.push(
      { step: 'share', region, service: 'ec2', action: 'CreateTags (variant, version, upstream commits, series digest)', target: 'the AMI and its snapshots' },
      { step: 'share', region, service: 'ec2', action: 'DescribeImageAttribute launchPermission (verify)', target: 'the AMI' },
    );
  }
  const sources = Object.fromEntries(
    Object.values(ctx.sources ?? {}).map((s) => {
      const series = ctx.series?.[s.name];
      return [
        s.name,
        {
          url: s.url,
          ref: s.ref,
          commit: s.commit,
          series: series ? { base: series.base, digest: series.digest, patches: series.patches.map((p) => p.name) } : null,
          head: ctx.patchedHeads?.[s.name] ?? s.commit,
        },
      ];
    }),
  ) as Plan['sources'];
  return redactor.redactValue({
    schemaVersion: PLAN_SCHEMA_VERSION,
    kind: 'bro.plan',
    variant: variant.name,
    arch: variant.arch,
    version: ctx.version.full,
    amiName: amiName(variant, ctx.version),
    amisJson: amisJsonPath(inputs.bottlerocketDir, variant, ctx.version),
    sources,
    commands,
    aws,
    adminImages,
    warnings: [...warnings],
  });
}

const shellQuote = (arg: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  out.push(`Plan for ${plan.variant} (${plan.arch}) ${plan.version}`);
  out.push(`  AMI name: ${plan.amiName}`);
  for (const [name, s] of Object.entries(plan.sources)) {
    const series = s.series ? `series ${s.series.base} (${s.series.patches.length} patches), head ${s.head.slice(0, 12)}` : 'no patch series';
    out.push(`  ${name}: ${s.ref} = ${s.commit.slice(0, 12)} from ${s.url}; ${series}`);
  }
  if (plan.preflight) out.push('', 'Preflight (a real build refuses to start while a ✖ remains):', ...formatChecks(plan.preflight, '  '));
  out.push('', 'Commands:');
  for (const c of plan.commands) {
    const env = Object.entries(c.env).map(([k, v]) => `${k}=${shellQuote(v)} `).join('');
    out.push(`  [${c.step}] (in ${c.cwd})`, `    ${env}${c.argv.map(shellQuote).join(' ')}`);
  }
  out.push('', 'AWS actions:');
  for (const a of plan.aws) out.push(`  [${a.step}] ${a.region} ${a.service}:${a.action} → ${a.target}${a.account ? ` for ${a.account}` : ''}`);
  out.push('', 'Admin image:');
  for (const i of plan.adminImages) out.push(`  ${i.region}: ${i.uri}`);
  if (plan.warnings.length) out.push('', 'Warnings:', ...plan.warnings.map((w) => `  ! ${w}`));
  return out.join('\n');
}
