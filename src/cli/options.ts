import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { defaultCacheDir } from '../adapters/user-paths.js';
import type { CommonOptions } from '../build/index.js';
import { locateProject } from '../adapters/project-root.js';
import { UsageError } from '../shared/errors.js';

/** Options shared by every command that touches sources. */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--project-dir <dir>', 'the bro project (variants/, patches/)').env('BRO_PROJECT_DIR'))
    .addOption(
      new Option('--cache-dir <dir>', 'where the upstream mirrors are cached (default: the user cache directory)'),
    )
    .addOption(new Option('--work-dir <dir>', 'the workspace (default: <project-dir>/work/<variant>)'));
}

/** A directory option given as "" is a mistake (an unset shell variable), not a request for the default. */
function given(raw: Record<string, unknown>, key: string, option: string): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (String(value).trim() === '') {
    throw new UsageError(`${option} is empty`, {
      hint: `Pass ${option} a directory, or leave the option out for the default (an unset shell variable gives "").`,
    });
  }
  return String(value);
}

/**
 * The project directory: --project-dir, else BRO_PROJECT_DIR (commander reads it into the same
 * option), else the project the working directory is in, found as git and npm find theirs.
 * `optional`: a command that can work without one (manifest show --manifest FILE).
 */
export function projectDirOf(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, optional = false): string {
  const from = raw.projectDir === env.BRO_PROJECT_DIR ? 'BRO_PROJECT_DIR' : '--project-dir';
  // An empty BRO_PROJECT_DIR is unset, as for any variable; an empty --project-dir is a mistake.
  const dir = from === 'BRO_PROJECT_DIR' && raw.projectDir === '' ? undefined : given(raw, 'projectDir', from);
  if (dir !== undefined) return optional ? resolve(dir) : locateProject({ dir: resolve(dir), from });
  try {
    return locateProject({ dir: process.cwd(), from: 'the working directory' });
  } catch (error) {
    if (optional) return process.cwd();
    throw error;
  }
}

/** The mirror cache and where it was set: --cache-dir, BRO_CACHE_DIR, XDG_CACHE_HOME, or the default. */
function cacheDirOf(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): { cacheDir: string; cacheDirFrom: string } {
  const option = given(raw, 'cacheDir', '--cache-dir');
  if (option !== undefined) return { cacheDir: resolve(option), cacheDirFrom: '--cache-dir' };
  const from = env.BRO_CACHE_DIR
    ? 'BRO_CACHE_DIR'
    : env.XDG_CACHE_HOME && process.platform !== 'darwin'
      ? 'XDG_CACHE_HOME'
      : 'default';
  return { cacheDir: resolve(defaultCacheDir(env, env.HOME || homedir(), process.platform)), cacheDirFrom: from };
}

export function commonOptions(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  debug: boolean,
  { projectOptional = false }: { projectOptional?: boolean } = {},
): CommonOptions {
  const workDir = given(raw, 'workDir', '--work-dir');
  return {
    projectDir: projectDirOf(raw, env, projectOptional),
    ...cacheDirOf(raw, env),
    workDir: workDir === undefined ? undefined : resolve(workDir),
    debug,
  };
}

export const workDirFor = (options: CommonOptions, variant: string) =>
  options.workDir ?? join(options.projectDir, 'work', variant);

/** Whether --debug was given anywhere on the command line. */
export const isDebug = (command: Command): boolean => Boolean(command.optsWithGlobals().debug);
