import { z } from 'zod';
import type { Image } from '@aws-sdk/client-ec2';
import { isAwsError, type Ec2, type WaitOptions } from '../../adapters/aws.js';
import type { AwsAction } from '../aws-actions.js';
import { InterruptedError, StepError } from '../../shared/errors.js';
import type { Variant } from '../../config/variant.js';
import type { BuildContext } from '../context.js';
import { defineStep, type Needed, type RegionShare } from '../step.js';
import { amiName } from '../naming.js';
import {
  checkDone,
  digestOf,
  readRecord,
  recordKind,
  stepRecord,
  writeRecord,
  type RecordOf,
  type StateStore,
} from '../state.js';
import { errorLine, forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { inRegion, requireAws } from './requires.js';
import type { Series, SourceName } from '../../config/series.js';

const STEP = 'share';

/** One digest for both patch series (bottlerocket and admin-container). */
export function patchSeriesDigest(series: Record<SourceName, Series | undefined>): string {
  return digestOf({
    bottlerocket: series.bottlerocket?.digest ?? null,
    'admin-container': series['admin-container']?.digest ?? null,
  });
}

/** The tags on every AMI and snapshot: the variant's own, then what identifies the build. */
export function releaseTags(
  ctx: Pick<BuildContext, 'variant' | 'version'>,
  { resolve, patch }: Needed<'resolve' | 'patch'>,
): Record<string, string> {
  return {
    ...ctx.variant.ami.tags,
    'bro:variant': ctx.variant.name,
    'bro:version': ctx.version.full,
    'bro:bottlerocket-commit': resolve.pins.bottlerocket.commit,
    'bro:admin-container-commit': resolve.pins['admin-container'].commit,
    'bro:patch-series': patchSeriesDigest(patch.series),
  };
}

const userIds = (permissions: { UserId?: string }[] | undefined) =>
  new Set((permissions ?? []).flatMap((p) => (p.UserId ? [p.UserId] : [])));

/**
 * Who may launch: accounts, and the organizations and OUs of
 * share-with-organizations and share-with-organizational-units, each named by
 * its ID or ARN. Snapshots take account IDs only (EC2 has no organization
 * grant for createVolumePermission), so an organization's accounts launch the
 * AMI without being able to copy its snapshots.
 */
export const launchPrincipals = (variant: Variant): string[] => [
  ...variant['share-with'],
  ...variant['share-with-organizations'],
  ...variant['share-with-organizational-units'],
];
export const isAccountId = (principal: string) => /^\d{12}$/.test(principal);
export const accountsOnly = (principals: readonly string[]) => principals.filter(isAccountId);
const principalIds = (
  permissions: { UserId?: string; OrganizationArn?: string; OrganizationalUnitArn?: string }[] | undefined,
) =>
  new Set(
    (permissions ?? []).flatMap((p) =>
      [p.UserId, p.OrganizationArn, p.OrganizationalUnitArn].filter((id) => id !== undefined),
    ),
  );
const launchPermissions = (principals: readonly string[]) =>
  principals.map((id) =>
    isAccountId(id) ? { UserId: id } : id.includes(':ou/') ? { OrganizationalUnitArn: id } : { OrganizationArn: id },
  );
export const snapshotsOf = (image: Image) =>
  (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
const users = (ids: readonly string[]) => ids.map((UserId) => ({ UserId }));

/** A list of accounts on an AMI or a snapshot, read and changed with EC2. */
export interface Permission {
  name: string;
  read(): Promise<Set<string>>;
  change(operation: 'Add' | 'Remove', accounts: readonly string[]): Promise<unknown>;
}

export const launchPermission = (ec2: Ec2, imageId: string): Permission => ({
  name: 'launch',
  read: async () =>
    principalIds(
      (await ec2.describeImageAttribute({ ImageId: imageId, Attribute: 'launchPermission' })).LaunchPermissions,
    ),
  change: (operation, accounts) =>
    ec2.modifyImageAttribute({ ImageId: imageId, LaunchPermission: { [operation]: launchPermissions(accounts) } }),
});

export const volumePermission = (ec2: Ec2, snapshotId: string): Permission => ({
  name: `${snapshotId} volume`,
  read: async () =>
    userIds(
      (await ec2.describeSnapshotAttribute({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }))
        .CreateVolumePermissions,
    ),
  change: (operation, accounts) =>
    ec2.modifySnapshotAttribute({
      SnapshotId: snapshotId,
      Attribute: 'createVolumePermission',
      CreateVolumePermission: { [operation]: users(accounts) },
    }),
});

/** Adds the accounts that are missing (or removes those present); returns what changed, e.g. `launch +2`. */
export async function update(
  permission: Permission,
  operation: 'Add' | 'Remove',
  accounts: readonly string[],
): Promise<string[]> {
  const have = await permission.read();
  const todo = accounts.filter((a) => have.has(a) === (operation === 'Remove'));
  if (!todo.length) return [];
  await permission.change(operation, todo);
  return [`${permission.name} ${operation === 'Add' ? '+' : '-'}${todo.length}`];
}

/** Waits (bounded) until the AMI is available; a copy still pending when the wait is over is an error for its region. */
export async function waitUntilAvailable(ec2: Ec2, imageId: string, wait: WaitOptions): Promise<Image> {
  const result = await ec2.waitForImageAvailable(imageId, wait);
  if (result.state === 'SUCCESS' && result.image) return result.image;
  if (result.state === 'ABORTED') throw new InterruptedError(`Interrupted while waiting for ${imageId}`);
  const last = result.error ? ` (last error: ${errorLine(result.error)})` : '';
  if (result.state === 'FAILURE') {
    throw new StepError(STEP, `${imageId} failed: ${result.image?.StateReason?.Message ?? 'no reason given'}`, {
      hint: 'Deregister the failed AMI, then rerun `bro build --from ami-register`.',
    });
  }
  // A timed-out waiter does not say what it saw last: ask once more.
  const image = await ec2.describeImages({ ImageIds: [imageId] }).then(
    (r) => r.Images?.[0],
    () => undefined,
  );
  throw new StepError(
    STEP,
    `${imageId} is still ${image?.State ?? 'not visible'} after ${formatSeconds(wait.maxWaitSeconds)}${last}`,
    {
      hint: 'Regional AMI copies can take more than 10 minutes. Rerun `bro build` later (it only finishes what is missing), or raise --wait-timeout.',
    },
  );
}

/**
 * What tells this build's AMI from another one: its name, and the `bro:*` tags
 * share put on it. Returns the differences, empty when it is this build's.
 * `requireTags`: the AMI must carry them (revoke: bro changes only AMIs it shared).
 */
export function identityProblems(
  image: Image,
  expected: { name?: string; tags: Record<string, string> },
  requireTags = false,
): string[] {
  const problems: string[] = [];
  if (expected.name !== undefined && image.Name !== expected.name)
    problems.push(`its name is ${image.Name ?? '(none)'}, not ${expected.name}`);
  for (const [key, value] of Object.entries(expected.tags)) {
    if (!key.startsWith('bro:')) continue;
    const found = image.Tags?.find((t) => t.Key === key)?.Value;
    if (found === undefined ? requireTags : found !== value)
      problems.push(`${key} = ${found ?? '(none)'} (this build: ${value})`);
  }
  return problems;
}

const IDENTITY_HINT =
  'pubsys reuses an AMI whose name exists. Publish this build under a new build suffix (e.g. --version 1.0.4-hc2), or deregister the earlier AMIs (and delete their snapshots) and rerun `bro build --from ami-register`.';

/** The refusal for an AMI that is not this build's: nothing is changed on it. */
function notThisBuild(imageId: string, problems: string[]): StepError {
  return new StepError(
    STEP,
    `${imageId} is an earlier build published under the same name, not this one: ${problems.join(', ')}`,
    { hint: IDENTITY_HINT },
  );
}

export interface ShareRequest {
  imageId: string;
  /** The AMI name this build registers; checked when given. */
  name?: string;
  accounts: readonly string[];
  /** Accounts bro granted earlier that are no longer listed: their permissions are removed. */
  drop?: readonly string[];
  tags: Record<string, string>;
  wait: WaitOptions;
  progress: (line: string) => void;
}

/** Waits until the AMI is available and checks that it is this build's (name, `bro:*` tags): changes nothing. */
export async function checkImage(
  ec2: Ec2,
  { imageId, name, tags, wait, progress }: Omit<ShareRequest, 'accounts' | 'drop'>,
): Promise<Image> {
  progress(`waiting until ${imageId} is available`);
  const image = await waitUntilAvailable(ec2, imageId, wait);
  // pubsys reuses an AMI that already has the name: after a rebuild from other sources under the same
  // version, the AMI is still the earlier build, and tagging it as this one would lie.
  const problems = identityProblems(image, { name, tags });
  if (problems.length) throw notThisBuild(imageId, problems);
  return image;
}

/**
 * What share changes on one region's AMI, decided before any call: the
 * permission lists to update, and the tags. `grantImage` carries it out and
 * `shareActions` describes it for the plan, so the two cannot drift.
 */
export interface ShareIntent {
  updates: { permission: 'volume' | 'launch'; operation: 'Add' | 'Remove'; accounts: readonly string[] }[];
  tags: Record<string, string>;
}

export function shareIntent({
  accounts,
  drop = [],
  tags,
}: Pick<ShareRequest, 'accounts' | 'drop' | 'tags'>): ShareIntent {
  const updates: ShareIntent['updates'] = [
    { permission: 'volume', operation: 'Add', accounts: accountsOnly(accounts) },
    { permission: 'launch', operation: 'Add', accounts },
  ];
  if (drop.length)
    updates.push(
      { permission: 'volume', operation: 'Remove', accounts: accountsOnly(drop) },
      { permission: 'launch', operation: 'Remove', accounts: drop },
    );
  // Organizations and OUs only: no snapshot call.
  return { updates: updates.filter((u) => u.accounts.length || u.permission === 'launch'), tags };
}

const ec2Action =
  (region: string) =>
  (a: Omit<AwsAction, 'step' | 'by' | 'region' | 'service'>): AwsAction => ({
    step: STEP,
    by: 'bro',
    region,
    service: 'ec2',
    ...a,
  });

/** The EC2 calls share makes in one region (`checkImage`, then `grantImage` on `intent`), for the plan. */
export function shareActions(region: string, name: string, intent: ShareIntent): AwsAction[] {
  const action = ec2Action(region);
  const actions = [
    action({ action: 'DescribeImages', target: name, note: 'until available; refuse an AMI that is not this build' }),
  ];
  for (const u of intent.updates) {
    const change = u.operation === 'Add' ? 'add' : 'remove';
    const why = `${change} ${u.operation === 'Add' ? 'where missing' : '(granted by bro, no longer in share-with)'}`;
    if (u.permission === 'volume') {
      actions.push(
        action({
          action: 'DescribeSnapshotAttribute',
          target: 'each snapshot of the AMI',
          note: 'createVolumePermission',
          perSnapshot: true,
        }),
        action({
          action: 'ModifySnapshotAttribute',
          target: 'each snapshot of the AMI',
          note: `createVolumePermission ${why}`,
          change,
          accounts: [...u.accounts],
          perSnapshot: true,
        }),
      );
    } else {
      actions.push(
        action({ action: 'DescribeImageAttribute', target: 'the AMI', note: 'launchPermission' }),
        action({
          action: 'ModifyImageAttribute',
          target: 'the AMI',
          note: `launchPermission ${why}`,
          change,
          accounts: [...u.accounts],
        }),
      );
    }
  }
  actions.push(
    action({
      action: 'CreateTags',
      target: 'the AMI and its snapshots',
      note: `the ${Object.keys(intent.tags).length} tags above, if any differs`,
    }),
    action({ action: 'DescribeImageAttribute', target: 'the AMI', note: 'launchPermission: verify' }),
  );
  return actions;
}

/** Grants the missing permissions (and removes those of `drop`) on an AMI `checkImage` accepted, tags it, verifies. */
export async function grantImage(
  ec2: Ec2,
  image: Image,
  request: Pick<ShareRequest, 'accounts' | 'drop' | 'tags'>,
): Promise<RegionShare> {
  const imageId = image.ImageId as string;
  const snapshotIds = snapshotsOf(image);
  const launch = launchPermission(ec2, imageId);
  const { updates, tags } = shareIntent(request);
  const tagList = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const retag = tagList.some(({ Key, Value }) => image.Tags?.find((t) => t.Key === Key)?.Value !== Value);
  const changes = (
    await Promise.all([
      ...updates.flatMap((u) =>
        u.permission === 'volume'
          ? snapshotIds.map((id) => update(volumePermission(ec2, id), u.operation, u.accounts))
          : [update(launch, u.operation, u.accounts)],
      ),
      retag ? ec2.createTags({ Resources: [imageId, ...snapshotIds], Tags: tagList }).then(() => ['tags']) : [],
    ])
  ).flat();
  // What EC2 holds now (others' grants included): the manifest says that, and it verifies what was added.
  const granted = await launch.read();
  const { accounts } = request;
  const absent = accounts.filter((a) => !granted.has(a));
  if (absent.length) {
    throw new StepError(
      STEP,
      `DescribeImageAttribute shows no launch permission on ${imageId} for ${absent.join(', ')} after adding it`,
      {
        hint: 'Check that the accounts exist and that the AMI is not blocked from sharing, then rerun.',
      },
    );
  }
  return { imageId, snapshotIds, accounts: [...granted].sort(), changes };
}

/**
 * Whether what share recorded for a region still holds in EC2: every principal (account,
 * organization, OU) can launch the AMI, and every account can create volumes from each of its
 * snapshots. Returns the region's share as EC2 shows it now, or undefined when a permission is
 * gone (an interrupted revoke, a hand edit): share then runs again.
 */
export async function verifyShare(
  ec2: Ec2,
  recorded: RegionShare,
  principals: readonly string[],
): Promise<RegionShare | undefined> {
  const [launch, ...volumes] = await Promise.all([
    launchPermission(ec2, recorded.imageId).read(),
    ...recorded.snapshotIds.map((id) => volumePermission(ec2, id).read()),
  ]).catch((error: unknown) => {
    const gone = isAwsError(error, 'InvalidAMIID.NotFound')
      ? `${recorded.imageId} is gone (deregistered outside bro)`
      : isAwsError(error, 'InvalidSnapshot.NotFound')
        ? `a snapshot of ${recorded.imageId} is gone (deleted outside bro)`
        : undefined;
    if (gone)
      throw new StepError(STEP, `${gone}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Register the AMIs again: rerun the build with `--from ami-register`, plus `--overwrite-parameters` if the variant publishes SSM parameters (they still name the AMI that is gone).',
      });
    throw error;
  });
  const holds = (have: Set<string>, wanted: readonly string[]) => wanted.every((p) => have.has(p));
  const accounts = accountsOnly(principals);
  if (!holds(launch, principals) || !volumes.every((have) => holds(have, accounts))) return undefined;
  const { imageId, snapshotIds } = recorded;
  return { imageId, snapshotIds, accounts: [...launch].sort(), changes: [] };
}

/** The calls `verifyShare` makes in one region, for the plan: a rerun makes them before it skips the share. */
export function verifyActions(region: string): AwsAction[] {
  const action = ec2Action(region);
  const note = 'a rerun: verify the recorded grants before skipping the share';
  return [
    action({ action: 'DescribeImageAttribute', target: 'the AMI', note: `launchPermission; ${note}`, onRerun: true }),
    action({
      action: 'DescribeSnapshotAttribute',
      target: 'each snapshot of the AMI',
      note: `createVolumePermission; ${note}`,
      perSnapshot: true,
      onRerun: true,
    }),
  ];
}

export async function shareImage(ec2: Ec2, request: ShareRequest): Promise<RegionShare> {
  const image = await checkImage(ec2, request);
  request.progress(`sharing ${request.imageId} and ${snapshotsOf(image).length} snapshots`);
  return grantImage(ec2, image, request);
}

/**
 * The accounts bro granted on a region's AMI, with the tags that identify the
 * build: `grants:<region>` in the state file. Share is declarative for these
 * (an account no longer in share-with loses what bro gave it; grants made by
 * others are never touched); revoke changes only AMIs recorded here.
 */
const GRANTS = recordKind(
  'grants:',
  z.object({
    imageId: z.string(),
    accounts: z.array(z.string()),
    tags: z.record(z.string(), z.string()),
  }),
  "without it, bro takes what it granted there from the region's share record, if there is one, or leaves the AMI's permissions alone.",
);
export type Grants = RecordOf<typeof GRANTS>;

/** What share records for each region (`share:<region>`) and for the step. */
const RegionShareSchema = z.object({
  imageId: z.string(),
  snapshotIds: z.array(z.string()),
  accounts: z.array(z.string()),
  changes: z.array(z.string()),
});

const grantsId = (region: string) => `${GRANTS.prefix}${region}`;

export async function readGrants(state: StateStore, region: string): Promise<Grants | undefined> {
  const grants = await readRecord(state, GRANTS, grantsId(region));
  if (grants) return grants;
  // A state file from before grants were recorded: a finished share of the region says the same, minus the tags.
  const share = await state.get(`${STEP}:${region}`);
  const shared = RegionShareSchema.pick({ imageId: true, accounts: true })
    .partial({ accounts: true })
    .safeParse(share?.outputs);
  if (share?.status === 'done' && shared.success)
    return { imageId: shared.data.imageId, accounts: shared.data.accounts ?? [], tags: {} };
  return undefined;
}

export async function writeGrants(state: StateStore, region: string, grants: Grants): Promise<void> {
  await writeRecord(state, GRANTS, grantsId(region), grants);
}

/** One record, `build-tags` (`grants:tags` before: read too, so a state file written then still counts). */
const BUILD_TAGS = recordKind(
  'build-tags',
  z.object({ tags: z.record(z.string(), z.string()) }),
  "without it, bro share --revoke tells this build's AMIs by the manifest's tags (or by variant and version).",
);
const OLD_BUILD_TAGS_ID = 'grants:tags';

/**
 * The tags that identify this build (`releaseTags`), recorded before share checks any AMI: revoke
 * tells this build's AMI from an earlier one under the same name by them, even where nothing was granted.
 */
export async function writeBuildTags(state: StateStore, tags: Record<string, string>): Promise<void> {
  await writeRecord(state, BUILD_TAGS, BUILD_TAGS.prefix, { tags });
  await state.remove([OLD_BUILD_TAGS_ID]);
}

export async function readBuildTags(state: StateStore): Promise<Record<string, string> | undefined> {
  return (
    (await readRecord(state, BUILD_TAGS, BUILD_TAGS.prefix)) ?? (await readRecord(state, BUILD_TAGS, OLD_BUILD_TAGS_ID))
  )?.tags;
}

/** Accounts bro granted on `imageId` earlier that are not in `accounts` any more. */
export const droppedAccounts = (grants: Grants | undefined, imageId: string, accounts: readonly string[]) =>
  grants && grants.imageId === imageId ? grants.accounts.filter((a) => !accounts.includes(a)) : [];

/** For the plan: per region, the accounts bro granted on this version's AMI that share-with no longer lists. */
export async function droppedFromShare(ctx: BuildContext): Promise<Record<string, string[]>> {
  const dropped: Record<string, string[]> = {};
  for (const region of ctx.variant.regions) {
    const grants = await readGrants(ctx.state, region);
    const sameBuild = grants?.tags['bro:version'] === ctx.version.full;
    const listed = launchPrincipals(ctx.variant);
    const accounts = sameBuild ? grants.accounts.filter((a) => !listed.includes(a)) : [];
    if (accounts.length) dropped[region] = accounts;
  }
  return dropped;
}

export const describeShare = (s: RegionShare & { skipped?: boolean }) =>
  `${s.imageId} ${s.skipped ? 'done earlier' : s.changes.length ? s.changes.join(', ') : 'already shared'}`;

const withoutSkipped = ({ imageId, snapshotIds, accounts, changes }: RegionShare): RegionShare => ({
  imageId,
  snapshotIds,
  accounts,
  changes,
});

export const shareStep = defineStep({
  id: STEP,
  title: 'Share the AMIs and snapshots with every account',
  external: true,
  // Nodes pull the admin image at boot: no AMI is shared before the push put it in every region.
  needs: ['resolve', 'patch', 'ami-register', 'admin-image-push'],
  inputs: (ctx, input) => ({
    amis: input['ami-register'].amis,
    accounts: launchPrincipals(ctx.variant),
    tags: releaseTags(ctx, input),
  }),
  outputs: z.object({ regions: z.record(z.string(), RegionShareSchema) }),
  // Inputs unchanged is not enough: the grants are verified in EC2 (a revoke, or a hand, may have removed some).
  async verify(ctx, outputs) {
    const aws = requireAws(ctx);
    const accounts = launchPrincipals(ctx.variant);
    const verified = await forEachRegion(ctx.variant.regions, ctx.settings.regionConcurrency, async (region) => {
      const share = outputs.regions[region];
      return share ? verifyShare(aws.ec2(region), share, accounts) : undefined;
    });
    throwIfAnyRegionFailed(
      STEP,
      'Verifying the grants',
      verified,
      (share) => (share ? 'verified' : 'a grant is gone'),
      'Otherwise, rerun `bro build` once EC2 answers.',
    );
    return verified.every((o) => o.value !== undefined);
  },
  async run(ctx, input, task, { force }) {
    const { amis } = input['ami-register'];
    const { regions } = ctx.variant;
    const aws = requireAws(ctx);
    const accounts = launchPrincipals(ctx.variant);
    const tags = releaseTags(ctx, input);
    const name = amiName(ctx.variant, ctx.version);
    const wait = { maxWaitSeconds: ctx.settings.waitTimeoutSeconds, minDelaySeconds: ctx.settings.waitPollSeconds };
    const progressIn = (region: string) => (line: string) => (task.output = `${region}: ${line}`);
    await writeBuildTags(ctx.state, tags);

    // All or nothing: every region's AMI is available and is this build's before anything is granted anywhere.
    const checked = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const imageId = inRegion(amis, region, STEP, 'ami-register').id;
      const { digest: inputs, done } = await checkDone(ctx.state, `${STEP}:${region}`, {
        inputs: { imageId, accounts, tags },
        outputs: RegionShareSchema,
        force,
      });
      if (done) {
        // What EC2 shows now, not what the record says: a grant removed since is made again below.
        const verified = await verifyShare(aws.ec2(region), done.outputs, accounts);
        if (verified) return { region, inputs, done: { ...verified, skipped: true } };
      }
      const image = await checkImage(aws.ec2(region), { imageId, name, tags, wait, progress: progressIn(region) });
      return { region, inputs, image, drop: droppedAccounts(await readGrants(ctx.state, region), imageId, accounts) };
    });
    if (checked.some((o) => o.error !== undefined)) {
      throwIfAnyRegionFailed(
        STEP,
        'Checking the AMIs before sharing',
        checked,
        () => 'ready, not shared',
        'Nothing was shared in any region. Rerun `bro build` once the cause is fixed.',
      );
    }
    const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const prepared = checked.find((o) => o.region === region)!.value!;
      if (prepared.done) return prepared.done;
      const started = new Date();
      progressIn(region)(`sharing ${prepared.image.ImageId} and ${snapshotsOf(prepared.image).length} snapshots`);
      const imageId = prepared.image.ImageId as string;
      // Recorded before the grant too: a bro killed in the middle of it still knows whom it may have granted.
      const recorded = await readGrants(ctx.state, region);
      const earlier = recorded?.imageId === imageId ? recorded.accounts : [];
      await writeGrants(ctx.state, region, { imageId, accounts: [...new Set([...earlier, ...accounts])], tags });
      const shared = await grantImage(aws.ec2(region), prepared.image, { accounts, drop: prepared.drop, tags });
      await writeGrants(ctx.state, region, { imageId, accounts: [...accounts], tags });
      await ctx.state.put(`${STEP}:${region}`, stepRecord('done', prepared.inputs, shared, started));
      if (prepared.drop?.length) shared.changes.push(`revoked ${prepared.drop.join(', ')} (no longer in share-with)`);
      return shared;
    });
    throwIfAnyRegionFailed(
      STEP,
      'Sharing',
      outcomes,
      describeShare,
      'Rerun `bro build`: it shares only in the regions that failed.',
    );
    const shares = Object.fromEntries(outcomes.map((o) => [o.region, withoutSkipped(o.value as RegionShare)]));
    task.title = `Share: ${regionSummary(outcomes, describeShare).join('; ')}`;
    return { regions: shares };
  },
});

function formatSeconds(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
}
