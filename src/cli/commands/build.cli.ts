import type { Command } from 'commander';
import type { Io } from '../io.js';
import { STEP_IDS } from '../../config/step-ids.js';
import { manifestOption, minFreeDiskOption, releaseCommand, releaseOptions, updateLockOption } from '../options.js';

export function registerBuild(program: Command, io: Io): void {
  releaseCommand(
    program,
    'build',
    'fetch upstream, apply the patch series, build and publish the AMI and the admin image',
    (c) => c.requiredOption('--version <version>', 'the upstream release and build suffix, e.g. 1.0.4-hc1'),
    (c) =>
      c
        .option('--dry-run', 'run up to the first side effect outside the workspace, then print the plan', false)
        .option(
          '--json',
          'print the plan (with --dry-run) or the release manifest as one versioned JSON document',
          false,
        )
        .addOption(updateLockOption())
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
        .addOption(manifestOption('write the release manifest here (default: <work-dir>/manifest.json)'))
        .option('--overwrite-parameters', "replace this version's SSM parameters when they point at another AMI", false)
        .addOption(minFreeDiskOption()),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runBuild } = await import('./build.js');
    await runBuild(
      {
        ...releaseOptions(variant, raw, io, command),
        version: String(raw.version),
        dryRun: Boolean(raw.dryRun),
        json: Boolean(raw.json),
        updateLock: Boolean(raw.updateLock),
        keepFailed: Boolean(raw.keepFailed),
        discardChanges: Boolean(raw.discardChanges),
        from: raw.from === undefined ? undefined : String(raw.from),
        only: raw.only === undefined ? undefined : String(raw.only),
        minFreeDiskGiB: raw.minFreeDisk === undefined ? undefined : Number(raw.minFreeDisk),
        overwriteParameters: Boolean(raw.overwriteParameters),
      },
      io,
    );
  });
}
