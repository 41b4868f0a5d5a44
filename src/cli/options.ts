import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { defaultCacheDir } from '../adapters/user-paths.js';
import type { CommonOptions } from '../build/index.js';
import type { Io } from './io.js';
import { locateProject } from '../adapters/project-root.js';
import { UsageError } from '../shared/errors.js';

/** --project-dir, or BRO_PROJECT_DIR. */
export const projectDirOption = () =>
  new Option('--project-dir <dir>', 'the bro project (variants/, patches/)').env('BRO_PROJECT_DIR');

export const cacheDirOption = () =>
  new Option('--cache-dir <dir>', 'where the upstream mirrors are cached (default: the user cache directory)');

/** The `<variant>` argument of the commands on one variant's builds: `.argument(...VARIANT_ARGUMENT)`. */
export const VARIANT_ARGUMENT = ['<variant>', 'a variant from variants/, e.g. aws-k8s-1.18'] as const;

export const updateLockOption = () =>
  new Option('--update-lock', 'accept upstream refs that moved since they were pinned').default(false);

export const ciOption = () =>
  new Option('--ci', 'plain output with timestamps, no colour (the default without a terminal)').default(false);

/** --manifest, described for the command; `releaseOptions` reads it. */
export const manifestOption = (description: string) => new Option('--manifest <file>', description);

/** Options shared by every command that touches sources. */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(projectDirOption())
    .addOption(cacheDirOption())
    .addOption(new Option('--work-dir <dir>', 'the workspace (default: <project-dir>/work/<variant>)'));
}

/** A whole number > 0 (`--region-concurrency 2.5` is no number of regions). */
const positiveInteger = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a whole number greater than 0`);
  return n;
};

/** A number > 0 (`--wait-timeout 0` would never wait). */
const positive = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a number greater than 0`);
  return n;
};

/** --min-free-disk, of `bro build` and `bro doctor`. */
export const minFreeDiskOption = () =>
  new Option(
    '--min-free-disk <GiB>',
    "free disk the build needs under the work dir (default: 80 GiB, 20 GiB when an earlier build's caches are there)",
  ).argParser((value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new InvalidArgumentError('--min-free-disk must be a number of GiB, 0 or more');
    return n;
  });

/** Options of the steps after render, shared by `bro build`, `share`, `promote` and `prune`. */
function addPublishOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--wait-timeout <minutes>', 'how long to wait for each regional AMI copy to become available')
        .argParser(positive('--wait-timeout'))
        .default(60),
    )
    .addOption(
      new Option('--wait-poll <seconds>', 'first delay between checks while waiting (the SDK backs off to 2 minutes)')
        .argParser(positive('--wait-poll'))
        .default(15),
    )
    .addOption(
      new Option('--region-concurrency <n>', 'regions worked on at once')
        .argParser(positiveInteger('--region-concurrency'))
        .default(4),
    )
    .addOption(
      new Option(
        '--push-timeout <minutes>',
        'stop a `docker push` that prints nothing for this long, and fail its region',
      )
        .argParser(positive('--push-timeout'))
        .default(10),
    )
    .addOption(
      new Option(
        '--kill-orphans',
        'first stop the programs (cargo make, docker push) that a killed bro left running in this workspace',
      ).default(false),
    )
    .addOption(ciOption());
}

const publishOptions = (raw: Record<string, unknown>) => ({
  waitTimeoutSeconds: Number(raw.waitTimeout) * 60,
  waitPollSeconds: Number(raw.waitPoll),
  regionConcurrency: Number(raw.regionConcurrency),
  pushTimeoutMs: Number(raw.pushTimeout) * 60_000,
  ci: Boolean(raw.ci),
  killOrphans: Boolean(raw.killOrphans),
});

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

/**
 * A command on one variant's builds (build, share, promote, prune), its options in `--help` order:
 * `required` (the command's required options), the common options, `options` (its others), the publish options.
 */
export function releaseCommand(
  program: Command,
  name: string,
  description: string,
  required: (command: Command) => Command,
  options: (command: Command) => Command,
): Command {
  const command = program
    .command(name)
    .description(description)
    .argument(...VARIANT_ARGUMENT);
  return addPublishOptions(options(addCommonOptions(required(command))));
}

/** What a release command reads from every command line: the common and publish options, the variant, --manifest. */
export const releaseOptions = (variant: string, raw: Record<string, unknown>, io: Io, command: Command) => ({
  ...commonOptions(raw, io.env, isDebug(command)),
  ...publishOptions(raw),
  variant,
  manifest: raw.manifest === undefined ? undefined : resolve(String(raw.manifest)),
});
