import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Io } from '../io.js';
import { addPublishOptions, publishOptions } from './build.cli.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

export function registerPrune(program: Command, io: Io): void {
  addPublishOptions(
    addCommonOptions(
      program
        .command('prune')
        .description(
          "remove this variant's older builds in every region (AMIs, then their snapshots, and version parameters); a plan unless --yes",
        )
        .argument('<variant>', 'a variant from variants/, e.g. aws-k8s-1.18')
        .requiredOption(
          '--keep <n>',
          'keep the n newest builds (at least 1); builds a channel points to are always kept',
          (value) => {
            const n = Number(value);
            if (!Number.isInteger(n)) throw new InvalidArgumentError('--keep must be a whole number, 1 or more');
            return n;
          },
        ),
    )
      .option('--yes', 'act: without it, bro prune only shows what it would remove', false)
      .option('--manifest <file>', 'the release manifest whose build counts too (default: <work-dir>/manifest.json)'),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runPrune } = await import('./prune.js');
    await runPrune(
      {
        ...commonOptions(raw, io.env, isDebug(command)),
        ...publishOptions(raw),
        variant,
        keep: Number(raw.keep),
        yes: Boolean(raw.yes),
        manifest: raw.manifest === undefined ? undefined : resolve(String(raw.manifest)),
      },
      io,
    );
  });
}
