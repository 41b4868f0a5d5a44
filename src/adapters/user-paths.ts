import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { UsageError } from '../shared/errors.js';

/**
 * Directories the user names on the command line (--work-dir, --cache-dir,
 * --out): made and checked before any work, so a bad one is a usage error
 * naming the option, never an internal error halfway through. Each missing
 * component is made on its own (Node's recursive mkdir loops forever on
 * /proc). Components made get `mode`.
 */
export async function prepareDir(option: string, dir: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  let current = resolve(dir);
  for (;;) {
    const found = await stat(current).catch((error: NodeJS.ErrnoException) => error);
    if (!(found instanceof Error)) {
      if (!found.isDirectory()) {
        throw new UsageError(
          `${option} ${dir}: ${current === resolve(dir) ? 'is' : `${current} is`} a file, not a directory`,
          { hint: `Pass ${option} a directory (it is made if missing).` },
        );
      }
      break;
    }
    if (found.code !== 'ENOENT' || dirname(current) === current) throw pathError(option, dir, found);
    missing.unshift(current);
    current = dirname(current);
  }
  for (const component of missing) {
    await mkdir(component, { mode }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw pathError(option, dir, error);
    });
  }
  // Permissions say little (root, ACLs, read-only mounts): try it.
  const probe = `${resolve(dir)}${sep}.bro-write-check-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(probe, '', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    throw pathError(option, dir, error);
  });
  await rm(probe, { force: true });
}

/** Refuses `dir` inside `parent` (the workspace inside the mirror cache, where bro would clone into its own mirrors). */
export function refuseInside(option: string, dir: string, parentOption: string, parent: string): void {
  const rel = relative(resolve(parent), resolve(dir));
  if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel))) {
    throw new UsageError(`${option} ${dir} is inside ${parentOption} ${parent}`, {
      hint: `Keep them apart: bro manages the mirror cache on its own, and a workspace there would be cloned over or deleted. Pick another ${option}.`,
    });
  }
}

function pathError(option: string, dir: string, error: NodeJS.ErrnoException): UsageError {
  const why: Record<string, string> = {
    EACCES: 'is not writable',
    EPERM: 'is not writable',
    EROFS: 'is on a read-only file system',
    ENOTDIR: 'has a file where a directory should be',
    ENOENT: 'cannot be created there',
    ENOSPC: 'is on a full disk',
  };
  return new UsageError(
    `${option} ${dir} ${why[error.code ?? ''] ?? `cannot be used (${error.code ?? error.message})`}`,
    {
      cause: error,
      hint: `Pass ${option} a directory you can write.`,
    },
  );
}
