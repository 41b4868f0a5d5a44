import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../shared/errors.js';

/**
 * A directory setting and where its value came from: the option itself, an environment variable
 * (BRO_CACHE_DIR, XDG_CACHE_HOME), or bro's default. Messages name the one the value came from.
 */
export interface DirSetting {
  option: string;
  from: string;
}

const settingOf = (setting: string | DirSetting): DirSetting =>
  typeof setting === 'string' ? { option: setting, from: setting } : setting;

/** How a message names the directory: `--cache-dir /x`, `BRO_CACHE_DIR=/x`, `/x (the default --cache-dir)`. */
function labelOf({ option, from }: DirSetting, dir: string): string {
  if (from === option) return `${option} ${dir}`;
  if (from === 'default') return `${dir} (the default ${option})`;
  if (from === 'XDG_CACHE_HOME') return `${dir} (the cache directory under XDG_CACHE_HOME)`;
  return `${from}=${dir}`;
}

/** What to do about it, naming the setting the value came from. */
function fixOf({ option, from }: DirSetting): string {
  if (from === option || from === 'default') return `Pass ${option} a directory you can write (it is made if missing).`;
  return `Set ${from} to a directory you can write, or pass ${option}.`;
}

/**
 * Directories the user names (--work-dir, --cache-dir, --out, or their
 * environment variables and defaults): made and checked before any work, so a
 * bad one is a usage error naming where it came from, never an internal error
 * halfway through. Each missing component is made on its own (Node's recursive
 * mkdir loops forever on /proc). Components made get `mode`.
 */
export async function prepareDir(setting: string | DirSetting, dir: string, mode?: number): Promise<void> {
  const named = settingOf(setting);
  const missing: string[] = [];
  let current = resolve(dir);
  for (;;) {
    const found = await stat(current).catch((error: NodeJS.ErrnoException) => error);
    if (!(found instanceof Error)) {
      if (!found.isDirectory()) {
        throw new UsageError(
          `${labelOf(named, dir)}: ${current === resolve(dir) ? 'is' : `${current} is`} a file, not a directory`,
          { hint: fixOf(named) },
        );
      }
      break;
    }
    if (found.code !== 'ENOENT' || dirname(current) === current) throw pathError(named, dir, found);
    missing.unshift(current);
    current = dirname(current);
  }
  for (const component of missing) {
    await mkdir(component, { mode }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw pathError(named, dir, error);
    });
  }
  // Permissions say little (root, ACLs, read-only mounts): try it.
  const probe = `${resolve(dir)}${sep}.bro-write-check-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(probe, '', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    throw pathError(named, dir, error);
  });
  await rm(probe, { force: true });
}

/** Refuses `dir` inside `parent` (the workspace inside the mirror cache, where bro would clone into its own mirrors). */
export function refuseInside(
  setting: string | DirSetting,
  dir: string,
  parentSetting: string | DirSetting,
  parent: string,
): void {
  const rel = relative(resolve(parent), resolve(dir));
  if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel))) {
    const named = settingOf(setting);
    throw new UsageError(`${labelOf(named, dir)} is inside ${labelOf(settingOf(parentSetting), parent)}`, {
      hint: `Keep them apart: bro manages the mirror cache on its own, and a workspace there would be cloned over or deleted. Pick another ${named.option}.`,
    });
  }
}

function pathError(named: DirSetting, dir: string, error: NodeJS.ErrnoException): UsageError {
  const why: Record<string, string> = {
    EACCES: 'is not writable',
    EPERM: 'is not writable',
    EROFS: 'is on a read-only file system',
    ENOTDIR: 'has a file where a directory should be',
    ENOENT: 'cannot be created there',
    ENOSPC: 'is on a full disk',
  };
  return new UsageError(
    `${labelOf(named, dir)} ${why[error.code ?? ''] ?? `cannot be used (${error.code ?? error.message})`}`,
    {
      cause: error,
      hint: fixOf(named),
    },
  );
}

/** The per-user cache directory, following the platform's convention. */
export function defaultCacheDir(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  if (env.BRO_CACHE_DIR) return env.BRO_CACHE_DIR;
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'bro');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'bro');
}
