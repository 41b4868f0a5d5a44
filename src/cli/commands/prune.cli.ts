import { InvalidArgumentError, type Command } from 'commander';
import type { Io } from '../io.js';
import { manifestOption, releaseCommand, releaseOptions } from '../options.js';

export function registerPrune(program: Command, io: Io): void {
  releaseCommand(
    program,
    'prune',
    "remove this variant's older builds in every region (AMIs, then their snapshots, and version parameters); a plan unless --yes",
    (c) =>
      c.requiredOption(
        '--keep <n>',
        'keep the n newest builds (at least 1); builds a channel points to are always kept',
        (value) => {
          const n = Number(value);
          if (!Number.isInteger(n)) throw new InvalidArgumentError('--keep must be a whole number, 1 or more');
          return n;
        },
      ),
    (c) =>
      c
        .option('--yes', 'act: without it, bro prune only shows what it would remove', false)
        .addOption(manifestOption('the release manifest whose build counts too (default: <work-dir>/manifest.json)')),
  ).action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
    const { runPrune } = await import('./prune.js');
    await runPrune(
      {
        ...releaseOptions(variant, raw, io, command),
        keep: Number(raw.keep),
        yes: Boolean(raw.yes),
      },
      io,
    );
  });
}
