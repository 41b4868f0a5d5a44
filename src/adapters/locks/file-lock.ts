import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { systemProcesses } from './workspace-lock.js';

/**
 * A lock file for a resource several bro processes share (a mirror in the
 * cache). The holder writes its host, pid and a random token into
 * `<path>`, created exclusively, and touches it every few seconds while it
 * works. Others wait. A lock is stale, and taken over, when its holder's pid
 * no longer runs on this host, or when it has not been touched for
 * `staleAfterMs`: a pid alone is not trusted (it may have been reused, or
 * belong to another host sharing the cache).
 */
export interface FileLockOptions {
  /** How often a waiter looks again (default 100 ms). */
  pollMs?: number;
  /** How long an untouched lock is trusted (default 30 s). */
  staleAfterMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: LockHolder) => void;
  /** Stops the wait. */
  signal?: AbortSignal;
}

export interface LockHolder {
  host: string;
  pid: number;
  token: string;
}

export async function withFileLock<T>(path: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const pollMs = options.pollMs ?? 100;
  const me: LockHolder = { host: hostname(), pid: process.pid, token: randomBytes(8).toString('hex') };
  let waited = false;
  while (!(await tryCreate(path, me))) {
    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (await isStale(path, holder, staleAfterMs)) {
      await takeOver(path, holder);
      continue;
    }
    if (!waited && holder) options.onWait?.(holder);
    waited = true;
    options.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    },
    Math.max(50, Math.floor(staleAfterMs / 6)),
  );
  heartbeat.unref();
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
    const holder = await readHolder(path);
    if (holder !== 'gone' && holder?.token === me.token) await rm(path, { force: true });
  }
}

async function tryCreate(path: string, me: LockHolder): Promise<boolean> {
  try {
    await writeFile(path, `${JSON.stringify(me)}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The holder, undefined while it is still being written (or unreadable), 'gone' when the lock was released meanwhile. */
async function readHolder(path: string): Promise<LockHolder | undefined | 'gone'> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.token === 'string'
      ? (parsed as LockHolder)
      : undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
}

async function isStale(path: string, holder: LockHolder | undefined, staleAfterMs: number): Promise<boolean> {
  if (holder && holder.host === hostname() && !systemProcesses().isAlive(holder.pid)) return true;
  const touched = await stat(path).then(
    (s) => s.mtimeMs,
    () => Date.now(),
  );
  return Date.now() - touched > staleAfterMs;
}

/**
 * Moves a stale lock aside (atomic: of two waiters taking it over, one wins). If what was moved is
 * not the stale lock seen (another waiter took over in between and holds a fresh one), it is put
 * back, unless a third lock already exists.
 */
async function takeOver(path: string, stale: LockHolder | undefined): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readHolder(aside);
  if (stale && moved !== 'gone' && moved && moved.token !== stale.token) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}
