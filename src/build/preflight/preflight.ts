import { join } from 'node:path';
import type { Aws } from '../../adapters/aws.js';
import type { BuildContext } from '../context.js';
import { EXIT_USAGE, BroError } from '../../shared/errors.js';
import type { StepId } from '../../config/step-ids.js';
import { awsIdentityCheck, CHECKS, type CheckInputs, type CheckResult, type Found } from './checks.js';

/**
 * Runs every check (they only read, so side by side). `steps` are the steps the
 * run may execute: a check no such step needs is reported as skipped
 * (`bro build --only share` needs no Docker).
 */
export async function runPreflight(inputs: CheckInputs, steps?: readonly StepId[]): Promise<CheckResult[]> {
  // STS is asked once: the ECR registry check reuses the AWS identity check's answer.
  let identity: ReturnType<typeof awsIdentityCheck.run> | undefined;
  const askIdentity = () => (identity ??= awsIdentityCheck.run(inputs, found));
  const found: Found = { identity: async () => (await askIdentity()).identity };
  return Promise.all(
    CHECKS.map(async (check): Promise<CheckResult> => {
      const head = { id: check.id, title: check.title, mustHave: check.mustHave };
      if (steps && !check.neededBy.some((s) => steps.includes(s)))
        return { ...head, status: 'skipped', detail: `not needed by ${steps.join(', ')}` };
      const { status, detail, fix } = await (check === awsIdentityCheck ? askIdentity() : check.run(inputs, found));
      return { ...head, status, detail, ...(fix === undefined ? {} : { fix }) };
    }),
  );
}

export const failedMustHaves = (checks: readonly CheckResult[]) =>
  checks.filter((c) => c.mustHave && c.status === 'fail');

const MARK: Record<CheckResult['status'], string> = { ok: '✔', fail: '✖', advice: '!', skipped: '-' };

/** One line per check, and under a failed or advised one, what to do. */
export function formatChecks(checks: readonly CheckResult[], indent = ''): string[] {
  return checks.flatMap((c) => [
    `${indent}${MARK[c.status]} ${c.title}: ${c.detail}`,
    ...(c.fix && c.status !== 'ok' ? [`${indent}  → ${c.fix}`] : []),
  ]);
}

/** A real build refused by its preflight (exit 2: the host or the configuration, not a step). */
export class PreflightError extends BroError {
  override readonly exitCode = EXIT_USAGE;
}

/** What a run with `--only <step>` does, in the refusal's words; the whole build otherwise. */
const DOING: Partial<Record<StepId, string>> = { share: 'share the AMIs' };

export function preflightError(checks: readonly CheckResult[], only?: string): PreflightError | undefined {
  const failed = failedMustHaves(checks);
  if (!failed.length) return undefined;
  const doing = (only && DOING[only as StepId]) ?? (only ? `run the ${only} step` : 'run the build');
  return new PreflightError(
    `This host cannot ${doing}: ${failed.map((c) => c.title).join(', ')} (see above). Nothing was started.`,
    {
      hint: 'Fix them and rerun; `bro doctor` repeats the checks without building.',
    },
  );
}

export interface PreflightOptions {
  /** --min-free-disk: the free disk the build needs, in GiB. */
  minFreeDiskGiB?: number;
  /** --only: the one step that runs. */
  only?: string;
  dryRun?: boolean;
}

/** The preflight of a build context: its variant, its workspace, its adapters. */
export async function preflightOf(
  ctx: Pick<BuildContext, 'adapters' | 'variant' | 'state'> & { workspace: Pick<BuildContext['workspace'], 'root'> },
  aws: Aws,
  options: PreflightOptions,
): Promise<CheckResult[]> {
  const { adapters, variant, workspace } = ctx;
  // A state file bro cannot read is reported by the build itself; here it only means "no caches known".
  const osBuild = await ctx.state.get('os-build').catch(() => undefined);
  const inputs: CheckInputs = {
    variant,
    variantFile: adapters.project.display(join(adapters.project.root, 'variants', `${variant.name}.toml`)),
    workDir: workspace.root,
    runner: adapters.runner,
    host: adapters.host,
    aws,
    env: adapters.env,
    redactor: adapters.redactor,
    minFreeDiskGiB: options.minFreeDiskGiB,
    hasBuildCaches: osBuild?.status === 'done',
    dryRun: options.dryRun,
  };
  return runPreflight(inputs, options.only ? [options.only as StepId] : undefined);
}
