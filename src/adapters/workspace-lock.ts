import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StepError } from '../errors.js';

/**
 * One bro at a time per workspace: `<work>/.bro/lock` holds the owner's pid.
 * A lock whose pid no longer runs was left by a bro that died (kill -9, a
 * crashed host); it is taken over and reported.
 */
export interface WorkspaceLock {
  /** The pid of the dead bro whose lock was taken over. */
  stalePid?: number;
  release(): Promise<void>;
}

export interface LockOptions {
  pid?: number;
  /** Whether a process runs; the default asks the kernel (signal 0). */
  isAlive?: (pid: number) => boolean;
}

export async function lockWorkspace(broDir: string, options: LockOptions = {}): Promise<WorkspaceLock> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const path = join(broDir, 'lock');
  await mkdir(broDir, { recursive: true });
  const owned: WorkspaceLock = {
    async release() {
      const owner = await readPid(path);
      if (owner === pid) await rm(path, { force: true });
    },
  };
  if (await create(path, pid)) return owned;

  const owner = await readPid(path);
  if (owner !== undefined && isAlive(owner)) {
    throw new StepError('lock', `Another bro (pid ${owner}) is running in this workspace (${broDir})`, {
      hint: `Wait for it to finish, or use another --work-dir. If pid ${owner} is not bro, delete ${path}.`,
    });
  }
  // Stale: move it aside (atomic, so of two bros taking it over only one succeeds), then take the lock.
  const aside = `${path}.stale-${pid}`;
  await rename(path, aside).catch(() => undefined);
  await rm(aside, { force: true });
  if (!(await create(path, pid))) {
    throw new StepError('lock', `Another bro took over the stale lock in ${broDir} at the same time`, { hint: 'Run one build per workspace.' });
  }
  return { ...owned, stalePid: owner };
}

async function create(path: string, pid: number): Promise<boolean> {
  try {
    await writeFile(path, `${pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
