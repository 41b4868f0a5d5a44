import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { addPublishOptions, publishOptions } from './build.cli.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

export function registerShare(program: Command, io: Io): void {
  addPublishOptions(
    addCommonOptions(
      program
        .command('share')
        .description(
          "share the built AMIs and their snapshots with the variant's accounts in every region (or --revoke)",
        )
        .argument('<variant>', 'a variant from variants/, e.g. aws-k8s-1.18')
        .requiredOption('--version <version>', 'the version that was built, e.g. 1.0.4-hc1'),
    )
      .option('--revoke', 'remove the launch and volume permissions instead', false)
      .option('--accounts <ids>', 'with --revoke: comma-separated account IDs (default: the accounts bro granted)')
      .option('--manifest <file>', 'the release manifest to rewrite (default: <work-dir>/manifest.json)'),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runShare } = await import('./share.js');
    await runShare(
      {
        ...commonOptions(raw, io.env, isDebug(command)),
        ...publishOptions(raw),
        variant,
        version: String(raw.version),
        dryRun: false,
        json: false,
        updateLock: false,
        keepFailed: false,
        revoke: Boolean(raw.revoke),
        manifest: raw.manifest === undefined ? undefined : resolve(String(raw.manifest)),
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
