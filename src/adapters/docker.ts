import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Runner } from './runner.js';

/**
 * Docker, through the runner: what bro reads from docker, and the per-run
 * DOCKER_CONFIG directories logins go into, never the user's ~/.docker. They
 * live under the workspace's `.bro/docker/` (0700): each is removed when its
 * push ends, and whatever a killed bro left there is removed by the next run
 * as soon as it holds the workspace lock (`removeLeftoverConfigs`). The
 * commands that change things (build, login, tag, push) are defined in
 * commands-for-build.ts, for the plan and the steps alike.
 */
export interface Docker {
  /** A fresh 0700 directory for DOCKER_CONFIG under `<broDir>/docker/`; `remove()` deletes it with the logins in it. */
  configDir(broDir: string): Promise<DockerConfigDir>;
  /** `sha256:…` of a local image. */
  imageId(ref: string): Promise<string>;
  /** The registry digests a local image is known under (`registry/repo@sha256:…`). */
  repoDigests(ref: string): Promise<string[]>;
}

export interface DockerConfigDir {
  path: string;
  /** One directory per registry: concurrent logins never rewrite the same config.json. */
  forRegistry(registry: string): Promise<string>;
  /** Deletes one registry's directory (its login) once its push is over. */
  removeRegistry(registry: string): Promise<void>;
  remove(): Promise<void>;
}

export function createDocker(runner: Runner): Docker {
  const inspect = async (ref: string, format: string) =>
    (await runner.run({ argv: ['docker', 'image', 'inspect', '--format', format, ref], mode: 'read' })).stdout.trim();
  return {
    async configDir(broDir) {
      const parent = dockerConfigsDir(broDir);
      await mkdir(parent, { recursive: true, mode: 0o700 });
      await chmod(parent, 0o700);
      const path = await mkdtemp(join(parent, 'run-'));
      await chmod(path, 0o700);
      const dirOf = (registry: string) => join(path, registry.replace(/[^A-Za-z0-9.-]/g, '_'));
      return {
        path,
        async forRegistry(registry) {
          const dir = dirOf(registry);
          await mkdir(dir, { recursive: true, mode: 0o700 });
          return dir;
        },
        removeRegistry: (registry) => rm(dirOf(registry), { recursive: true, force: true }),
        remove: () => rm(path, { recursive: true, force: true }),
      };
    },
    imageId: (ref) => inspect(ref, '{{.Id}}'),
    async repoDigests(ref) {
      const text = await inspect(ref, '{{json .RepoDigests}}');
      return RepoDigests.parse(JSON.parse(text || 'null')) ?? [];
    },
  };
}

/** `docker image inspect --format '{{json .RepoDigests}}'`: a list of `name@sha256:…`, or null for a local-only image. */
const RepoDigests = z.array(z.string()).nullable();

const dockerConfigsDir = (broDir: string) => join(broDir, 'docker');

/**
 * Removes the DOCKER_CONFIG directories (with their ECR logins) that a killed
 * bro left in the workspace. Only the lock holder calls it: no other bro, and
 * no orphaned `docker push`, uses them any more. Returns whether there were any.
 */
export async function removeLeftoverConfigs(broDir: string): Promise<boolean> {
  const left = await readdir(dockerConfigsDir(broDir)).catch(() => []);
  await rm(dockerConfigsDir(broDir), { recursive: true, force: true });
  return left.length > 0;
}

/** The digest in `docker push` output: `v0.5.2-hc1: digest: sha256:… size: 528`. */
export function pushedDigest(output: string): string | undefined {
  return /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1];
}
