import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { addPublishOptions, publishOptions } from './build.cli.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

export function registerPromote(program: Command, io: Io): void {
  addPublishOptions(
    addCommonOptions(
      program
        .command('promote')
        .description(
          'point a channel (<ssm-prefix>/<variant>/<arch>/<channel>/image_id and image_version) at a build, in every region',
        )
        .argument('<variant>', 'a variant from variants/, e.g. aws-k8s-1.18')
        .requiredOption('--version <version>', 'the build to point at, e.g. 1.0.4-hc2 (the previous one rolls back)')
        .requiredOption('--to <channel>', 'the channel, e.g. stable'),
    )
      .option('--force', 'point the channel at a deprecated build too', false)
      .option('--dry-run', 'check the build and show the change, make none', false)
      .option('--manifest <file>', 'the release manifest that lists the channels (default: <work-dir>/manifest.json)'),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runPromote } = await import('./promote.js');
    await runPromote(
      {
        ...commonOptions(raw, io.env, isDebug(command)),
        ...publishOptions(raw),
        variant,
        version: String(raw.version),
        channel: String(raw.to),
        force: Boolean(raw.force),
        dryRun: Boolean(raw.dryRun),
        json: false,
        updateLock: false,
        keepFailed: false,
        manifest: raw.manifest === undefined ? undefined : resolve(String(raw.manifest)),
      },
      io,
    );
  });
}
