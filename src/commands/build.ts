import { join } from 'node:path';
import { createAws, type Aws } from '../adapters/aws.js';
import { createAdapters } from '../adapters/index.js';
import { removeLeftoverConfigs } from '../adapters/docker.js';
import { lockWorkspace } from '../adapters/workspace-lock.js';
import type { Io } from '../cli.js';
import { parseVersion } from '../config/version.js';
import type { BuildContext, BuildOptions } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { buildStages, checkSelection, runPipeline, type PublishContext } from '../pipeline.js';
import { formatPlan, makePlan } from '../plan.js';
import { chooseRenderer, type RendererChoice } from '../renderer.js';
import { createStateStore } from '../state.js';
import { readManifest } from '../steps/manifest.js';
import { droppedFromShare } from '../steps/share.js';
import { workDirFor } from './common.js';
import { formatManifest } from './manifest.js';

export interface RunBuildOptions extends BuildOptions, PublishOptions {
  ci: boolean;
  /** Tests pass 'silent'; otherwise chosen from the terminal. */
  renderer?: RendererChoice;
}

/** Creates the context every build-like command starts from. Config errors surface here, before any output. */
export async function createBuildContext(options: BuildOptions, io: Io) {
  const version = parseVersion(options.version);
  const adapters = createAdapters({ ...options, env: io.env, stderr: io.stderr });
  const variant = await adapters.project.readVariant(options.variant);
  const root = workDirFor(options, variant.name);
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
  };
  return { ctx, warnings: adapters.warnings };
}

/**
 * Stops the children and marks the run interrupted on SIGINT/SIGTERM. Steps
 * restore what they own (the patch step resets the checkout) as the error
 * unwinds. Returns the function that removes the handlers.
 */
export function onInterrupt(ctx: BuildContext, abort: AbortController): () => void {
  const handler = (signal: NodeJS.Signals) => {
    abort.abort(new InterruptedError(`Interrupted by ${signal}`));
    ctx.adapters.runner.killAll(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Options of `bro build` beyond the foundation's; the defaults are the CLI's. */
export interface PublishOptions {
  from?: string;
  only?: string;
  /** Write the manifest here instead of `<work>/manifest.json`. */
  manifest?: string;
  waitTimeoutSeconds?: number;
  waitPollSeconds?: number;
  regionConcurrency?: number;
  /** Stop the programs a killed bro left running in this workspace (recorded in its lock) before starting. */
  killOrphans?: boolean;
  /** EC2 and ECR; tests inject clients with small retry settings. Default: real clients with the variant's infra profile. */
  aws?: Aws;
}

export const PUBLISH_DEFAULTS = { waitTimeoutSeconds: 60 * 60, waitPollSeconds: 15, regionConcurrency: 4 } as const;

/** The build context plus what the steps after render need: settings, the state file, AWS. */
export async function createPublishContext(options: BuildOptions & PublishOptions, io: Io, signal: AbortSignal) {
  checkSelection(options);
  const { ctx: base, warnings } = await createBuildContext(options, io);
  base.adapters.aws = options.aws ?? createAws({ profile: base.variant.infra.profile, signal });
  if (base.variant.infra.role && !options.dryRun) {
    base.adapters.warn(
      'infra.role is set: pubsys assumes it, but bro shares AMIs and pushes the admin image with your own credentials (or infra.profile). Give that profile a role_arn if the AMIs belong to the role\'s account.',
    );
  }
  const waitTimeoutSeconds = options.waitTimeoutSeconds ?? PUBLISH_DEFAULTS.waitTimeoutSeconds;
  const waitPollSeconds = options.waitPollSeconds ?? PUBLISH_DEFAULTS.waitPollSeconds;
  if (waitTimeoutSeconds <= waitPollSeconds) {
    throw new UsageError(`--wait-timeout (${waitTimeoutSeconds / 60} minutes) must be longer than --wait-poll (${waitPollSeconds} seconds)`);
  }
  const ctx: PublishContext = {
    ...base,
    settings: {
      waitTimeoutSeconds,
      waitPollSeconds,
      regionConcurrency: options.regionConcurrency ?? PUBLISH_DEFAULTS.regionConcurrency,
      manifestPath: options.manifest,
      from: options.from,
      only: options.only,
    },
    out: {},
  };
  return { ctx, warnings };
}

/**
 * Runs `fn` holding the workspace lock, with Ctrl-C stopping the children;
 * warnings are printed at the end, whatever happened.
 */
export async function withWorkspace<T>(
  options: BuildOptions & PublishOptions,
  io: Io,
  fn: (ctx: PublishContext, signal: AbortSignal) => Promise<T>,
): Promise<{ result: T; ctx: PublishContext; warnings: string[] }> {
  const abort = new AbortController();
  const { ctx, warnings } = await createPublishContext(options, io, abort.signal);
  const lock = await lockWorkspace(ctx.workspace.broDir, { killOrphans: options.killOrphans });
  if (lock.stale) ctx.adapters.warn(`Took over the workspace lock left by pid ${lock.stale.pid}, which is no longer running (was a build killed?).`);
  if (lock.killed.length) ctx.adapters.warn(`Stopped what the killed bro left running: ${lock.killed.map((g) => `process group ${g.pgid} (${g.command})`).join(', ')}.`);
  // Every program bro starts is recorded in the lock until it ends.
  ctx.adapters.runner.watchGroups({ started: (pgid, command) => lock.addGroup(pgid, command), ended: (pgid) => lock.removeGroup(pgid) });
  const removeHandlers = onInterrupt(ctx, abort);
  try {
    // ECR logins a killed bro left behind: no one else uses them now that this bro holds the lock.
    if (await removeLeftoverConfigs(ctx.workspace.broDir)) ctx.adapters.warn('Removed the ECR logins (DOCKER_CONFIG) that a killed bro left in the workspace.');
    return { result: await fn(ctx, abort.signal), ctx, warnings };
  } finally {
    removeHandlers();
    ctx.adapters.runner.watchGroups(undefined);
    await lock.release();
    for (const warning of warnings) io.stderr.write(`! ${warning}\n`);
  }
}

export async function runBuild(options: RunBuildOptions, io: Io): Promise<void> {
  const renderer = options.renderer ?? chooseRenderer({ ci: options.ci, silent: false, isTTY: Boolean((io.stderr as NodeJS.WriteStream).isTTY), env: io.env });
  const { ctx, warnings } = await withWorkspace(options, io, (c, signal) => runPipeline(c, buildStages(), renderer, io.stderr, signal));
  if (options.dryRun) {
    const plan = makePlan(ctx, warnings, ctx.adapters.redactor, await droppedFromShare(ctx));
    io.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
  } else if (ctx.out.manifestPath) {
    const manifest = await readManifest(ctx.out.manifestPath);
    io.stdout.write(options.json ? `${JSON.stringify(manifest, null, 2)}\n` : `${formatManifest(manifest, ctx.out.manifestPath)}\n`);
  }
}
