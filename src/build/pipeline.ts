import type { PipelineStep, PublishSettings, PublishContext, StepTask } from './step.js';
import type { ListrRendererValue, ListrTask } from 'listr2';
import { InterruptedError, StepError, UsageError } from '../shared/errors.js';
import type { RendererChoice } from './renderer.js';
import { STEP_IDS } from '../config/step-ids.js';
import { digestOf, isDone, stepRecord } from './state.js';
import { adminImageBuildStep } from './steps/admin-image-build.js';
import { adminImagePushStep } from './steps/admin-image-push.js';
import { amiDeprecateStep } from './steps/ami-deprecate.js';
import { amiRegisterStep } from './steps/ami-register.js';
import { manifestStep } from './steps/manifest.js';
import { osBuildStep } from './steps/os-build.js';
import { patchStep } from './steps/patch.js';
import { renderStep } from './steps/render-infra.js';
import { resolveStep } from './steps/resolve.js';
import { shareStep } from './steps/share.js';
import { sourcesStep } from './steps/sources.js';
import { ssmPublishStep } from './steps/ssm-publish.js';
import { verifyStep } from './steps/verify.js';

/**
 * The build pipeline, run by listr2:
 *
 *   resolve → sources → patch → verify → render
 *     → [admin image: build → push to every region]  ‖  [OS: cargo make → cargo make ami]
 *     → share → ami-deprecate → ssm-publish → manifest
 *
 * The admin image is built and pushed while the OS builds; sharing waits for
 * both, because nodes pull the admin image at boot.
 *
 * A step that acts outside the workspace is `external`: a dry run skips it
 * with a reason and it only appears in the plan. A step with `inputs` is
 * recorded in the state file with the digest of its inputs and its outputs:
 * a rerun with the same inputs skips it and restores its outputs; changed
 * inputs (which include earlier steps' outputs) rerun it and what follows.
 */
/** Steps that run side by side: each inner list in order, the lists at the same time. */
export interface ConcurrentStage {
  title: string;
  /** Shown when both lists are done: what the steps after it wait for. */
  gate: string;
  branches: { title: string; steps: PipelineStep[] }[];
}

export type Stage = PipelineStep | ConcurrentStage;

export function buildStages(): Stage[] {
  return [
    resolveStep,
    sourcesStep,
    patchStep,
    verifyStep,
    renderStep,
    {
      title: 'Build and publish the admin image, build and register the OS',
      gate: 'Admin image in every region, AMI registered',
      branches: [
        { title: 'Admin image', steps: [adminImageBuildStep, adminImagePushStep] },
        { title: 'OS image', steps: [osBuildStep, amiRegisterStep] },
      ],
    },
    shareStep,
    amiDeprecateStep,
    ssmPublishStep,
    manifestStep,
  ];
}

const isConcurrent = (stage: Stage): stage is ConcurrentStage => 'branches' in stage;

/** Every step, in the order the issue lists them (admin image before the OS build). */
export function buildSteps(stages: readonly Stage[] = buildStages()): PipelineStep[] {
  return stages.flatMap((stage) => (isConcurrent(stage) ? stage.branches.flatMap((b) => b.steps) : [stage]));
}

const STEPS: readonly string[] = STEP_IDS;

/** Checks --from / --only against the step names. */
export function checkSelection(settings: Pick<PublishSettings, 'from' | 'only'>): void {
  if (settings.from && settings.only) throw new UsageError('--from and --only cannot be used together');
  for (const [flag, id] of [
    ['--from', settings.from],
    ['--only', settings.only],
  ] as const) {
    if (id !== undefined && !STEPS.includes(id)) {
      throw new UsageError(`${flag} ${id}: no such step`, { hint: `Steps: ${STEP_IDS.join(', ')}.` });
    }
  }
}

/**
 * How a step runs, a pure function of the selection (lint-staged style):
 * `run` skips it when the state says it is done; `force` redoes it; `restore`
 * only brings back recorded outputs (--only another step).
 */
export type StepMode = 'run' | 'force' | 'restore';

export function stepMode(
  id: string,
  selection: Pick<PublishSettings, 'from' | 'only'>,
  stages: readonly Stage[] = buildStages(),
): StepMode {
  // The manifest follows share: it says who can launch the AMIs.
  if (selection.only)
    return id === selection.only || (selection.only === 'share' && id === 'manifest') ? 'force' : 'restore';
  if (selection.from && dependsOn(id, selection.from, stages)) return 'force';
  return 'run';
}

/**
 * Whether step `id` is `from` or comes after it. The admin image and the OS
 * branches run side by side: --from a step of one does not redo the other
 * (--from admin-image-push does not rebuild the OS).
 */
function dependsOn(id: string, from: string, stages: readonly Stage[]): boolean {
  if (STEPS.indexOf(id) < STEPS.indexOf(from)) return false;
  const branchOf = (step: string) =>
    stages
      .filter(isConcurrent)
      .flatMap((stage) => stage.branches)
      .find((b) => b.steps.some((s) => s.id === step));
  const [a, b] = [branchOf(id), branchOf(from)];
  return !(a && b && a !== b);
}

export async function runPipeline(
  ctx: PublishContext,
  stages: readonly Stage[],
  renderer: RendererChoice,
  output: NodeJS.WritableStream,
  signal: AbortSignal = new AbortController().signal,
): Promise<void> {
  const [{ Listr }, { listrOptions }] = await Promise.all([import('listr2'), import('./renderer.js')]);
  // Failures of the side-by-side branches: they run to the end, then the gate after them reports.
  const failures: unknown[] = [];
  const throwIfFailed = () => {
    // An interruption wins: the other branch's failure is most likely its consequence.
    const interrupted = failures.find((f) => f instanceof InterruptedError);
    if (interrupted) throw interrupted;
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const lines = failures.map((f) => `  ✖ ${f instanceof Error ? f.message.split('\n')[0] : String(f)}`);
      throw new StepError('build', `${failures.length} steps failed:\n${lines.join('\n')}`, {
        cause: failures[0],
        hint: 'Fix the causes and rerun: finished steps are not redone.',
      });
    }
  };
  // bro's parent now: when it exits (a cancelled CI job kills npm and the shell, not bro), bro is re-parented.
  const parentPid = process.ppid;
  // Plain (CI) output prints every progress line: one every few seconds is enough there, the log file has them all.
  const progressEveryMs = renderer === 'simple' ? PLAIN_PROGRESS_EVERY_MS : 0;
  const stepTask = (step: PipelineStep, collect: boolean): ListrTask<PublishContext> => ({
    title: step.title,
    skip: (c) => (step.external && c.options.dryRun ? DRY_RUN_SKIP : false),
    task: async (c, task) => {
      try {
        await runStep(step, c, task, throttled(task, progressEveryMs), signal, parentPid);
      } catch (error) {
        if (collect) failures.push(error);
        // The task list marks the step failed; the error itself is printed once, at the end.
        throw new Failed(error);
      }
    },
  });
  const stageTask = (stage: ConcurrentStage): ListrTask<PublishContext> => ({
    title: stage.title,
    // A dry run executes none of it: one skipped line, and no gate saying it happened.
    skip: (c) =>
      c.options.dryRun && stage.branches.every((b) => b.steps.every((s) => s.external)) ? DRY_RUN_SKIP : false,
    task: (_c, task) =>
      task.newListr(
        [
          {
            // Untitled: its branches show directly under the stage.
            task: (_c2, sub) =>
              sub.newListr(
                stage.branches.map((branch) => ({
                  title: branch.title,
                  task: (_c3, b) =>
                    b.newListr(
                      branch.steps.map((s) => stepTask(s, true)),
                      { concurrent: false, exitOnError: true },
                    ),
                })),
                // Options are inherited: say it for every level.
                { concurrent: true, exitOnError: false },
              ),
          },
          {
            title: stage.gate,
            task: () => {
              if (failures.length) throw new BranchFailed(failures);
            },
          },
        ],
        { concurrent: false, exitOnError: true },
      ),
  });
  const tasks = stages.map((stage) => (isConcurrent(stage) ? stageTask(stage) : stepTask(stage, false)));
  const list = new Listr<PublishContext, ListrRendererValue, 'simple'>(tasks, {
    ...(await listrOptions(renderer, output)),
    ctx,
  });
  try {
    await list.run();
  } catch (error) {
    // The gate only says that a branch failed; report the branch's own error.
    if (error instanceof Failed && !failures.includes(error.error)) throw error.error;
    if (!(error instanceof BranchFailed) && !(error instanceof Failed)) throw error;
  }
  throwIfFailed();
}

/** What the task list shows for a failed step: the error follows once, after the list. */
class Failed extends Error {
  constructor(readonly error: unknown) {
    super('see the error below');
  }
}

const PLAIN_PROGRESS_EVERY_MS = 10_000;

/** A skipped step's line already shows its title: the reason says only why. */
const DRY_RUN_SKIP = '[Dry run] not executed, see the plan';

/** Raised by the gate after side-by-side branches; its message is short, the branches' errors were shown above it. */
class BranchFailed extends Error {
  constructor(failures: readonly unknown[]) {
    super(`${failures.length === 1 ? 'a step' : `${failures.length} steps`} above failed`);
  }
}

/** The task as a step sees it, with progress lines at most one per `everyMs`. */
function throttled(task: StepTask, everyMs: number): StepTask {
  let last = 0;
  return {
    get title() {
      return task.title;
    },
    set title(title: string) {
      task.title = title;
    },
    get output() {
      return task.output;
    },
    set output(line: string) {
      const now = Date.now();
      if (now - last < everyMs) return;
      last = now;
      task.output = line;
    },
  };
}

/** Runs one step: skipped when done, recorded when it finishes, fails or is interrupted. */
async function runStep(
  step: PipelineStep,
  ctx: PublishContext,
  task: { skip(message: string): void },
  progress: StepTask,
  signal: AbortSignal,
  parentPid: number,
): Promise<void> {
  signal.throwIfAborted();
  // Checked at each step boundary: a bro whose parent died was cancelled and goes no further.
  if (process.ppid !== parentPid) {
    throw new InterruptedError(
      `bro's parent process (pid ${parentPid}) exited, so bro stops before: ${step.title} (was the CI job cancelled?)`,
    );
  }
  const mode = stepMode(step.id, ctx.settings);
  const inputs = step.inputs ? digestOf(await step.inputs(ctx)) : '';
  if (step.inputs && mode !== 'force') {
    const record = await ctx.state.get(step.id);
    if (isDone(record, inputs)) {
      step.restore?.(ctx, record.outputs);
      task.skip(`done ${record.finishedAt}, inputs unchanged`);
      return;
    }
  }
  if (mode === 'restore' && (step.inputs || step.external)) {
    task.skip(`not run (--only ${ctx.settings.only})`);
    return;
  }
  const started = new Date();
  try {
    const outputs = await step.run(ctx, progress, { signal, force: mode === 'force' });
    if (step.inputs)
      await ctx.state.put(step.id, stepRecord('done', inputs, (outputs ?? {}) as Record<string, unknown>, started));
  } catch (error) {
    const interrupted = signal.aborted || error instanceof InterruptedError;
    if (step.inputs || interrupted)
      await ctx.state.put(step.id, stepRecord(interrupted ? 'interrupted' : 'failed', inputs, {}, started));
    if (interrupted && !(error instanceof InterruptedError))
      throw new InterruptedError(`Interrupted during ${step.title}`, { cause: error });
    throw error;
  }
}
