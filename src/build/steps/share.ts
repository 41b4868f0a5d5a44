import type { RegionShare } from '../step.js';
import type { Image } from '@aws-sdk/client-ec2';
import type { Ec2, WaitOptions } from '../../adapters/aws.js';
import type { AwsAction } from '../aws-actions.js';
import { InterruptedError, StepError } from '../../shared/errors.js';
import type { Variant } from '../../config/variant.js';
import type { BuildContext } from '../context.js';
import type { PipelineStep } from '../step.js';
import { amiName } from '../naming.js';
import { digestOf, isDone, stepRecord, type StateStore } from '../state.js';
import { errorLine, forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { requireAws, requireOutput } from './requires.js';

const STEP = 'share';

/** One digest for both patch series (bottlerocket and admin-container). */
export function patchSeriesDigest(ctx: BuildContext): string {
  return digestOf({
    bottlerocket: ctx.series?.bottlerocket?.digest ?? null,
    'admin-container': ctx.series?.['admin-container']?.digest ?? null,
  });
}

/** The tags on every AMI and snapshot: the variant's own, then what identifies the build. */
export function releaseTags(ctx: BuildContext): Record<string, string> {
  return {
    ...ctx.variant.ami.tags,
    'bro:variant': ctx.variant.name,
    'bro:version': ctx.version.full,
    'bro:bottlerocket-commit': ctx.pins?.bottlerocket.commit ?? '',
    'bro:admin-container-commit': ctx.pins?.['admin-container'].commit ?? '',
    'bro:patch-series': patchSeriesDigest(ctx),
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
const accountsOnly = (principals: readonly string[]) => principals.filter(isAccountId);
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
const snapshotsOf = (image: Image) =>
  (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
const users = (ids: readonly string[]) => ids.map((UserId) => ({ UserId }));

/** A list of accounts on an AMI or a snapshot, read and changed with EC2. */
interface Permission {
  name: string;
  read(): Promise<Set<string>>;
  change(operation: 'Add' | 'Remove', accounts: readonly string[]): Promise<unknown>;
}

const launchPermission = (ec2: Ec2, imageId: string): Permission => ({
  name: 'launch',
  read: async () =>
    principalIds(
      (await ec2.describeImageAttribute({ ImageId: imageId, Attribute: 'launchPermission' })).LaunchPermissions,
    ),
  change: (operation, accounts) =>
    ec2.modifyImageAttribute({ ImageId: imageId, LaunchPermission: { [operation]: launchPermissions(accounts) } }),
});

const volumePermission = (ec2: Ec2, snapshotId: string): Permission => ({
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
async function update(
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

/** The EC2 calls share makes in one region (`checkImage`, then `grantImage` on `intent`), for the plan. */
export function shareActions(region: string, name: string, intent: ShareIntent): AwsAction[] {
  const action = (a: Omit<AwsAction, 'step' | 'by' | 'region' | 'service'>): AwsAction => ({
    step: STEP,
    by: 'bro',
    region,
    service: 'ec2',
    ...a,
  });
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
export interface Grants {
  imageId: string;
  accounts: string[];
  tags: Record<string, string>;
}

const grantsId = (region: string) => `grants:${region}`;

export async function readGrants(state: StateStore, region: string): Promise<Grants | undefined> {
  const record = await state.get(grantsId(region));
  if (record?.status === 'done' && typeof record.outputs.imageId === 'string')
    return record.outputs as unknown as Grants;
  // A state file from before grants were recorded: a finished share of the region says the same, minus the tags.
  const share = await state.get(`${STEP}:${region}`);
  const shared = share?.outputs as Partial<RegionShare> | undefined;
  if (share?.status === 'done' && typeof shared?.imageId === 'string')
    return { imageId: shared.imageId, accounts: shared.accounts ?? [], tags: {} };
  return undefined;
}

export async function writeGrants(state: StateStore, region: string, grants: Grants): Promise<void> {
  await state.put(
    grantsId(region),
    stepRecord('done', digestOf(grants.imageId), grants as unknown as Record<string, unknown>, new Date()),
  );
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

/** `bro share --revoke` on one region's AMI, checked beforehand: removes launch and volume permissions for `accounts` (ones not there are left alone). */
export async function revokeImage(ec2: Ec2, image: Image, accounts: readonly string[]): Promise<RegionShare> {
  const imageId = image.ImageId as string;
  const snapshotIds = snapshotsOf(image);
  const launch = launchPermission(ec2, imageId);
  const changes = (
    await Promise.all([
      ...snapshotIds.map((id) => update(volumePermission(ec2, id), 'Remove', accountsOnly(accounts))),
      update(launch, 'Remove', accounts),
    ])
  ).flat();
  return { imageId, snapshotIds, accounts: [...(await launch.read())].sort(), changes };
}

/** Finds a region's AMI and checks, before anything is changed, that it is the one this build shared. */
export async function checkForRevoke(
  ec2: Ec2,
  imageId: string,
  expected: { name: string; tags: Record<string, string> },
): Promise<Image> {
  const image = (await ec2.describeImages({ ImageIds: [imageId] })).Images?.[0];
  if (!image) throw new StepError(STEP, `${imageId} does not exist (or is not visible to these credentials)`);
  const problems = identityProblems(image, expected, true);
  if (problems.length) {
    throw new StepError(
      STEP,
      `${imageId} is not this build's AMI, so bro leaves its permissions alone: ${problems.join(', ')}`,
      {
        hint: "bro revokes only what it shared for this variant and version. Check the version (and the workspace: --work-dir), or change that AMI's permissions by hand.",
      },
    );
  }
  return image;
}

export const describeShare = (s: RegionShare & { skipped?: boolean }) =>
  `${s.imageId} ${s.skipped ? 'done earlier' : s.changes.length ? s.changes.join(', ') : 'already shared'}`;

export const describeRevoke = (s: RegionShare) =>
  `${s.imageId} ${s.changes.length ? s.changes.join(', ') : 'nothing to remove'}`;

const withoutSkipped = ({ imageId, snapshotIds, accounts, changes }: RegionShare): RegionShare => ({
  imageId,
  snapshotIds,
  accounts,
  changes,
});

export const shareStep: PipelineStep = {
  id: STEP,
  title: 'Share the AMIs and snapshots with every account',
  external: true,
  inputs: (ctx) => ({ amis: ctx.out.amis, accounts: launchPrincipals(ctx.variant), tags: releaseTags(ctx) }),
  restore(ctx, outputs) {
    ctx.out.shares = outputs.regions as Record<string, RegionShare>;
  },
  async run(ctx, task, { force }) {
    const amis = requireOutput(ctx.out.amis, STEP, 'ami-register');
    const { regions } = ctx.variant;
    // Nodes pull the admin image at boot: no AMI is shared before it is in every region.
    const noAdmin = regions.filter((r) => !ctx.out.adminImages?.[r]);
    if (noAdmin.length) {
      throw new StepError(
        STEP,
        `The admin image is not in ${noAdmin.join(', ')}: nodes pull it at boot, so no AMI is shared yet`,
        {
          hint: 'Run `bro build` (or `bro build --only admin-image-push`) first.',
        },
      );
    }
    const aws = requireAws(ctx);
    const accounts = launchPrincipals(ctx.variant);
    const tags = releaseTags(ctx);
    const name = amiName(ctx.variant, ctx.version);
    const wait = { maxWaitSeconds: ctx.settings.waitTimeoutSeconds, minDelaySeconds: ctx.settings.waitPollSeconds };
    const progressIn = (region: string) => (line: string) => (task.output = `${region}: ${line}`);

    // All or nothing: every region's AMI is available and is this build's before anything is granted anywhere.
    const checked = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const imageId = requireOutput(amis[region]?.id, STEP, 'ami-register');
      const inputs = digestOf({ imageId, accounts, tags });
      const record = await ctx.state.get(`${STEP}:${region}`);
      if (!force && isDone(record, inputs))
        return { region, inputs, done: { ...(record.outputs as unknown as RegionShare), skipped: true } };
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
      await ctx.state.put(
        `${STEP}:${region}`,
        stepRecord('done', prepared.inputs, shared as unknown as Record<string, unknown>, started),
      );
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
    ctx.out.shares = Object.fromEntries(outcomes.map((o) => [o.region, withoutSkipped(o.value as RegionShare)]));
    task.title = `Share: ${regionSummary(outcomes, describeShare).join('; ')}`;
    return { regions: ctx.out.shares };
  },
};

function formatSeconds(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
}
