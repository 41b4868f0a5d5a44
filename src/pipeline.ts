import type { BuildContext } from './context.js';
import { patchStep } from './steps/patch.js';
import { renderStep } from './steps/render-infra.js';
import { resolveStep } from './steps/resolve.js';
import { sourcesStep } from './steps/sources.js';
import type { RendererChoice } from './renderer.js';

/**
 * The build pipeline: an ordered list of steps, each in its own file, run by
 * listr2. A step that acts outside the workspace is `external`: a dry run
 * skips it with a reason and it only appears in the plan.
 */
export interface StepTask {
  /** The progress line under the task title. */
  output: string;
  title: string;
}

export interface Step {
  id: string;
  title: string;
  external: boolean;
  run(ctx: BuildContext, task: StepTask): Promise<void>;
}

export function buildSteps(): Step[] {
  return [resolveStep, sourcesStep, patchStep, renderStep];
}

export async function runPipeline(
  ctx: BuildContext,
  steps: readonly Step[],
  renderer: RendererChoice,
  output: NodeJS.WritableStream,
  signal?: AbortSignal,
): Promise<void> {
  const [{ Listr }, { listrOptions }] = await Promise.all([import('listr2'), import('./renderer.js')]);
  const list = new Listr<BuildContext, 'default' | 'simple' | 'silent', 'simple'>(
    steps.map((step) => ({
      title: step.title,
      skip: (c: BuildContext) => (step.external && c.options.dryRun ? `[Dry run] ${step.title}: not executed, see the plan` : false),
      task: async (c: BuildContext, task) => {
        signal?.throwIfAborted();
        await step.run(c, task);
      },
    })),
    { ...(await listrOptions(renderer, output)), ctx },
  );
  await list.run();
}
