import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Io } from '../io.js';
import { STEP_IDS } from '../../config/step-ids.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

/** A whole number > 0 (`--region-concurrency 2.5` is no number of regions). */
export const positiveInteger = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a whole number greater than 0`);
  return n;
};

/** A number > 0 (`--wait-timeout 0` would never wait). */
export const positive = (what: string) => (value: string) => {
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

/** Options of the steps after render, shared by `bro build` and `bro share`. */
export function addPublishOptions(command: Command): Command {
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
    .addOption(
      new Option('--ci', 'plain output with timestamps, no colour (the default without a terminal)').default(false),
    );
}

export const publishOptions = (raw: Record<string, unknown>) => ({
  waitTimeoutSeconds: Number(raw.waitTimeout) * 60,
  waitPollSeconds: Number(raw.waitPoll),
  regionConcurrency: Number(raw.regionConcurrency),
  pushTimeoutMs: Number(raw.pushTimeout) * 60_000,
  ci: Boolean(raw.ci),
  killOrphans: Boolean(raw.killOrphans),
});

export function registerBuild(program: Command, io: Io): void {
  addPublishOptions(
    addCommonOptions(
      program
        .command('build')
        .description('fetch upstream, apply the patch series, build and publish the AMI and the admin image')
        .argument('<variant>', 'a variant from variants/, e.g. aws-k8s-1.18')
        .requiredOption('--version <version>', 'the upstream release and build suffix, e.g. 1.0.4-hc1'),
    )
      .option('--dry-run', 'run up to the first side effect outside the workspace, then print the plan', false)
      .option('--json', 'print the plan (with --dry-run) or the release manifest as one versioned JSON document', false)
      .option('--update-lock', 'accept upstream refs that moved since they were pinned', false)
      .option('--keep-failed', 'leave a failed patch in place for hand resolution', false)
      .option(
        '--discard-changes',
        'throw away local changes in the workspace checkouts (bro refuses to run over them otherwise)',
        false,
      )
      .option(
        '--from <step>',
        `redo this step and every step after it, even if done; the admin image and OS steps are independent (${STEP_IDS.join(', ')})`,
      )
      .option('--only <step>', 'redo only this step (the local steps before it run as usual)')
      .option('--manifest <file>', 'write the release manifest here (default: <work-dir>/manifest.json)')
      .option('--overwrite-parameters', "replace this version's SSM parameters when they point at another AMI", false)
      .addOption(minFreeDiskOption()),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runBuild } = await import('./build.js');
    await runBuild(
      {
        ...commonOptions(raw, io.env, isDebug(command)),
        ...publishOptions(raw),
        variant,
        version: String(raw.version),
        dryRun: Boolean(raw.dryRun),
        json: Boolean(raw.json),
        updateLock: Boolean(raw.updateLock),
        keepFailed: Boolean(raw.keepFailed),
        discardChanges: Boolean(raw.discardChanges),
        from: raw.from === undefined ? undefined : String(raw.from),
        only: raw.only === undefined ? undefined : String(raw.only),
        manifest: raw.manifest === undefined ? undefined : resolve(String(raw.manifest)),
        minFreeDiskGiB: raw.minFreeDisk === undefined ? undefined : Number(raw.minFreeDisk),
        overwriteParameters: Boolean(raw.overwriteParameters),
      },
      io,
    );
  });
}
