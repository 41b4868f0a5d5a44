import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runner } from './runner.js';

/**
 * Docker, through the runner: what bro reads from docker, and the per-run
 * DOCKER_CONFIG directories logins go into (0700, removed afterwards), never
 * the user's ~/.docker. The commands that change things (build, login, tag,
 * push) are defined in commands-for-build.ts, for the plan and the steps alike.
 */
export interface Docker {
  /** A fresh 0700 directory for DOCKER_CONFIG; `remove()` deletes it with the logins in it. */
  configDir(): Promise<DockerConfigDir>;
  /** `sha256:…` of a local image. */
  imageId(ref: string): Promise<string>;
  /** The registry digests a local image is known under (`registry/repo@sha256:…`). */
  repoDigests(ref: string): Promise<string[]>;
}

export interface DockerConfigDir {
  path: string;
  /** One directory per registry: concurrent logins never rewrite the same config.json. */
  forRegistry(registry: string): Promise<string>;
  remove(): Promise<void>;
}

export function createDocker(runner: Runner): Docker {
  const inspect = async (ref: string, format: string) =>
    (await runner.run({ argv: ['docker', 'image', 'inspect', '--format', format, ref], mode: 'read' })).stdout.trim();
  return {
    async configDir() {
      const path = await mkdtemp(join(tmpdir(), 'bro-docker-'));
      await chmod(path, 0o700);
      return {
        path,
        async forRegistry(registry) {
          const dir = join(path, registry.replace(/[^A-Za-z0-9.-]/g, '_'));
          await mkdir(dir, { recursive: true, mode: 0o700 });
          return dir;
        },
        remove: () => rm(path, { recursive: true, force: true }),
      };
    },
    imageId: (ref) => inspect(ref, '{{.Id}}'),
    async repoDigests(ref) {
      return (JSON.parse((await inspect(ref, '{{json .RepoDigests}}')) || 'null') as string[] | null) ?? [];
    },
  };
}

/** The digest in `docker push` output: `v0.5.2-hc1: digest: sha256:… size: 528`. */
export function pushedDigest(output: string): string | undefined {
  return /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1];
}
