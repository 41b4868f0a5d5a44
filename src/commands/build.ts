import { join } from 'node:path';
import { createAdapters } from '../adapters/index.js';
import { parseVersion } from '../config/version.js';
import type { BuildContext, BuildOptions } from '../context.js';
import { InterruptedError } from '../errors.js';
import { buildSteps, runPipeline } from '../pipeline.js';
import { formatPlan, makePlan } from '../plan.js';
import { chooseRenderer, type RendererChoice } from '../renderer.js';
import type { Io } from '../cli.js';
import { workDirFor } from './common.js';

export interface RunBuildOptions extends BuildOptions {
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

export async function runBuild(options: RunBuildOptions, io: Io): Promise<void> {
  const { ctx, warnings } = await createBuildContext(options, io);
  const renderer = options.renderer ?? chooseRenderer({ ci: options.ci, silent: false, isTTY: Boolean((io.stderr as NodeJS.WriteStream).isTTY), env: io.env });
  const abort = new AbortController();
  const removeHandlers = onInterrupt(ctx, abort);
  try {
    await runPipeline(ctx, buildSteps(), renderer, io.stderr, abort.signal);
  } finally {
    removeHandlers();
    for (const warning of warnings) io.stderr.write(`! ${warning}\n`);
  }
  if (options.dryRun) {
    const plan = makePlan(ctx, warnings, ctx.adapters.redactor);
    io.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
  }
}
