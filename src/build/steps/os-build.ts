import { z } from 'zod';
import { stat } from 'node:fs/promises';
import { osBuildCommand } from '../commands-for-build.js';
import { StepError } from '../../shared/errors.js';
import { imageFiles } from '../naming.js';
import { defineStep } from '../step.js';
import { buildInputs } from '../commands-for-build.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

const STEP = 'os-build';

export const osBuildStep = defineStep({
  id: STEP,
  title: 'OS image: build (cargo make)',
  external: true,
  needs: ['sources', 'patch', 'render'],
  inputs: (ctx, input) => ({
    head: input.patch.patchedHeads.bottlerocket,
    command: osBuildCommand(buildInputs(ctx, input)),
  }),
  outputs: z.object({ files: z.array(z.string()), builtAt: z.string() }),
  async run(ctx, input, task) {
    const inputs = buildInputs(ctx, input);
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
    return { files, builtAt: new Date().toISOString() };
  },
});
