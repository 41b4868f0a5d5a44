import { join } from 'node:path';
import type { Command } from '../adapters/runner.js';
import type { BuildContext } from './context.js';
import type { Needed } from './step.js';
import type { Variant } from '../config/variant.js';
import type { BuildVersion } from '../config/version.js';
import { amiName, dockerArchs } from './naming.js';

/**
 * The external commands of a build, defined once: the dry-run plan prints
 * them and the real steps run them.
 */

export interface BuildInputs {
  variant: Variant;
  version: BuildVersion;
  bottlerocketDir: string;
  adminContainerDir: string;
  adminVersion: string;
  infraPath: string;
}

/** `-e KEY=VALUE` pairs, in the form upstream's docs use (BUILDING.md, PUBLISHING.md). */
function cargoMake(task: string | undefined, vars: Record<string, string>, cwd: string): Command {
  const flags = Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return { argv: ['cargo', 'make', ...flags, ...(task ? [task] : [])], cwd, mode: 'write' };
}

function buildVars(inputs: BuildInputs): Record<string, string> {
  return {
    BUILDSYS_VARIANT: inputs.variant.name,
    BUILDSYS_ARCH: inputs.variant.arch,
    BUILDSYS_VERSION_BUILD: inputs.version.build,
  };
}

/** `cargo make` (the default task, alias of `build`): builds packages and the variant image. */
export function osBuildCommand(inputs: BuildInputs): Command {
  return cargoMake(undefined, buildVars(inputs), inputs.bottlerocketDir);
}

/** `cargo make ami`: registers the AMI in the first region of Infra.toml and copies it to the others. */
export function amiRegisterCommand(inputs: BuildInputs): Command {
  const { variant } = inputs;
  const vars: Record<string, string> = {
    ...buildVars(inputs),
    PUBLISH_INFRA_CONFIG_PATH: inputs.infraPath,
    PUBLISH_REGIONS: variant.regions.join(','),
    PUBLISH_AMI_NAME: amiName(variant, inputs.version),
  };
  if (variant.ami.description) vars.PUBLISH_AMI_DESCRIPTION = variant.ami.description;
  if (variant.ami['data-volume-size'] !== undefined)
    vars.PUBLISH_DATA_VOLUME_SIZE = String(variant.ami['data-volume-size']);
  // pubsys prints progress bars for snapshot uploads; they are noise in a log file.
  vars.NO_PROGRESS = 'true';
  return cargoMake('ami', vars, inputs.bottlerocketDir);
}

/**
 * The admin image build, as bottlerocket-admin-container's Makefile `build`
 * target runs it (Makefile at v0.5.2):
 *   docker build --tag $(IMAGE_NAME) --build-arg IMAGE_VERSION=... --build-arg ARCH=... --build-arg DOCKER_ARCH=... -f Dockerfile .
 */
export function adminImageBuildCommand(inputs: BuildInputs, localTag: string): Command {
  const { ARCH, DOCKER_ARCH } = dockerArchs(inputs.variant.arch);
  return {
    argv: [
      'docker',
      'build',
      '--tag',
      localTag,
      '--build-arg',
      `IMAGE_VERSION=${inputs.adminVersion}`,
      '--build-arg',
      `ARCH=${ARCH}`,
      '--build-arg',
      `DOCKER_ARCH=${DOCKER_ARCH}`,
      '-f',
      join(inputs.adminContainerDir, 'Dockerfile'),
      inputs.adminContainerDir,
    ],
    cwd: inputs.adminContainerDir,
    env: { DOCKER_BUILDKIT: '1' },
    mode: 'write',
  };
}

/**
 * The admin container Makefile's `check` target (check-static-bash: bash must
 * run without shared libraries), against the image just built.
 */
export function adminImageCheckCommand(inputs: BuildInputs, localTag: string): Command {
  const { ARCH, DOCKER_ARCH } = dockerArchs(inputs.variant.arch);
  return {
    argv: ['make', 'check', `IMAGE_NAME=${localTag}`, `ARCH=${ARCH}`, `DOCKER_ARCH=${DOCKER_ARCH}`],
    cwd: inputs.adminContainerDir,
    mode: 'write',
  };
}

/**
 * `docker login` to one ECR registry, as the source document's loop does, but
 * into a per-run DOCKER_CONFIG (never the user's ~/.docker). The password goes
 * on stdin; the runner gets it as `input`, never in argv.
 */
export function dockerLoginCommand(registry: string, dockerConfig: string): Command {
  return {
    argv: ['docker', 'login', '--username', 'AWS', '--password-stdin', registry],
    env: { DOCKER_CONFIG: dockerConfig },
    mode: 'write',
  };
}

export function dockerTagCommand(localTag: string, uri: string): Command {
  return { argv: ['docker', 'tag', localTag, uri], mode: 'write' };
}

/** `docker push`, with the DOCKER_CONFIG that holds the login. Prints `<tag>: digest: sha256:… size: N`. */
export function dockerPushCommand(uri: string, dockerConfig: string): Command {
  return { argv: ['docker', 'push', uri], env: { DOCKER_CONFIG: dockerConfig }, mode: 'write' };
}

/** The local name of the admin image: `bottlerocket-admin-<arch>:<tag>`, like the Makefile's IMAGE_NAME. */
export function adminLocalTag(inputs: BuildInputs, tag: string): string {
  return `bottlerocket-admin-${dockerArchs(inputs.variant.arch).ARCH}:${tag}`;
}

/** The inputs of the build commands, from the outputs of the sources and render steps. */
export function buildInputs(
  ctx: Pick<BuildContext, 'variant' | 'version'>,
  { sources, render }: Needed<'sources' | 'render'>,
): BuildInputs {
  return {
    variant: ctx.variant,
    version: ctx.version,
    bottlerocketDir: sources.sources.bottlerocket.dir,
    adminContainerDir: sources.sources['admin-container'].dir,
    adminVersion: sources.adminVersion,
    infraPath: render.infraPath,
  };
}
