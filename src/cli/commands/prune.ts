import type { Io } from '../io.js';
import type { CommonOptions } from '../../build/index.js';
import { checkKeep, formatPrunePlan, planPrune, prune } from '../../release/index.js';
import { withWorkspace, type PublishOptions } from './build.js';

export interface PruneOptions extends CommonOptions, PublishOptions {
  variant: string;
  keep: number;
  yes: boolean;
  ci: boolean;
}

/** `bro prune <variant> --keep N [--yes]`: see release/prune.ts. */
export async function runPrune(options: PruneOptions, io: Io): Promise<void> {
  checkKeep(options.keep);
  // Prune acts on every build the workspace recorded, not on one version: the context's version is not read.
  const context = {
    ...options,
    version: '0.0.0-prune',
    dryRun: false,
    json: false,
    updateLock: false,
    keepFailed: false,
  };
  await withWorkspace(context, io, async (ctx) => {
    const items = await planPrune(ctx, { keep: options.keep, yes: options.yes });
    io.stdout.write(`${formatPrunePlan(items, options.keep, options.yes).join('\n')}\n`);
    if (!options.yes || !items.some((i) => !i.kept)) return;
    const outcomes = await prune(ctx, items);
    io.stdout.write(
      `${outcomes.map((o) => `✔ ${o.region}: removed ${o.value!.map((i) => `${i.imageId} (${i.version})`).join(', ')}`).join('\n')}\n`,
    );
  });
}
