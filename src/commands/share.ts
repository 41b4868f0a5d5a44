import { stat } from 'node:fs/promises';
import type { Io } from '../cli.js';
import { StepError, UsageError } from '../errors.js';
import { amisJsonPath } from '../naming.js';
import { readAmisJson } from '../steps/ami-register.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from '../steps/regions.js';
import { requireAws } from '../steps/requires.js';
import { describeShare, revokeImage } from '../steps/share.js';
import { runBuild, withWorkspace, type RunBuildOptions } from './build.js';

/**
 * `bro share`: the build's share step on its own (it checks every region and
 * adds only what is missing). `bro share --revoke`: removes the launch and
 * volume permissions again, from the variant's accounts or --accounts, for
 * the AMIs in the workspace's amis.json (as upstream's `cargo make revoke-ami`).
 */
export interface ShareOptions extends RunBuildOptions {
  revoke: boolean;
  /** Revoke from these accounts instead of the variant's share-with. */
  accounts?: string[];
}

export async function runShare(options: ShareOptions, io: Io): Promise<void> {
  for (const account of options.accounts ?? []) {
    if (!/^\d{12}$/.test(account)) throw new UsageError(`--accounts: "${account}" is not a 12-digit AWS account ID`);
  }
  if (!options.revoke) {
    if (options.accounts) throw new UsageError('--accounts goes with --revoke; to share with more accounts, add them to share-with in the variant file');
    await runBuild({ ...options, only: 'share', from: undefined }, io);
    return;
  }
  const { result: outcomes } = await withWorkspace(options, io, async (ctx) => {
    const { regions } = ctx.variant;
    const amisJson = amisJsonPath(ctx.workspace.bottlerocket, ctx.variant, ctx.version);
    if (!(await stat(amisJson).then(() => true, () => false))) {
      throw new StepError('share', `Nothing to revoke: no build of ${ctx.variant.name} ${ctx.version.full} registered AMIs in ${ctx.workspace.root}`, {
        hint: 'Pass the --version (and --work-dir) of the build whose AMIs to revoke; `bro manifest show` names them.',
      });
    }
    const amis = await readAmisJson(amisJson, regions);
    const accounts = options.accounts ?? ctx.variant['share-with'];
    const aws = requireAws(ctx);
    const results = await forEachRegion(regions, ctx.settings.regionConcurrency, (region) => revokeImage(aws.ec2(region), amis[region]!.id, accounts));
    // The next build shares again (and rewrites the manifest).
    await ctx.state.remove(['share', ...regions.map((r) => `share:${r}`)]);
    return results;
  });
  io.stdout.write(`${regionSummary(outcomes, describeShare).join('\n')}\n`);
  throwIfAnyRegionFailed('share', 'Revoking', outcomes, describeShare, 'Rerun `bro share --revoke`: permissions already removed are left alone.');
}
