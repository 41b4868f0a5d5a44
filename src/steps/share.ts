import type { Image } from '@aws-sdk/client-ec2';
import type { Ec2, WaitOptions } from '../adapters/aws.js';
import { InterruptedError, StepError } from '../errors.js';
import type { PipelineStep, PublishContext } from '../pipeline.js';
import { digestOf, runRecorded } from '../state.js';
import { errorLine, forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { requireAws, requireOutput } from './requires.js';

/**
 * Share, with EC2, region by region (concurrently, with a bound): wait until
 * the regional copy is `available`, give every account createVolumePermission
 * on each snapshot of its block device mappings and launchPermission on the
 * AMI, tag both, and verify with DescribeImageAttribute. A permission already
 * there is left alone, so a rerun makes no modifying call; one region failing
 * does not stop the others, and a rerun redoes only the regions that failed.
 */
export interface RegionShare {
  imageId: string;
  snapshotIds: string[];
  /** Accounts that can launch the AMI. */
  accounts: string[];
  /** What this run changed, e.g. `launch +2`; empty when everything was already there. */
  changes: string[];
}

const STEP = 'share';

/** One digest for both patch series (bottlerocket and admin-container). */
export function patchSeriesDigest(ctx: PublishContext): string {
  return digestOf({ bottlerocket: ctx.series?.bottlerocket?.digest ?? null, 'admin-container': ctx.series?.['admin-container']?.digest ?? null });
}

/** The tags on every AMI and snapshot: the variant's own, then what identifies the build. */
export function releaseTags(ctx: PublishContext): Record<string, string> {
  return {
    ...ctx.variant.ami.tags,
    'bro:variant': ctx.variant.name,
    'bro:version': ctx.version.full,
    'bro:bottlerocket-commit': ctx.pins?.bottlerocket.commit ?? '',
    'bro:admin-container-commit': ctx.pins?.['admin-container'].commit ?? '',
    'bro:patch-series': patchSeriesDigest(ctx),
  };
}

const userIds = (permissions: { UserId?: string }[] | undefined) => new Set((permissions ?? []).flatMap((p) => (p.UserId ? [p.UserId] : [])));
const snapshotsOf = (image: Image) => (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
const users = (ids: readonly string[]) => ids.map((UserId) => ({ UserId }));

/** A list of accounts on an AMI or a snapshot, read and changed with EC2. */
interface Permission {
  name: string;
  read(): Promise<Set<string>>;
  change(operation: 'Add' | 'Remove', accounts: readonly string[]): Promise<unknown>;
}

const launchPermission = (ec2: Ec2, imageId: string): Permission => ({
  name: 'launch',
  read: async () => userIds((await ec2.describeImageAttribute({ ImageId: imageId, Attribute: 'launchPermission' })).LaunchPermissions),
  change: (operation, accounts) => ec2.modifyImageAttribute({ ImageId: imageId, LaunchPermission: { [operation]: users(accounts) } }),
});

const volumePermission = (ec2: Ec2, snapshotId: string): Permission => ({
  name: `${snapshotId} volume`,
  read: async () =>
    userIds((await ec2.describeSnapshotAttribute({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' })).CreateVolumePermissions),
  change: (operation, accounts) =>
    ec2.modifySnapshotAttribute({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', CreateVolumePermission: { [operation]: users(accounts) } }),
});

/** Adds the accounts that are missing (or removes those present); returns what changed, e.g. `launch +2`. */
async function update(permission: Permission, operation: 'Add' | 'Remove', accounts: readonly string[]): Promise<string[]> {
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
  throw new StepError(STEP, `${imageId} is still ${image?.State ?? 'not visible'} after ${formatSeconds(wait.maxWaitSeconds)}${last}`, {
    hint: 'Regional AMI copies can take more than 10 minutes. Rerun `bro build` later (it only finishes what is missing), or raise --wait-timeout.',
  });
}

export interface ShareRequest {
  imageId: string;
  accounts: readonly string[];
  tags: Record<string, string>;
  wait: WaitOptions;
  progress: (line: string) => void;
}

export async function shareImage(ec2: Ec2, { imageId, accounts, tags, wait, progress }: ShareRequest): Promise<RegionShare> {
  progress(`waiting until ${imageId} is available`);
  const image = await waitUntilAvailable(ec2, imageId, wait);
  const snapshotIds = snapshotsOf(image);
  progress(`sharing ${imageId} and ${snapshotIds.length} snapshots`);
  const launch = launchPermission(ec2, imageId);
  const tagList = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  // pubsys reuses an AMI that already has the name: after a rebuild from other sources under the same
  // version, the AMI is still the earlier build, and tagging it as this one would lie.
  const other = tagList.flatMap(({ Key, Value }) => {
    const found = Key.startsWith('bro:') ? image.Tags?.find((t) => t.Key === Key)?.Value : undefined;
    return found !== undefined && found !== Value ? [`${Key} = ${found} (this build: ${Value})`] : [];
  });
  if (other.length) {
    throw new StepError(STEP, `${imageId} is an earlier build published under the same name, not this one: ${other.join(', ')}`, {
      hint: 'pubsys reuses an AMI whose name exists. Publish this build under a new build suffix (e.g. --version 1.0.4-hc2), or deregister the earlier AMIs (and delete their snapshots) and rerun `bro build --from ami-register`.',
    });
  }
  const retag = tagList.some(({ Key, Value }) => image.Tags?.find((t) => t.Key === Key)?.Value !== Value);
  const changes = (
    await Promise.all([
      ...snapshotIds.map((id) => update(volumePermission(ec2, id), 'Add', accounts)),
      update(launch, 'Add', accounts),
      retag ? ec2.createTags({ Resources: [imageId, ...snapshotIds], Tags: tagList }).then(() => ['tags']) : [],
    ])
  ).flat();
  if (changes.some((c) => c.startsWith('launch'))) {
    const granted = await launch.read();
    const absent = accounts.filter((a) => !granted.has(a));
    if (absent.length) {
      throw new StepError(STEP, `DescribeImageAttribute shows no launch permission on ${imageId} for ${absent.join(', ')} after adding it`, {
        hint: 'Check that the accounts exist and that the AMI is not blocked from sharing, then rerun.',
      });
    }
  }
  return { imageId, snapshotIds, accounts: [...accounts], changes };
}

/** `bro share --revoke`: removes launch and volume permissions for `accounts`; ones not there are left alone. */
export async function revokeImage(ec2: Ec2, imageId: string, accounts: readonly string[]): Promise<RegionShare> {
  const image = (await ec2.describeImages({ ImageIds: [imageId] })).Images?.[0];
  if (!image) throw new StepError(STEP, `${imageId} does not exist (or is not visible to these credentials)`);
  const snapshotIds = snapshotsOf(image);
  const launch = launchPermission(ec2, imageId);
  const changes = (await Promise.all([...snapshotIds.map((id) => update(volumePermission(ec2, id), 'Remove', accounts)), update(launch, 'Remove', accounts)])).flat();
  return { imageId, snapshotIds, accounts: [...(await launch.read())], changes };
}

export const describeShare = (s: RegionShare & { skipped?: boolean }) =>
  `${s.imageId} ${s.skipped ? 'done earlier' : s.changes.length ? s.changes.join(', ') : 'already shared'}`;

const withoutSkipped = ({ imageId, snapshotIds, accounts, changes }: RegionShare): RegionShare => ({ imageId, snapshotIds, accounts, changes });

export const shareStep: PipelineStep = {
  id: STEP,
  title: 'Share the AMIs and snapshots with every account',
  external: true,
  inputs: (ctx) => ({ amis: ctx.out.amis, accounts: ctx.variant['share-with'], tags: releaseTags(ctx) }),
  restore(ctx, outputs) {
    ctx.out.shares = outputs.regions as Record<string, RegionShare>;
  },
  async run(ctx, task, { force }) {
    const amis = requireOutput(ctx.out.amis, STEP, 'ami-register');
    const { regions } = ctx.variant;
    // Nodes pull the admin image at boot: no AMI is shared before it is in every region.
    const noAdmin = regions.filter((r) => !ctx.out.adminImages?.[r]);
    if (noAdmin.length) {
      throw new StepError(STEP, `The admin image is not in ${noAdmin.join(', ')}: nodes pull it at boot, so no AMI is shared yet`, {
        hint: 'Run `bro build` (or `bro build --only admin-image-push`) first.',
      });
    }
    const aws = requireAws(ctx);
    const accounts = ctx.variant['share-with'];
    const tags = releaseTags(ctx);
    const wait = { maxWaitSeconds: ctx.settings.waitTimeoutSeconds, minDelaySeconds: ctx.settings.waitPollSeconds };
    const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, (region) => {
      const imageId = requireOutput(amis[region]?.id, STEP, 'ami-register');
      const progress = (line: string) => (task.output = `${region}: ${line}`);
      return runRecorded(ctx.state, `${STEP}:${region}`, { imageId, accounts, tags }, force, () =>
        shareImage(aws.ec2(region), { imageId, accounts, tags, wait, progress }),
      );
    });
    throwIfAnyRegionFailed(STEP, 'Sharing', outcomes, describeShare, 'Rerun `bro build`: it shares only in the regions that failed.');
    ctx.out.shares = Object.fromEntries(outcomes.map((o) => [o.region, withoutSkipped(o.value as RegionShare)]));
    task.title = `Share: ${regionSummary(outcomes, describeShare).join('; ')}`;
    return { regions: ctx.out.shares };
  },
};

function formatSeconds(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
}
