import { existsSync } from 'node:fs';
import type { Io } from '../io.js';
import { StepError, UsageError } from '../../shared/errors.js';
import { amiName, amisJsonPath } from '../../build/index.js';
import type { PublishContext } from '../../build/index.js';
import { type RegisteredAmi } from '../../build/index.js';
import { AmisSchema, readAmisJson } from '../../build/index.js';
import { defaultManifestPath, recordRevoke } from '../../build/index.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from '../../build/index.js';
import { requireAws } from '../../build/index.js';
import { checkForRevoke, describeRevoke, readGrants, revokeImage, writeGrants } from '../../build/index.js';
import { runBuild, withWorkspace, type RunBuildOptions } from './build.js';

/**
 * `bro share`: the build's share step on its own (it checks every region, adds
 * only what is missing, removes what bro granted to accounts no longer in
 * share-with) and the manifest after it. `bro share --revoke`: removes the
 * launch and volume permissions again, from the accounts bro granted (or
 * --accounts), on this build's AMIs only: each region's AMI is checked (name
 * and `bro:*` tags) before anything is changed in any region.
 */
export interface ShareOptions extends RunBuildOptions {
  revoke: boolean;
  /** Revoke from these accounts instead of the ones bro granted. */
  accounts?: string[];
}

export async function runShare(options: ShareOptions, io: Io): Promise<void> {
  for (const account of options.accounts ?? []) {
    if (!/^\d{12}$/.test(account)) throw new UsageError(`--accounts: "${account}" is not a 12-digit AWS account ID`);
  }
  if (!options.revoke) {
    if (options.accounts)
      throw new UsageError(
        '--accounts goes with --revoke; to share with more accounts, add them to share-with in the variant file',
      );
    await runBuild({ ...options, only: 'share', from: undefined }, io);
    return;
  }
  const { result } = await withWorkspace(options, io, async (ctx) => {
    const { regions } = ctx.variant;
    const amis = await amisToRevoke(ctx);
    const aws = requireAws(ctx);
    const name = amiName(ctx.variant, ctx.version);
    // Every region first: a revoke that would touch another build's AMI changes nothing anywhere.
    const checked = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const imageId = amis[region]?.id;
      if (!imageId)
        throw new StepError('share', `No AMI is recorded for ${region}`, {
          hint: 'Nothing was registered there by this build.',
        });
      const grants = await readGrants(ctx.state, region);
      if (!grants || grants.imageId !== imageId) {
        return { region, nothing: { imageId, snapshotIds: [], accounts: [], changes: [] } };
      }
      const tags = { 'bro:variant': ctx.variant.name, 'bro:version': ctx.version.full, ...grants.tags };
      const image = await checkForRevoke(aws.ec2(region), imageId, { name, tags });
      return { region, image, grants, accounts: options.accounts ?? grants.accounts };
    });
    throwIfAnyRegionFailed(
      'share',
      'Checking the AMIs before revoking',
      checked,
      () => 'checked, unchanged',
      'Nothing was revoked in any region.',
    );
    const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const prepared = checked.find((o) => o.region === region)!.value!;
      if (prepared.nothing) return prepared.nothing;
      const revoked = await revokeImage(aws.ec2(region), prepared.image, prepared.accounts);
      const remaining = prepared.grants.accounts.filter((a) => !prepared.accounts.includes(a));
      await writeGrants(ctx.state, region, { ...prepared.grants, accounts: remaining });
      return revoked;
    });
    // The next build shares again (the share-with list says so).
    await ctx.state.remove([
      'share',
      ...regions.filter((r) => !outcomes.find((o) => o.region === r)?.error).map((r) => `share:${r}`),
    ]);
    const manifest = options.manifest ?? defaultManifestPath(ctx.workspace.root);
    const done = outcomes.flatMap((o) =>
      o.error === undefined && o.value ? [[o.region, o.value.accounts] as const] : [],
    );
    if (existsSync(manifest)) await recordRevoke(manifest, Object.fromEntries(done));
    return outcomes;
  });
  io.stdout.write(`${regionSummary(result, describeRevoke).join('\n')}\n`);
  throwIfAnyRegionFailed(
    'share',
    'Revoking',
    result,
    describeRevoke,
    'Rerun `bro share --revoke`: permissions already removed are left alone.',
  );
}

/**
 * The AMIs this workspace registered: from the state file (ami-register's
 * outputs), so revoke works after `build/` was deleted to free disk; from
 * pubsys's amis.json only when the state has none.
 */
async function amisToRevoke(ctx: PublishContext): Promise<Record<string, RegisteredAmi>> {
  const record = await ctx.state.get('ami-register');
  const parsed = AmisSchema.safeParse(record?.outputs);
  const recorded = record?.status === 'done' && parsed.success ? parsed.data.amis : undefined;
  if (recorded && ctx.variant.regions.every((r) => recorded[r]?.id)) return recorded;
  const amisJson = amisJsonPath(ctx.workspace.bottlerocket, ctx.variant, ctx.version);
  if (!existsSync(amisJson)) {
    throw new StepError(
      'share',
      `Nothing to revoke: no build of ${ctx.variant.name} ${ctx.version.full} registered AMIs in ${ctx.workspace.root}`,
      {
        hint: 'Pass the --version (and --work-dir) of the build whose AMIs to revoke; `bro manifest show` names them.',
      },
    );
  }
  return readAmisJson(amisJson, ctx.variant.regions);
}
