import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Git } from './git.js';
import { redactUrlCredentials } from './redactor.js';

/**
 * The cache of bare mirrors under the user's cache directory. Created by
 * mirroring on first use, updated by fetching. A mirror is cloned into a
 * temporary directory and renamed into place, so an interrupted first clone
 * never leaves a half mirror behind.
 */
export interface Mirrors {
  readonly cacheDir: string;
  pathFor(url: string): string;
  exists(url: string): Promise<boolean>;
  /** Creates the mirror if missing; returns its path and whether it was created. */
  ensure(url: string): Promise<{ path: string; created: boolean }>;
  update(url: string): Promise<void>;
}

export function createMirrors(cacheDir: string, git: Git): Mirrors {
  const pathFor = (url: string) => {
    const clean = redactUrlCredentials(url).replace(/\/+$/, '');
    const name = basename(clean).replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
    const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
    return join(cacheDir, 'mirrors', `${name}-${hash}.git`);
  };
  const exists = async (url: string) =>
    stat(join(pathFor(url), 'HEAD'))
      .then(() => true)
      .catch(() => false);

  return {
    cacheDir,
    pathFor,
    exists,
    async ensure(url) {
      const path = pathFor(url);
      if (await exists(url)) return { path, created: false };
      await mkdir(join(cacheDir, 'mirrors'), { recursive: true });
      const tmp = `${path}.partial-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      try {
        await git.cloneMirror(url, tmp);
        await rename(tmp, path);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return { path, created: true };
    },
    async update(url) {
      await git.fetchMirror(pathFor(url));
    },
  };
}

/** The per-user cache directory, following the platform's convention. */
export function defaultCacheDir(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  if (env.BRO_CACHE_DIR) return env.BRO_CACHE_DIR;
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'bro');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'bro');
}
