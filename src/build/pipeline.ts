import type { PublishContext, PublishSettings, Step, StepOutputs, StepTask } from './step.js';
import type { ListrRendererValue, ListrTask } from 'listr2';
import { InterruptedError, StepError, UsageError } from '../shared/errors.js';
import type { RendererChoice } from './renderer.js';
import { STEP_IDS, type StepId } from '../config/step-ids.js';
import { throwFailure } from '../shared/concurrency.js';
import { checkDone, stepRecord } from './state.js';
import { needsError, pickOutputs } from './steps/requires.js';
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
 * a rerun with the same inputs skips it and restores its outputs (parsed
 * with its schema); changed inputs (which include earlier steps' outputs)
 * rerun it and what follows. Each step is handed the outputs of the steps it
 * needs, and `stages()` accepts a step only after those steps.
 */
/** Steps that run side by side: each inner list in order, the lists at the same time. */
export interface ConcurrentStage {
  title: string;
  /** Shown when both lists are done: what the steps after it wait for. */
  gate: string;
  branches: { title: string; steps: Step[] }[];
}

export type Stage = Step | ConcurrentStage;

/**
 * The stages of a pipeline, built in order. `Have` is the steps already in
 * it: a step is accepted only when every step it needs is among them, so a
 * pipeline where a step would read an output no earlier step makes does not
 * compile. A branch of a side-by-side stage sees only the steps before the
 * stage and its own, never the other branch's.
 */
export interface Stages<Have extends StepId> {
  readonly list: readonly Stage[];
  then<Id extends StepId, N extends Have>(step: Step<Id, N>): Stages<Have | Id>;
  sideBySide<A extends StepId, B extends StepId>(
    title: string,
    gate: string,
    a: Branch<Have, A>,
    b: Branch<Have, B>,
  ): Stages<A | B>;
}

interface Branch<Have extends StepId, Out extends StepId> {
  title: string;
  steps: (start: Stages<Have>) => Stages<Out>;
}

export function stages<Have extends StepId = never>(list: readonly Stage[] = []): Stages<Have> {
  return {
    list,
    then: (step) => stages([...list, step as Step]),
    sideBySide: (title, gate, a, b) =>
      stages([
        ...list,
        {
          title,
          gate,
          branches: [a, b].map((branch) => ({
            title: branch.title,
            steps: branch.steps(stages<Have>()).list as Step[],
          })),
        },
      ]),
  };
}

export function buildStages(): readonly Stage[] {
  return stages()
    .then(resolveStep)
    .then(sourcesStep)
    .then(patchStep)
    .then(verifyStep)
    .then(renderStep)
    .sideBySide(
      'Build and publish the admin image, build and register the OS',
      'Admin image in every region, AMI registered',
      { title: 'Admin image', steps: (s) => s.then(adminImageBuildStep).then(adminImagePushStep) },
      { title: 'OS image', steps: (s) => s.then(osBuildStep).then(amiRegisterStep) },
    )
    .then(shareStep)
    .then(amiDeprecateStep)
    .then(ssmPublishStep)
    .then(manifestStep).list;
}

/** What `bro preview` runs: the sources, patched and verified, as a dry-run build has them. */
export function previewStages(): readonly Stage[] {
  return stages().then(resolveStep).then(sourcesStep).then(patchStep).then(verifyStep).list;
}

const isConcurrent = (stage: Stage): stage is ConcurrentStage => 'branches' in stage;

/** Every step, in pipeline order (the admin image branch before the OS branch). */
export function buildSteps(stages: readonly Stage[] = buildStages()): Step[] {
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

/**
 * Runs the stages; returns what the steps produced (ran or restored). A step
 * that did neither (a dry run's external steps, those --only leaves out) has no entry.
 */
export async function runPipeline(
  ctx: PublishContext,
  stages: readonly Stage[],
  renderer: RendererChoice,
  output: NodeJS.WritableStream,
  signal: AbortSignal = new AbortController().signal,
): Promise<Partial<StepOutputs>> {
  const produced: Partial<StepOutputs> = {};
  const [{ Listr }, { listrOptions }] = await Promise.all([import('listr2'), import('./renderer.js')]);
  // Failures of the side-by-side branches: they run to the end, then the gate after them reports.
  const failures: unknown[] = [];
  // bro's parent at the start: when it exits (a cancelled CI job kills npm and the shell, not bro), bro is re-parented.
  const parentPid = process.ppid;
  // Plain (CI) output prints every progress line: one every few seconds is enough there, the log file has them all.
  const progressEveryMs = renderer === 'simple' ? PLAIN_PROGRESS_EVERY_MS : 0;
  const stepTask = (step: Step, collect: boolean): ListrTask<PublishContext> => ({
    title: step.title,
    skip: (c) => (step.external && c.options.dryRun ? DRY_RUN_SKIP : false),
    task: async (c, task) => {
      try {
        await runStep(step, c, produced, task, throttled(task, progressEveryMs), signal, parentPid);
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
  throwFailure(failures, (all) => {
    if (all.length === 1) return all[0];
    const lines = all.map((f) => `  ✖ ${f instanceof Error ? f.message.split('\n')[0] : String(f)}`);
    return new StepError('build', `${all.length} steps failed:\n${lines.join('\n')}`, {
      cause: all[0],
      hint: 'Fix the causes and rerun: finished steps are not redone.',
    });
  });
  return produced;
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
async function runStep<Id extends StepId>(
  step: Step<Id>,
  ctx: PublishContext,
  produced: Partial<StepOutputs>,
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
  const picked = pickOutputs(produced, step.needs);
  if (picked.missing) {
    if (mode === 'restore') return task.skip(`not run (--only ${ctx.settings.only})`);
    throw needsError(step.id, picked.missing);
  }
  const { input } = picked;
  let digest = '';
  if (step.inputs) {
    const verify = step.verify?.bind(step);
    const check = await checkDone<StepOutputs[Id]>(ctx.state, step.id, {
      inputs: await step.inputs(ctx, input),
      outputs: step.outputs,
      force: mode === 'force',
      verify: verify && ((outputs) => verify(ctx, outputs)),
    });
    if (check.done) {
      produced[step.id] = check.done.outputs;
      return task.skip(`done ${check.done.finishedAt}, inputs unchanged${verify ? ', verified' : ''}`);
    }
    digest = check.digest;
  }
  if (mode === 'restore' && (step.inputs || step.external)) return task.skip(`not run (--only ${ctx.settings.only})`);
  const started = new Date();
  try {
    const outputs = await step.run(ctx, input, progress, { signal, force: mode === 'force' });
    // A step without inputs is recorded only when it was interrupted or failed: its success replaces that record.
    if (step.inputs || (await ctx.state.get(step.id)))
      await ctx.state.put(step.id, stepRecord('done', digest, outputs, started));
    produced[step.id] = outputs;
  } catch (error) {
    const interrupted = signal.aborted || error instanceof InterruptedError;
    if (step.inputs || interrupted)
      await ctx.state.put(step.id, stepRecord(interrupted ? 'interrupted' : 'failed', digest, {}, started));
    if (interrupted && !(error instanceof InterruptedError))
      throw new InterruptedError(`Interrupted during ${step.title}`, { cause: error });
    throw error;
  }
}
