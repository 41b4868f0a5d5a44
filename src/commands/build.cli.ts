import { Option, type Command } from 'commander';
import type { Io } from '../cli.js';
import { addCommonOptions, commonOptions, isDebug } from './common.js';

export function registerBuild(program: Command, io: Io): void {
  addCommonOptions(
    program
      .command('build')
      .description('fetch upstream, apply the patch series, build and publish the AMI and the admin image')
      .argument('<variant>', 'a variant from variants/, e.g. aws-k8s-1.18')
      .requiredOption('--version <version>', 'the upstream release and build suffix, e.g. 1.0.4-hc1'),
  )
    .option('--dry-run', 'run up to the first side effect outside the workspace, then print the plan', false)
    .option('--json', 'print the plan (with --dry-run) as one versioned JSON document', false)
    .option('--update-lock', 'accept upstream refs that moved since they were pinned', false)
    .option('--keep-failed', 'leave a failed patch in place for hand resolution', false)
    .addOption(new Option('--ci', 'plain output with timestamps, no colour').default(false))
    .action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
      const { runBuild } = await import('./build.js');
      await runBuild(
        {
          ...commonOptions(raw, io.env, isDebug(command)),
          variant,
          version: String(raw.version),
          dryRun: Boolean(raw.dryRun),
          json: Boolean(raw.json),
          updateLock: Boolean(raw.updateLock),
          keepFailed: Boolean(raw.keepFailed),
          ci: Boolean(raw.ci),
        },
        io,
      );
    });
}
