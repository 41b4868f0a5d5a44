import { buildInputs } from './commands-for-build.js';
import type { Command } from '../adapters/runner.js';
import type { Redactor } from '../adapters/redactor.js';
import type { SourceName } from '../config/series.js';
import {
  adminImageBuildCommand,
  adminImageCheckCommand,
  adminLocalTag,
  amiRegisterCommand,
  osBuildCommand,
} from './commands-for-build.js';
import type { CheckResult } from './preflight/checks.js';
import { formatChecks } from './preflight/preflight.js';
import { adminImageTag, amiName, amisJsonPath } from './naming.js';
import type { AwsAction } from './aws-actions.js';
import type { Needed, PublishContext } from './step.js';
import { pushPlan } from './steps/admin-image-push.js';
import { pubsysActions } from './steps/ami-register.js';
import { defaultManifestPath } from './steps/manifest.js';
import { logsDir } from './steps/run-logged.js';
import {
  isAccountId,
  launchPrincipals,
  patchSeriesDigest,
  releaseTags,
  shareActions,
  shareIntent,
  verifyActions,
} from './steps/share.js';
import { deprecateActions, deprecationOf } from './steps/ami-deprecate.js';
import { parameterNames, pointerActions } from './steps/ssm-publish.js';
import { describeDeprecation } from '../config/deprecation.js';

/**
 * The plan: everything a real build would do outside the workspace, as one
 * versioned JSON document. `bro build --dry-run` prints it: a summary (what
 * is built, from what, where it goes, who gets it, how it is tagged), then
 * every command and AWS call. The AWS calls come from the steps that make
 * them (share's `shareActions`, the push's `pushPlan`, ami-register's
 * `pubsysActions`).
 *
 * Version 2: `aws` entries are API calls ({by, action, note, accounts,
 * perSnapshot}); adds seriesDigest, regions, accounts, grants, tags,
 * manifest and logs.
 */
export const PLAN_SCHEMA_VERSION = 2;

export interface PlannedCommand {
  step: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export type PlannedAwsAction = AwsAction;

/** One cell of the regions × accounts table: share adds the account's permissions, or removes those bro gave earlier. */
export interface PlannedGrant {
  region: string;
  account: string;
  change: 'grant' | 'revoke';
}

export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  kind: 'bro.plan';
  variant: string;
  arch: string;
  version: string;
  amiName: string;
  /** The digest of both patch series, as the `bro:patch-series` tag carries it. */
  seriesDigest: string;
  /** pubsys registers in the first and copies to the others. */
  regions: string[];
  /** share-with. */
  accounts: string[];
  /** share-with-organizations and share-with-organizational-units: launch permission only. */
  organizations?: string[];
  /** When EC2 deprecates the AMIs (ami.deprecate-after). */
  deprecation?: string;
  /** The version parameters each region gets (infra.ssm-prefix). */
  parameters?: string[];
  amisJson: string;
  manifest: string;
  logs: string;
  sources: Record<
    SourceName,
    {
      url: string;
      ref: string;
      commit: string;
      series: { base: string; digest: string; patches: string[] } | null;
      head: string;
    }
  >;
  grants: PlannedGrant[];
  /** The tags on every AMI and snapshot. */
  tags: Record<string, string>;
  adminImages: { region: string; uri: string }[];
  commands: PlannedCommand[];
  aws: PlannedAwsAction[];
  warnings: string[];
  /** Whether this host can run the build (the checks `bro doctor` makes); a real build stops at a failed must-have. */
  preflight?: CheckResult[];
}

/** Where logins go: a temporary directory made for each run (see adapters/docker.ts). */
const PER_RUN_DOCKER_CONFIG = '<work>/.bro/docker/<per-run directory>';

const planned = (step: string, command: Command): PlannedCommand => ({
  step,
  argv: [...command.argv],
  cwd: command.cwd ?? '.',
  env: command.env ?? {},
});

/** The steps whose outputs the plan shows: the local ones, which a dry run runs. */
export const PLAN_NEEDS = ['resolve', 'sources', 'patch', 'render'] as const;

/**
 * `dropped`: per region, the accounts bro granted on this version's AMI that
 * share-with no longer lists (see `droppedFromShare`): share removes their grants.
 */
export function makePlan(
  ctx: PublishContext,
  input: Needed<(typeof PLAN_NEEDS)[number]>,
  warnings: readonly string[],
  redactor: Redactor,
  dropped: Record<string, string[]> = {},
): Plan {
  const inputs = buildInputs(ctx, input);
  const { variant } = ctx;
  const tag = adminImageTag(inputs.adminVersion, ctx.version);
  const localTag = adminLocalTag(inputs, tag);
  const name = amiName(variant, ctx.version);
  const tags = releaseTags(ctx, input);
  const accounts = variant['share-with'];
  const principals = launchPrincipals(variant);
  const commands: PlannedCommand[] = [
    planned('admin-image-build', adminImageBuildCommand(inputs, localTag)),
    planned('admin-image-build', adminImageCheckCommand(inputs, localTag)),
  ];
  const aws: PlannedAwsAction[] = [];
  const pushes = variant.regions.map((region) => ({
    region,
    push: pushPlan(variant, region, tag, localTag, ctx.workspace.root),
  }));
  for (const { push } of pushes) {
    aws.push(...push.aws);
    commands.push(...push.commands(PER_RUN_DOCKER_CONFIG).map((c) => planned('admin-image-push', c)));
  }
  commands.push(planned('os-build', osBuildCommand(inputs)), planned('ami-register', amiRegisterCommand(inputs)));
  aws.push(...pubsysActions(variant.regions, name));
  const grants: PlannedGrant[] = [];
  for (const region of variant.regions) {
    const drop = dropped[region] ?? [];
    aws.push(
      ...shareActions(region, name, shareIntent({ accounts: principals, drop, tags })),
      ...verifyActions(region),
    );
    grants.push(
      ...principals.map((account) => ({ region, account, change: 'grant' as const })),
      ...drop.map((account) => ({ region, account, change: 'revoke' as const })),
    );
  }
  const deprecation = deprecationOf(variant);
  const when = deprecation && describeDeprecation(deprecation, new Date());
  if (when)
    aws.push(...variant.regions.flatMap((r) => deprecateActions(r, variant.regions[0]!, when, 'after' in deprecation)));
  const prefix = variant.infra['ssm-prefix'];
  const names = prefix ? parameterNames(variant, prefix, ctx.version.full) : undefined;
  if (names) aws.push(...variant.regions.flatMap((r) => pointerActions('ssm-publish', r, names, ctx.version.full)));
  const sources = Object.fromEntries(
    Object.values(input.sources.sources).map((s) => {
      const series = input.patch.series[s.name];
      return [
        s.name,
        {
          url: s.url,
          ref: s.ref,
          commit: s.commit,
          series: series
            ? { base: series.base, digest: series.digest, patches: series.patches.map((p) => p.name) }
            : null,
          head: input.patch.patchedHeads[s.name],
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
    amiName: name,
    seriesDigest: patchSeriesDigest(input.patch.series),
    regions: [...variant.regions],
    accounts: [...accounts],
    organizations: principals.filter((p) => !isAccountId(p)),
    deprecation: when,
    parameters: names ? [names.imageId, names.version] : [],
    amisJson: amisJsonPath(inputs.bottlerocketDir, variant, ctx.version),
    manifest: ctx.settings.manifestPath ?? defaultManifestPath(ctx.workspace.root),
    logs: logsDir(ctx.workspace.broDir),
    sources,
    grants,
    tags,
    adminImages: pushes.map(({ region, push }) => ({ region, uri: push.uri })),
    commands,
    aws,
    warnings: [...warnings],
  });
}

const shellQuote = (arg: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

const row = (label: string, value: string) => `  ${label.padEnd(16)} ${value}`;

/** The regions × accounts table of grants: `+` share adds the account's permissions, `-` removes those bro gave. */
function grantsTable(plan: Plan): string[] {
  const accounts = [...new Set(plan.grants.map((g) => g.account))];
  if (!accounts.length) return [];
  const width = Math.max(...plan.regions.map((r) => r.length));
  const cell = (region: string, account: string) => {
    const change = plan.grants.find((g) => g.region === region && g.account === account)?.change;
    return (change === 'grant' ? '+' : change === 'revoke' ? '- revoke' : '').padEnd(account.length);
  };
  const lines = [
    'Grants (+ launch permission on the AMI and create-volume permission on its snapshots, if missing):',
    `  ${''.padEnd(width)}  ${accounts.join('  ')}`,
    ...plan.regions.map((r) => `  ${r.padEnd(width)}  ${accounts.map((a) => cell(r, a)).join('  ')}`.trimEnd()),
  ];
  if (accounts.some((a) => !isAccountId(a)))
    lines.push('  (organizations and OUs: launch permission only; EC2 shares snapshots with account IDs only)');
  if (plan.grants.some((g) => g.change === 'revoke'))
    lines.push(
      "  (- revoke: granted by bro on this AMI earlier, no longer in share-with; others' grants are left alone)",
    );
  return lines;
}

const formatAction = (a: AwsAction) => {
  const accounts = a.accounts ? ` for ${a.accounts.join(', ')}` : '';
  const note = a.note ? ` (${a.note})` : '';
  return `  [${a.step}${a.by === 'pubsys' ? ', by pubsys' : ''}] ${a.region} ${a.service}:${a.action} → ${a.target}${accounts}${note}`;
};

/** `sha256:` and the first 12 hex digits: enough to match a series with `bro patches check --json`. */
const shortDigest = (digest: string) => digest.slice(0, 'sha256:'.length + 12);

export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  out.push(`Plan for ${plan.variant} (${plan.arch}) ${plan.version}: a dry run, nothing below has been done`);
  for (const [name, s] of Object.entries(plan.sources)) {
    const series = s.series
      ? `series ${s.series.base} (${s.series.patches.length} ${s.series.patches.length === 1 ? 'patch' : 'patches'}, digest ${shortDigest(s.series.digest)}) → head ${s.head.slice(0, 12)}`
      : 'no patch series';
    const ref = s.ref === s.commit ? s.commit.slice(0, 12) : `${s.ref} = ${s.commit.slice(0, 12)}`;
    out.push(row(name, `${ref} from ${s.url}; ${series}`));
  }
  // Each series' own digest is the one `bro patches check --json` reports; this one is of both, as the AMI's tag carries it.
  out.push(
    row('Series digest', `${plan.seriesDigest} (of both series: the bro:patch-series tag)`),
    row('AMI name', plan.amiName),
  );
  const [first, ...others] = plan.regions;
  out.push(row('Regions', `${first} (registered)${others.length ? `, copied to ${others.join(', ')}` : ''}`));
  const example = plan.preflight?.find((c) => c.id === 'example-accounts' && c.status !== 'ok');
  out.push(
    row(
      'Accounts',
      `${plan.accounts.join(', ')}${example ? '   ✖ the shipped example IDs: put your own in the variant file (see Preflight)' : ''}`,
    ),
  );
  // One line when the URIs differ only by their region, as ECR's do.
  const uris = new Set(plan.adminImages.map((i) => i.uri.split(i.region).join('<region>')));
  if (uris.size === 1 && plan.adminImages.length > 1) out.push(row('Admin image', `${[...uris][0]} (each region)`));
  else plan.adminImages.forEach((i, n) => out.push(row(n ? '' : 'Admin image', i.uri)));
  if (plan.organizations?.length) out.push(row('Organizations', plan.organizations.join(', ')));
  if (plan.deprecation) out.push(row('Deprecated', plan.deprecation));
  if (plan.parameters?.length) out.push(row('SSM parameters', `${plan.parameters.join(', ')} (each region)`));
  out.push(row('Manifest', plan.manifest), row('Logs', `${plan.logs}/`), row('amis.json', plan.amisJson));
  out.push('', ...grantsTable(plan));
  out.push('', 'Tags on every AMI and snapshot:', ...Object.entries(plan.tags).map(([k, v]) => `  ${k} = ${v}`));
  if (plan.preflight)
    out.push('', 'Preflight (a real build refuses to start while a ✖ remains):', ...formatChecks(plan.preflight, '  '));
  if (plan.warnings.length) out.push('', 'Warnings:', ...plan.warnings.map((w) => `  ! ${w}`));
  out.push('', 'Commands:');
  for (const c of plan.commands) {
    const env = Object.entries(c.env)
      .map(([k, v]) => `${k}=${shellQuote(v)} `)
      .join('');
    out.push(`  [${c.step}] (in ${c.cwd})`, `    ${env}${c.argv.map(shellQuote).join(' ')}`);
  }
  out.push('', 'AWS actions (per snapshot: once for each snapshot of the AMI):', ...plan.aws.map(formatAction));
  return out.join('\n');
}
