import type { OsImages } from '../step.js';
import { stat } from 'node:fs/promises';
import { osBuildCommand } from '../commands-for-build.js';
import { StepError } from '../../shared/errors.js';
import { imageFiles } from '../naming.js';
import type { PipelineStep } from '../step.js';
import { buildInputs } from '../commands-for-build.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

const STEP = 'os-build';

export const osBuildStep: PipelineStep = {
  id: STEP,
  title: 'OS image: build (cargo make)',
  external: true,
  inputs: (ctx) => ({ head: ctx.patchedHeads?.bottlerocket, command: osBuildCommand(buildInputs(ctx)) }),
  restore(ctx, outputs) {
    ctx.out.osImages = outputs as unknown as OsImages;
  },
  async run(ctx, task) {
    const inputs = buildInputs(ctx);
    await assertCleanTree(ctx, STEP, inputs.bottlerocketDir);
    const log = await openLog(ctx, STEP);
    // The previous build's duration, for the estimate: its record is replaced only when this one ends.
    const previous = await ctx.state.get(STEP);
    await runLogged(ctx, STEP, osBuildCommand(inputs), log, (line) => (task.output = line), {
      previousMs: previous?.status === 'done' ? previous.durationMs : undefined,
    });
    const files = imageFiles(inputs.bottlerocketDir, ctx.variant, ctx.version);
    for (const file of files) {
      const size = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      if (!size) {
        throw new StepError(STEP, `cargo make finished, but ${file} is missing or empty`, {
          hint: `Upstream's Makefile.toml writes it at this path; check BUILDSYS_VARIANT and BUILDSYS_ARCH, and ${log}.`,
        });
      }
    }
    ctx.out.osImages = { files, builtAt: new Date().toISOString() };
    return ctx.out.osImages;
  },
};
