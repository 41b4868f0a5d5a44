import { z } from 'zod';
import { createDocker } from '../../adapters/docker.js';
import { adminImageBuildCommand, adminImageCheckCommand, adminLocalTag } from '../commands-for-build.js';
import { adminImageTag } from '../naming.js';
import { defineStep, type Needed, type PublishContext } from '../step.js';
import { buildInputs } from '../commands-for-build.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

function commands(ctx: PublishContext, input: Needed<'sources' | 'render'>) {
  const inputs = buildInputs(ctx, input);
  const tag = adminImageTag(inputs.adminVersion, ctx.version);
  const localTag = adminLocalTag(inputs, tag);
  return {
    tag,
    localTag,
    build: adminImageBuildCommand(inputs, localTag),
    check: adminImageCheckCommand(inputs, localTag),
  };
}

export const adminImageBuildStep = defineStep({
  id: 'admin-image-build',
  title: 'Admin image: build',
  external: true,
  needs: ['sources', 'patch', 'render'],
  inputs: (ctx, input) => ({ head: input.patch.patchedHeads['admin-container'], ...commands(ctx, input) }),
  outputs: z.object({ tag: z.string(), localTag: z.string(), imageId: z.string() }),
  async run(ctx, input, task) {
    const { tag, localTag, build, check } = commands(ctx, input);
    await assertCleanTree(ctx, 'admin-image-build', buildInputs(ctx, input).adminContainerDir);
    const log = await openLog(ctx, 'admin-image-build');
    const onLine = (line: string) => (task.output = line);
    await runLogged(ctx, 'admin-image-build', build, log, onLine);
    await runLogged(ctx, 'admin-image-build', check, log, onLine);
    const imageId = await createDocker(ctx.adapters.runner).imageId(localTag);
    task.title = `Admin image: built ${localTag} (${imageId.slice(0, 19)})`;
    return { tag, localTag, imageId };
  },
});
