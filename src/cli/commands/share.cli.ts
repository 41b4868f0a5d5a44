import type { Command } from 'commander';
import type { Io } from '../io.js';
import { manifestOption, releaseCommand, releaseOptions } from '../options.js';

export function registerShare(program: Command, io: Io): void {
  releaseCommand(
    program,
    'share',
    "share the built AMIs and their snapshots with the variant's accounts in every region (or --revoke)",
    (c) => c.requiredOption('--version <version>', 'the version that was built, e.g. 1.0.4-hc1'),
    (c) =>
      c
        .option('--revoke', 'remove the launch and volume permissions instead', false)
        .option('--accounts <ids>', 'with --revoke: comma-separated account IDs (default: the accounts bro granted)')
        .addOption(manifestOption('the release manifest to rewrite (default: <work-dir>/manifest.json)')),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runShare } = await import('./share.js');
    await runShare(
      {
        ...releaseOptions(variant, raw, io, command),
        version: String(raw.version),
        dryRun: false,
        json: false,
        updateLock: false,
        keepFailed: false,
        revoke: Boolean(raw.revoke),
        accounts:
          raw.accounts === undefined
            ? undefined
            : String(raw.accounts)
                .split(',')
                .map((a) => a.trim())
                .filter(Boolean),
      },
      io,
    );
  });
}
