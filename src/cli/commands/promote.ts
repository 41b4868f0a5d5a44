import type { Io } from '../io.js';
import { regionSummary, throwIfAnyRegionFailed } from '../../build/index.js';
import { checkChannelName, promote, rollbackCommand, type RegionPromotion } from '../../release/index.js';
import { withWorkspace, type RunBuildOptions } from './build.js';

export interface PromoteOptions extends RunBuildOptions {
  channel: string;
  force: boolean;
}

const describe = (p: RegionPromotion) =>
  `${p.to.version} (${p.to.imageId})${p.changed ? `, was ${p.from.version ?? 'unset'}` : ', already there'}`;

/** `bro promote <variant> --version V --to CHANNEL`: see release/promote.ts. */
export async function runPromote(options: PromoteOptions, io: Io): Promise<void> {
  checkChannelName(options.channel);
  const { result } = await withWorkspace({ ...options, dryRun: false }, io, (ctx) =>
    promote(ctx, { channel: options.channel, force: options.force, dryRun: options.dryRun }, (lines) =>
      io.stdout.write(`${lines.join('\n')}\n`),
    ),
  );
  if (options.dryRun) return;
  io.stdout.write(`${regionSummary(result, describe).join('\n')}\n`);
  throwIfAnyRegionFailed(
    'promote',
    'Promoting',
    result,
    describe,
    `Regions without ✔ still point at the old version. Rerun the same \`bro promote\`: regions already moved are left alone.`,
  );
  const rollback = rollbackCommand(options.variant, options.channel, result);
  if (rollback) io.stdout.write(`To roll back: ${rollback}\n`);
}
