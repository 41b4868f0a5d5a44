import type { AdminImage } from '../step.js';
import { createDocker } from '../../adapters/docker.js';
import { adminImageBuildCommand, adminImageCheckCommand, adminLocalTag } from '../commands-for-build.js';
import { adminImageTag } from '../naming.js';
import type { PipelineStep, PublishContext } from '../step.js';
import { buildInputs } from '../commands-for-build.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

function commands(ctx: PublishContext) {
  const inputs = buildInputs(ctx);
  const tag = adminImageTag(inputs.adminVersion, ctx.version);
  const localTag = adminLocalTag(inputs, tag);
  return {
    tag,
    localTag,
    build: adminImageBuildCommand(inputs, localTag),
    check: adminImageCheckCommand(inputs, localTag),
  };
}

export const adminImageBuildStep: PipelineStep = {
  id: 'admin-image-build',
  title: 'Admin image: build',
  external: true,
  inputs: (ctx) => ({ head: ctx.patchedHeads?.['admin-container'], ...commands(ctx) }),
  restore(ctx, outputs) {
    ctx.out.adminImage = outputs as unknown as AdminImage;
  },
  async run(ctx, task) {
    const { tag, localTag, build, check } = commands(ctx);
    await assertCleanTree(ctx, 'admin-image-build', buildInputs(ctx).adminContainerDir);
    const log = await openLog(ctx, 'admin-image-build');
    const onLine = (line: string) => (task.output = line);
    await runLogged(ctx, 'admin-image-build', build, log, onLine);
    await runLogged(ctx, 'admin-image-build', check, log, onLine);
    const imageId = await createDocker(ctx.adapters.runner).imageId(localTag);
    ctx.out.adminImage = { tag, localTag, imageId };
    task.title = `Admin image: built ${localTag} (${imageId.slice(0, 19)})`;
    return ctx.out.adminImage;
  },
};
