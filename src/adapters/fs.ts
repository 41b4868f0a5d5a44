import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The two ways bro puts a file or directory in place so that no reader, and no
 * interrupted bro, ever sees half of it:
 * - `atomicWrite`: the content goes to `<path>.<pid>.tmp` beside it, is flushed
 *   to disk (fsync), then renamed over `path`. Any failure (a full disk
 *   included) removes the temporary file before it is reported.
 * - `createByRename`: a directory is made under a temporary name beside its
 *   place, then renamed in.
 * State, manifests, lock files, the series and the sources lock are all
 * written by these.
 */
const tmpFor = (path: string) => `${path}.${process.pid}.tmp`;

/** `mode`: the file's permissions, 0600 for files that hold secrets. */
export async function atomicWrite(path: string, content: string, mode = 0o644): Promise<void> {
  const tmp = tmpFor(path);
  try {
    const file = await open(tmp, 'w', mode);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * `atomicWrite` for callers that must have the file in place before they go on (the workspace lock's
 * records of each program it starts). With `flush: false` it skips the fsync, for a file that matters
 * only while this boot lasts: a lock outlives a kill of bro, never a crash of the machine (after a
 * reboot its owner is dead by its boot id), and an fsync per program started would cost 10 ms each.
 */
export function atomicWriteSync(path: string, content: string, { flush = true } = {}): void {
  const tmp = tmpFor(path);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeFileSync(fd, content);
      if (flush) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * Makes `dir` by running `make` on a temporary directory beside it, then renaming that into place:
 * `dir` either does not exist or is whole. Mirrors, workspace checkouts and the rebase checkout are
 * made this way.
 */
export async function createByRename(dir: string, make: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = `${dir}${PARTIAL}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await make(tmp);
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Whether anything is at `path` (a file, a directory, a link to one). */
export const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** What `createByRename` names its temporary directory: `<dir>.partial-<pid>-<random>`. */
export const PARTIAL = '.partial-';
