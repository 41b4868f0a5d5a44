import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StepError, UsageError } from '../shared/errors.js';
import { createByRename, PARTIAL } from './fs.js';
import { withMirrorLock } from './locks/mirror-lock.js';
import type { Git } from './git.js';
import { redactUrlCredentials } from './redactor.js';

/**
 * The cache of bare mirrors under the user's cache directory, shared by every
 * bro on the machine (a CI matrix runs several at once). Each mirror is
 * created and fetched under its own lock (`<mirror>.lock`, locks/mirror-lock.ts):
 * a second bro waits, then reuses what the first made. Created by mirroring on
 * first use (into a temporary directory renamed into place, so an interrupted
 * clone never leaves half a mirror), updated by fetching. A bro that was
 * stopped past the lock's stale period and finds its lock taken over goes on
 * with what the other bro made instead of failing.
 */
export interface Mirrors {
  readonly cacheDir: string;
  pathFor(url: string): string;
  exists(url: string): Promise<boolean>;
  /** Creates the mirror if missing; returns its path and whether it was created. */
  ensure(url: string, onProgress?: (line: string) => void): Promise<{ path: string; created: boolean }>;
  /** Fetches into the mirror; with `needed`, only when it still says so once the lock is held (another bro may have fetched meanwhile). */
  update(url: string, needed?: (path: string) => Promise<boolean>, onProgress?: (line: string) => void): Promise<void>;
}

export function createMirrors(cacheDir: string, git: Git, warn: (message: string) => void = () => undefined): Mirrors {
  const pathFor = (url: string) => {
    const clean = redactUrlCredentials(url).replace(/\/+$/, '');
    const name =
      basename(clean)
        .replace(/\.git$/, '')
        .replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
    const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
    return join(cacheDir, 'mirrors', `${name}-${hash}.git`);
  };
  const exists = (url: string) => isDir(join(pathFor(url), 'HEAD'), false);
  /** Runs `work` under the mirror's lock; if it fails after the lock was taken over, once more under the lock. */
  const locked = async <T>(url: string, work: (path: string) => Promise<T>): Promise<T> => {
    const path = pathFor(url);
    await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
      throw cacheDirError(cacheDir, error);
    });
    const attempt = () =>
      withMirrorLock<T | typeof LOST>(
        `${path}.lock`,
        (lost) => work(path).catch((error: unknown) => (lost() ? LOST : Promise.reject(error))),
        { warn },
      ).catch((error: unknown) => {
        throw isPermissionError(error) ? cacheDirError(cacheDir, error) : error;
      });
    const first = await attempt();
    const result = first === LOST ? await attempt() : first;
    if (result === LOST)
      throw new StepError('mirror', `Another bro took over ${path}.lock twice while this one worked`, {
        hint: 'This bro was stopped (or starved of CPU) for longer than the lock trusts a silent holder; rerun it.',
      });
    return result;
  };

  return {
    cacheDir,
    pathFor,
    exists,
    async ensure(url, onProgress) {
      if (await exists(url)) return { path: pathFor(url), created: false };
      return locked(url, async (path) => {
        if (await exists(url)) return { path, created: false };
        // Partial clones of a bro killed mid-clone (or stopped past the stale period: resumed, it uses
        // this mirror): nobody else works on them while we hold the lock.
        await removeLeftovers(path);
        await createByRename(path, (tmp) => git.cloneMirror(url, tmp, onProgress));
        return { path, created: true };
      });
    },
    async update(url, needed, onProgress) {
      await locked(url, async (path) => {
        if (!needed || (await needed(path))) await git.fetchMirror(path, onProgress);
      });
    },
  };
}

/** What `work` under a mirror lock returns when it failed after another bro took the lock over. */
const LOST = Symbol('lost');

async function removeLeftovers(path: string): Promise<void> {
  const prefix = `${basename(path)}${PARTIAL}`;
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((e) => e.startsWith(prefix))
      .map((e) => rm(join(dirname(path), e), { recursive: true, force: true })),
  );
}

const isDir = (path: string, dflt: boolean) =>
  stat(path).then(
    () => true,
    () => dflt,
  );

const isPermissionError = (error: unknown) =>
  ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST'].includes((error as NodeJS.ErrnoException)?.code ?? '');

function cacheDirError(cacheDir: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'is not a directory' : 'is not writable';
  return new UsageError(`The mirror cache ${cacheDir} ${why} (${code})`, {
    cause: error,
    hint: 'Pass --cache-dir (or set BRO_CACHE_DIR) to a directory you can write, or fix its permissions.',
  });
}
