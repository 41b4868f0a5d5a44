import { join } from 'node:path';
import { createAws, type Aws } from '../../adapters/aws.js';
import { createAdapters } from '../../adapters/index.js';
import { createRollback, type Rollback } from '../../adapters/rollback.js';
import { prepareDir, refuseInside } from '../../adapters/user-paths.js';
import { removeLeftoverConfigs } from '../../adapters/docker.js';
import { lockWorkspace } from '../../adapters/locks/workspace-lock.js';
import type { Io } from '../io.js';
import { parseVersion } from '../../config/version.js';
import type { BuildContext, BuildOptions } from '../../build/index.js';
import { UsageError } from '../../shared/errors.js';
import { type PublishContext } from '../../build/index.js';
import { buildStages, checkSelection, runPipeline } from '../../build/index.js';
import { formatPlan, makePlan, PLAN_NEEDS, requireOutputs } from '../../build/index.js';
import type { CheckResult } from '../../build/index.js';
import { formatChecks, preflightError, preflightOf } from '../../build/index.js';
import { rendererFor, type RendererChoice } from '../../build/index.js';
import { createStateStore } from '../../build/index.js';
import { readManifest } from '../../build/index.js';
import { droppedFromShare } from '../../build/index.js';
import { workDirFor } from '../options.js';
import { formatManifest } from './manifest.js';

export interface RunBuildOptions extends BuildOptions, PublishOptions {
  ci: boolean;
  /** --min-free-disk: the free disk (GiB) the preflight asks for, instead of its rule. */
  minFreeDiskGiB?: number;
  /** Tests pass 'silent'; otherwise chosen from the terminal. */
  renderer?: RendererChoice;
}

/** Creates the context every build-like command starts from. Config errors surface here, before any output. */
export async function createBuildContext(options: BuildOptions, io: Io, rollback: Rollback = createRollback()) {
  const version = parseVersion(options.version);
  const adapters = createAdapters({ ...options, env: io.env, stderr: io.stderr });
  const variant = await adapters.project.readVariant(options.variant);
  const root = workDirFor(options, variant.name);
  // The directories the user named, checked before any work: a bad one is a usage error naming the option.
  const cache = { option: '--cache-dir', from: options.cacheDirFrom ?? '--cache-dir' };
  const work = { option: '--work-dir', from: options.workDir ? '--work-dir' : 'default' };
  refuseInside(work, root, cache, options.cacheDir);
  await prepareDir(cache, options.cacheDir);
  await prepareDir(work, root);
  const ctx: BuildContext = {
    options,
    adapters,
    variant,
    version,
    workspace: {
      root,
      bottlerocket: join(root, 'bottlerocket'),
      adminContainer: join(root, 'admin-container'),
      broDir: join(root, '.bro'),
    },
    state: createStateStore(join(root, '.bro')),
    rollback,
  };
  return { ctx, warnings: adapters.warnings };
}

/** Options of `bro build` beyond the `BuildOptions` every build-like command shares; the defaults are the CLI's. */
export interface PublishOptions {
  from?: string;
  only?: string;
  /** Write the manifest here instead of `<work>/manifest.json`. */
  manifest?: string;
  waitTimeoutSeconds?: number;
  waitPollSeconds?: number;
  regionConcurrency?: number;
  /** --push-timeout: how long a `docker push` may print nothing. */
  pushTimeoutMs?: number;
  /** Stop the programs a killed bro left running in this workspace (recorded in its lock) before starting. */
  killOrphans?: boolean;
  /** ssm-publish replaces version parameters that point at another AMI. */
  overwriteParameters?: boolean;
  /** EC2 and ECR; tests inject clients with small retry settings. Default: real clients with the variant's infra profile. */
  aws?: Aws;
}

export const PUBLISH_DEFAULTS = {
  waitTimeoutSeconds: 60 * 60,
  waitPollSeconds: 15,
  regionConcurrency: 4,
  pushTimeoutMs: 10 * 60_000,
} as const;

/** The build context plus what the steps after render need: settings, the state file, AWS. */
export async function createPublishContext(options: BuildOptions & PublishOptions, io: Io, rollback: Rollback) {
  checkSelection(options);
  const { ctx: base, warnings } = await createBuildContext(options, io, rollback);
  base.adapters.aws = options.aws ?? createAws({ profile: base.variant.infra.profile, signal: rollback.signal });
  if (base.variant.infra.role && !options.dryRun) {
    base.adapters.warn(
      "infra.role is set: pubsys assumes it, but bro shares AMIs and pushes the admin image with your own credentials (or infra.profile). Give that profile a role_arn if the AMIs belong to the role's account.",
    );
  }
  const waitTimeoutSeconds = options.waitTimeoutSeconds ?? PUBLISH_DEFAULTS.waitTimeoutSeconds;
  const waitPollSeconds = options.waitPollSeconds ?? PUBLISH_DEFAULTS.waitPollSeconds;
  if (waitTimeoutSeconds <= waitPollSeconds) {
    throw new UsageError(
      `--wait-timeout (${waitTimeoutSeconds / 60} minutes) must be longer than --wait-poll (${waitPollSeconds} seconds)`,
    );
  }
  const ctx: PublishContext = {
    ...base,
    settings: {
      waitTimeoutSeconds,
      waitPollSeconds,
      regionConcurrency: options.regionConcurrency ?? PUBLISH_DEFAULTS.regionConcurrency,
      pushTimeoutMs: options.pushTimeoutMs ?? PUBLISH_DEFAULTS.pushTimeoutMs,
      manifestPath: options.manifest,
      from: options.from,
      only: options.only,
      overwriteParameters: options.overwriteParameters,
    },
  };
  return { ctx, warnings };
}

/** How a command shows its warnings. */
export interface WarningDisplay {
  /** Plain (CI) output: each warning is printed when it happens, in order with the steps. */
  live?: boolean;
  /** The command's result (a dry run's plan) carries the warnings: on success, do not print them again. */
  inResult?: boolean;
}

/**
 * Runs `fn` holding the workspace lock, under the run's one rollback: Ctrl-C
 * (or SIGTERM, SIGHUP) stops the children, and whatever the steps registered
 * is undone, still under the lock. Every warning is printed once: as it happens
 * with `live`, else after the task list (unless the result carries them).
 * `unshown` are those not printed yet.
 */
export async function withWorkspace<T>(
  options: BuildOptions & PublishOptions,
  io: Io,
  fn: (ctx: PublishContext, signal: AbortSignal) => Promise<T>,
  display: WarningDisplay = {},
): Promise<{ result: T; ctx: PublishContext; warnings: string[]; unshown: string[] }> {
  const rollback = createRollback();
  const { ctx, warnings } = await createPublishContext(options, io, rollback);
  const shown = new Set<string>();
  const show = (warning: string) => {
    if (shown.has(warning)) return;
    shown.add(warning);
    io.stderr.write(`! ${warning}\n`);
  };
  if (display.live) {
    warnings.forEach(show);
    const record = ctx.adapters.warn;
    ctx.adapters.warn = (message) => {
      record(message);
      show(warnings[warnings.length - 1] as string);
    };
  }
  const unshown = () => [...new Set(warnings)].filter((w) => !shown.has(w));
  let ok = false;
  try {
    const lock = await lockWorkspace(ctx.workspace.broDir, {
      killOrphans: options.killOrphans,
      warn: (message) => ctx.adapters.warn(message),
      onLost: (error) => rollback.abandon(error),
    });
    // Once another bro has taken the workspace over, its state file is that bro's: this one writes nothing more.
    ctx.state = createStateStore(ctx.workspace.broDir, { lost: lock.lost });
    if (lock.killed.length)
      ctx.adapters.warn(
        `Stopped what the killed bro left running: ${lock.killed.map((g) => `process group ${g.pgid} (${g.command})`).join(', ')}.`,
      );
    // Every program bro starts is recorded in the lock until it ends.
    ctx.adapters.runner.watchGroups({
      started: (pgid, command) => lock.addGroup(pgid, command),
      ended: (pgid) => lock.removeGroup(pgid),
    });
    try {
      // ECR logins a killed bro left behind: no one else uses them now that this bro holds the lock.
      if (await removeLeftoverConfigs(ctx.workspace.broDir))
        ctx.adapters.warn('Removed the ECR logins (DOCKER_CONFIG) that a killed bro left in the workspace.');
      const result = await rollback.run(ctx.adapters.runner, () => fn(ctx, rollback.signal), lock.lost);
      ok = true;
      return { result, ctx, warnings, unshown: unshown() };
    } finally {
      ctx.adapters.runner.watchGroups(undefined);
      await lock.release();
    }
  } finally {
    if (!(ok && display.inResult)) unshown().forEach(show);
  }
}

export async function runBuild(options: RunBuildOptions, io: Io): Promise<void> {
  const renderer = options.renderer ?? rendererFor(io.stderr, io.env, options.ci);
  const {
    result: { checks, produced },
    ctx,
    warnings,
    unshown,
  } = await withWorkspace(
    options,
    io,
    async (c, signal) => {
      const preflight = preflightOf(c, c.adapters.aws!, options);
      if (options.dryRun) {
        // Warnings in the plan, not a refusal; the checks run while the sources are fetched.
        preflight.catch(() => undefined);
        const outputs = await runPipeline(c, buildStages(), renderer, io.stderr, signal);
        return { checks: await preflight, produced: outputs };
      }
      const results = await preflight;
      io.stderr.write(['Preflight:', ...formatChecks(results, '  '), ''].join('\n'));
      const refused = preflightError(results, options.only);
      if (refused) throw refused;
      return { checks: results, produced: await runPipeline(c, buildStages(), renderer, io.stderr, signal) };
    },
    { live: renderer === 'simple', inResult: options.dryRun },
  );
  if (options.dryRun) {
    const plan = {
      ...makePlan(
        ctx,
        requireOutputs(produced, PLAN_NEEDS, 'the plan'),
        warnings,
        ctx.adapters.redactor,
        await droppedFromShare(ctx),
      ),
      preflight: checks satisfies CheckResult[],
    };
    // The JSON carries every warning; the text plan those not already printed on stderr as they happened.
    io.stdout.write(
      options.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan({ ...plan, warnings: unshown })}\n`,
    );
  } else if (produced.manifest) {
    const { path } = produced.manifest;
    const manifest = await readManifest(path);
    io.stdout.write(options.json ? `${JSON.stringify(manifest, null, 2)}\n` : `${formatManifest(manifest, path)}\n`);
  }
}
