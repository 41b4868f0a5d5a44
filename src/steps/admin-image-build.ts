import { createDocker } from '../adapters/docker.js';
import { adminImageBuildCommand, adminImageCheckCommand, adminLocalTag } from '../commands-for-build.js';
import { adminImageTag } from '../naming.js';
import type { PipelineStep, PublishContext } from '../pipeline.js';
import { buildInputs } from '../plan.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

/**
 * Admin image, build: `docker build` in the patched admin-container checkout
 * with the build args its Makefile passes (IMAGE_VERSION, ARCH, DOCKER_ARCH),
 * then the Makefile's own `check` target against the image. Outputs the local
 * tag and the image ID, which the push step's state depends on.
 */
export interface AdminImage {
  /** `v0.5.2-hc1`: the tag pushed to every region. */
  tag: string;
  /** `bottlerocket-admin-amd64:v0.5.2-hc1` */
  localTag: string;
  /** `sha256:…` of the local image. */
  imageId: string;
}

function commands(ctx: PublishContext) {
  const inputs = buildInputs(ctx);
  const tag = adminImageTag(inputs.adminVersion, ctx.version);
  const localTag = adminLocalTag(inputs, tag);
  return { tag, localTag, build: adminImageBuildCommand(inputs, localTag), check: adminImageCheckCommand(inputs, localTag) };
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
