import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Image } from '@aws-sdk/client-ec2';
import type { Ec2 } from '../adapters/aws.js';
import type { Ssm } from '../adapters/ssm.js';
import { isAwsError } from '../adapters/aws.js';
import { z } from 'zod';
import { StepError, UsageError } from '../shared/errors.js';
import {
  channelRecords,
  defaultManifestPath,
  forEachRegion,
  forgetReleaseRegion,
  parameterNames,
  readManifest,
  readRecord,
  readRecords,
  recordKind,
  recordedReleases,
  requireAws,
  throwIfAnyRegionFailed,
  writeRecord,
  type PublishContext,
  type RegionOutcome,
  type ReleaseRecord,
} from '../build/index.js';

const STEP = 'prune';

/**
 * `bro prune --keep N`: removes this variant's older builds (their AMIs, then
 * their snapshots, and their version parameters) in every region, keeping the
 * N newest. Only bro's own: a build recorded in this workspace (the state's
 * release records, or the manifest), whose AMI is owned by this account and
 * carries this variant's `bro:variant`, `bro:version` and `bro:patch-series`
 * tags. Never an AMI a channel points to. A plan first; `--yes` acts.
 */
export interface PruneRequest {
  keep: number;
  yes: boolean;
}

export function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1)
    throw new UsageError(`--keep ${keep}: keep at least 1`, {
      hint: '--keep N protects the N newest builds of the variant (the one nodes launch now among them); bro prune never removes them all.',
    });
}

/** One build's AMI in one region, and what prune does with it. */
export interface PruneItem {
  version: string;
  region: string;
  imageId: string;
  snapshotIds: string[];
  parameters: string[];
  /** Why it stays; absent when it goes. */
  kept?: string;
}

/** `prune:<version>:<region>`: a removal started (written before the first call), so a rerun finishes it. */
const REMOVALS = recordKind(
  'prune:',
  z.object({ imageId: z.string(), snapshotIds: z.array(z.string()) }),
  "without it, a rerun of bro prune no longer finishes that removal: where the AMI is gone already, it leaves the build's snapshots alone.",
);

const pruneId = (version: string, region: string) => `${REMOVALS.prefix}${version}:${region}`;

/** The builds this workspace recorded, newest first. */
async function recordedBuilds(ctx: PublishContext): Promise<ReleaseRecord[]> {
  const builds = new Map((await recordedReleases(ctx.state)).map((r) => [r.version, r]));
  const manifestPath = ctx.settings.manifestPath ?? defaultManifestPath(ctx.workspace.root);
  if (existsSync(manifestPath)) {
    const m = await readManifest(manifestPath);
    if (m.variant === ctx.variant.name && !builds.has(m.version))
      builds.set(m.version, {
        version: m.version,
        builtAt: m.createdAt,
        regions: Object.fromEntries(
          Object.entries(m.regions).map(([r, x]) => [r, { imageId: x.ami, snapshotIds: x.snapshots }]),
        ),
      });
  }
  return [...builds.values()].sort((a, b) => (a.builtAt < b.builtAt ? 1 : a.builtAt > b.builtAt ? -1 : 0));
}

/** Parameters under the variant's path that point at an AMI: AMI → the parameters (channels and versions). */
async function pointersIn(ssm: Ssm, path: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  let token: string | undefined;
  do {
    const page = await ssm.getParametersByPath(path, token);
    for (const p of page.Parameters ?? [])
      if (p.Name?.endsWith('/image_id') && p.Value) found.set(p.Value, [...(found.get(p.Value) ?? []), p.Name]);
    token = page.NextToken;
  } while (token);
  return found;
}

const tag = (image: Image, key: string) => image.Tags?.find((t) => t.Key === key)?.Value;

async function describe(ec2: Ec2, imageId: string): Promise<Image | undefined> {
  try {
    const image = (await ec2.describeImages({ ImageIds: [imageId] })).Images?.[0];
    return image?.State === 'deregistered' ? undefined : image;
  } catch (error) {
    if (isAwsError(error, 'InvalidAMIID.NotFound') || isAwsError(error, 'InvalidAMIID.Unavailable')) return undefined;
    throw error;
  }
}

/** Decides, region by region, what goes and what stays (and why). Changes nothing. */
export async function planPrune(ctx: PublishContext, request: PruneRequest): Promise<PruneItem[]> {
  checkKeep(request.keep);
  const aws = requireAws(ctx);
  const builds = await recordedBuilds(ctx);
  const older = builds.slice(request.keep);
  if (!older.length) return [];
  const account = (await aws.sts(ctx.variant.regions[0]!).getCallerIdentity()).Account;
  const prefix = ctx.variant.infra['ssm-prefix'];
  const removing = await readRecords(ctx.state, REMOVALS);
  // Channels this workspace promoted: protected even where SSM cannot be read.
  const promoted = new Map<string, string[]>();
  for (const c of await channelRecords(ctx.state))
    promoted.set(c.to.imageId, [...(promoted.get(c.to.imageId) ?? []), `channel ${c.channel} (${c.region})`]);
  const regions = [...new Set(older.flatMap((b) => Object.keys(b.regions)))];
  const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
    const ec2 = aws.ec2(region);
    const pointers = prefix
      ? await pointersIn(aws.ssm(region), `${prefix}/${ctx.variant.name}/${ctx.variant.arch}`)
      : new Map<string, string[]>();
    const items: PruneItem[] = [];
    for (const build of older) {
      const entry = build.regions[region];
      if (!entry) continue;
      const own = prefix ? parameterNames(ctx.variant, prefix, build.version) : undefined;
      const item: PruneItem = {
        version: build.version,
        region,
        imageId: entry.imageId,
        snapshotIds: entry.snapshotIds,
        parameters: own ? [own.imageId, own.version] : [],
      };
      items.push(item);
      const channels = [
        ...(pointers.get(entry.imageId) ?? []).filter((name) => name !== own?.imageId),
        ...(promoted.get(entry.imageId) ?? []),
      ];
      if (channels.length) {
        item.kept = `a channel points to it: ${channels.join(', ')}`;
        continue;
      }
      const image = await describe(ec2, entry.imageId);
      if (!image) {
        // Gone: a removal this bro started and a kill interrupted finishes; anything else is not bro's to decide.
        if (!removing.has(pruneId(build.version, region)))
          item.kept = 'the AMI is gone already (not by bro prune): its snapshots are left alone';
        continue;
      }
      const problems = [
        image.OwnerId !== account && `owned by ${image.OwnerId ?? 'another account'}, not ${account}`,
        tag(image, 'bro:variant') !== ctx.variant.name && `bro:variant = ${tag(image, 'bro:variant') ?? '(none)'}`,
        tag(image, 'bro:version') !== build.version && `bro:version = ${tag(image, 'bro:version') ?? '(none)'}`,
        !tag(image, 'bro:patch-series') && 'no bro:patch-series tag',
      ].filter((p): p is string => typeof p === 'string');
      if (problems.length) item.kept = `not this variant's build by bro: ${problems.join(', ')}`;
      else item.snapshotIds = snapshotsOf(image);
    }
    return items;
  });
  throwIfAnyRegionFailed(STEP, 'Looking for builds to prune', outcomes, () => 'checked', 'Nothing was removed.');
  return outcomes.flatMap((o) => o.value ?? []);
}

const snapshotsOf = (image: Image) =>
  (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));

export function formatPrunePlan(items: readonly PruneItem[], keep: number, yes: boolean): string[] {
  if (!items.length) return [`Nothing to prune: at most ${keep} builds are recorded.`];
  const lines = [yes ? 'Prune:' : 'Prune plan (a dry run: rerun with --yes to act):'];
  for (const i of items) {
    lines.push(
      i.kept
        ? `  keep    ${i.region} ${i.imageId} (${i.version}): ${i.kept}`
        : `  remove  ${i.region} ${i.imageId} (${i.version}): DeregisterImage, then DeleteSnapshot ${i.snapshotIds.join(', ') || '(none)'}${i.parameters.length ? `, DeleteParameters ${i.parameters.join(', ')}` : ''}`,
    );
  }
  return lines;
}

/** Waits until EC2 no longer shows the image: only then are its snapshots free. */
async function untilGone(
  ec2: Ec2,
  imageId: string,
  wait: { pollSeconds: number; maxSeconds: number; signal: AbortSignal },
) {
  const deadline = Date.now() + wait.maxSeconds * 1000;
  while (await describe(ec2, imageId)) {
    if (Date.now() >= deadline)
      throw new StepError(STEP, `${imageId} is still registered after DeregisterImage`, {
        hint: 'Rerun `bro prune --yes` later.',
      });
    await sleep(wait.pollSeconds * 1000, undefined, { signal: wait.signal });
  }
}

/** Removes one build's AMI in one region: parameters, the image, then its snapshots. Resumable. */
async function removeOne(
  ctx: PublishContext,
  item: PruneItem,
  wait: { pollSeconds: number; maxSeconds: number; signal: AbortSignal },
) {
  const aws = requireAws(ctx);
  const ec2 = aws.ec2(item.region);
  const id = pruneId(item.version, item.region);
  const started = await readRecord(ctx.state, REMOVALS, id);
  const snapshots = started?.snapshotIds ?? item.snapshotIds;
  if (!started) await writeRecord(ctx.state, REMOVALS, id, { imageId: item.imageId, snapshotIds: snapshots });
  if (item.parameters.length) await aws.ssm(item.region).deleteParameters(item.parameters);
  if (await describe(ec2, item.imageId)) await ec2.deregisterImage(item.imageId);
  await untilGone(ec2, item.imageId, wait);
  for (const snapshot of snapshots) {
    try {
      await ec2.deleteSnapshot(snapshot);
    } catch (error) {
      if (isAwsError(error, 'InvalidSnapshot.NotFound')) continue;
      if (isAwsError(error, 'InvalidSnapshot.InUse'))
        throw new StepError(STEP, `${item.region}: ${snapshot} of ${item.imageId} is still in use (EC2 says so)`, {
          cause: error,
          hint: 'Another AMI or a volume uses it. bro deletes a snapshot only once nothing does: rerun `bro prune --yes` then.',
        });
      throw error;
    }
  }
  // The region is done: the build's record forgets it (in one update: regions finish side by side), the removal record goes.
  await forgetReleaseRegion(ctx.state, item.version, item.region);
  await ctx.state.remove([id]);
  return item;
}

export async function prune(ctx: PublishContext, items: readonly PruneItem[]): Promise<RegionOutcome<PruneItem[]>[]> {
  const going = items.filter((i) => !i.kept);
  const regions = [...new Set(going.map((i) => i.region))];
  const wait = {
    pollSeconds: ctx.settings.waitPollSeconds,
    maxSeconds: Math.min(ctx.settings.waitTimeoutSeconds, 300),
    signal: ctx.rollback.signal,
  };
  const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
    const done: PruneItem[] = [];
    for (const item of going.filter((i) => i.region === region)) done.push(await removeOne(ctx, item, wait));
    return done;
  });
  throwIfAnyRegionFailed(
    STEP,
    'Pruning',
    outcomes,
    (removed) => `removed ${removed.map((i) => `${i.imageId} (${i.version})`).join(', ') || 'nothing'}`,
    'Rerun `bro prune --yes`: it finishes what was started and leaves the rest.',
  );
  return outcomes;
}
