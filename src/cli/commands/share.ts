import { existsSync } from 'node:fs';
import type { Io } from '../io.js';
import { StepError, UsageError } from '../../shared/errors.js';
import { amiName } from '../../build/index.js';
import type { PublishContext, RevokeOutcome } from '../../build/index.js';
import { AmisSchema, defaultManifestPath, readManifest, recordRevoke, releaseTagsOf } from '../../build/index.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from '../../build/index.js';
import { requireAws } from '../../build/index.js';
import { describeRevoke, findForRevoke, leftAlone, revokeImage } from '../../build/index.js';
import { launchPrincipals, readBuildTags, readGrants, writeGrants } from '../../build/index.js';
import { runBuild, withWorkspace, type RunBuildOptions } from './build.js';

/**
 * `bro share`: the build's share step on its own (it checks every region, adds
 * only what is missing, removes what bro granted to accounts no longer in
 * share-with) and the manifest after it. `bro share --revoke`: removes the
 * launch and volume permissions again, from the accounts bro granted (or
 * --accounts; share-with when bro has no record), on this build's AMIs only:
 * each region's AMI is checked (name and `bro:*` tags) before anything is
 * changed in any region, and what is reported is what EC2 showed.
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
    const recorded = await recordedAmis(ctx);
    const aws = requireAws(ctx);
    const name = amiName(ctx.variant, ctx.version);
    const manifest = options.manifest ?? defaultManifestPath(ctx.workspace.root);
    // What proves an AMI is this build's: the tags share recorded, else the manifest's, else variant and version.
    const tags = {
      'bro:variant': ctx.variant.name,
      'bro:version': ctx.version.full,
      ...((await readBuildTags(ctx.state)) ??
        (existsSync(manifest) ? releaseTagsOf(await readManifest(manifest)) : {})),
    };
    // Every region first, reading only: a revoke that would touch another build's recorded AMI changes nothing anywhere.
    const checked = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const grants = await readGrants(ctx.state, region);
      return findForRevoke(aws.ec2(region), {
        imageId: recorded[region],
        name,
        tags,
        grants,
        accounts: options.accounts ?? grants?.accounts ?? launchPrincipals(ctx.variant),
      });
    });
    throwIfAnyRegionFailed(
      'share',
      'Checking the AMIs before revoking',
      checked,
      () => 'checked, unchanged',
      'Nothing was revoked in any region.',
    );
    const targets = new Map(checked.map((o) => [o.region, o.value!]));
    if ([...targets.values()].every((t) => t.kind === 'none')) {
      throw new StepError(
        'share',
        `Nothing to revoke: no build of ${ctx.variant.name} ${ctx.version.full} registered AMIs in ${ctx.workspace.root}, and EC2 shows none named ${name} owned by this account in ${regions.join(', ')}`,
        {
          hint: 'Pass the --version (and --work-dir) of the build whose AMIs to revoke; `bro manifest show` names them.',
        },
      );
    }
    // Before any change: the next build verifies and shares again, even if this revoke is interrupted.
    await ctx.state.remove([
      'share',
      ...regions.filter((r) => targets.get(r)?.kind === 'ours').map((r) => `share:${r}`),
    ]);
    const outcomes = await forEachRegion(
      regions,
      ctx.settings.regionConcurrency,
      async (region): Promise<RevokeOutcome> => {
        const target = targets.get(region)!;
        if (target.kind !== 'ours') return leftAlone(target);
        const revoked = await revokeImage(aws.ec2(region), target.image, target.accounts);
        if (target.grants) {
          const remaining = target.grants.accounts.filter((a) => !target.accounts.includes(a));
          await writeGrants(ctx.state, region, { ...target.grants, accounts: remaining });
        }
        return revoked;
      },
    );
    // The manifest says what EC2 showed after the revoke, for this build's AMIs only.
    const shown = outcomes.flatMap((o) =>
      o.value && !o.value.leftAlone ? [[o.region, o.value.accounts] as const] : [],
    );
    if (existsSync(manifest)) await recordRevoke(manifest, Object.fromEntries(shown));
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
 * The AMIs this workspace registered, from the state file (ami-register's outputs), so revoke
 * works after `build/` was deleted to free disk. Without the state, EC2 is asked for this build's
 * AMI by its name and owner, and its tags decide.
 */
async function recordedAmis(ctx: PublishContext): Promise<Record<string, string | undefined>> {
  const record = await ctx.state.get('ami-register');
  const parsed = AmisSchema.safeParse(record?.outputs);
  const amis = record?.status === 'done' && parsed.success ? parsed.data.amis : undefined;
  return Object.fromEntries(ctx.variant.regions.map((r) => [r, amis?.[r]?.id]));
}
