import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { defaultCacheDir } from '../adapters/mirrors.js';
import type { CommonOptions } from '../build/index.js';

/** Options shared by every command that touches sources. */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--project-dir <dir>', 'the bro project (variants/, patches/)').env('BRO_PROJECT_DIR'))
    .addOption(
      new Option('--cache-dir <dir>', 'where the upstream mirrors are cached (default: the user cache directory)'),
    )
    .addOption(new Option('--work-dir <dir>', 'the workspace (default: <project-dir>/work/<variant>)'));
}

export function commonOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, debug: boolean): CommonOptions {
  const projectDir = resolve(String(raw.projectDir ?? '.'));
  return {
    projectDir,
    cacheDir: resolve(raw.cacheDir ? String(raw.cacheDir) : defaultCacheDir(env, homedir(), process.platform)),
    workDir: raw.workDir ? resolve(String(raw.workDir)) : undefined,
    debug,
  };
}

export const workDirFor = (options: CommonOptions, variant: string) =>
  options.workDir ?? join(options.projectDir, 'work', variant);

/** Whether --debug was given anywhere on the command line. */
export const isDebug = (command: Command): boolean => Boolean(command.optsWithGlobals().debug);
