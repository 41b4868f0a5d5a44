import type { Command } from 'commander';
import type { Io } from '../io.js';
import { manifestOption, releaseCommand, releaseOptions } from '../options.js';

export function registerPromote(program: Command, io: Io): void {
  releaseCommand(
    program,
    'promote',
    'point a channel (<ssm-prefix>/<variant>/<arch>/<channel>/image_id and image_version) at a build, in every region',
    (c) =>
      c
        .requiredOption('--version <version>', 'the build to point at, e.g. 1.0.4-hc2 (the previous one rolls back)')
        .requiredOption('--to <channel>', 'the channel, e.g. stable'),
    (c) =>
      c
        .option('--force', 'point the channel at a deprecated build too', false)
        .option('--dry-run', 'check the build and show the change, make none', false)
        .addOption(manifestOption('the release manifest that lists the channels (default: <work-dir>/manifest.json)')),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runPromote } = await import('./promote.js');
    await runPromote(
      {
        ...releaseOptions(variant, raw, io, command),
        version: String(raw.version),
        channel: String(raw.to),
        force: Boolean(raw.force),
        dryRun: Boolean(raw.dryRun),
        json: false,
        updateLock: false,
        keepFailed: false,
      },
      io,
    );
  });
}
