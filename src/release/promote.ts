import { existsSync } from 'node:fs';
import type { Image } from '@aws-sdk/client-ec2';
import type { Aws } from '../adapters/aws.js';
import { ConfigError, StepError } from '../shared/errors.js';
import {
  channelRecords,
  confirmPointer,
  defaultManifestPath,
  forEachRegion,
  launchPrincipals,
  parameterNames,
  readPointer,
  recordChannels,
  recordedChannels,
  requireAws,
  throwIfAnyRegionFailed,
  writeChannel,
  writePointer,
  type Pointer,
  type PublishContext,
  type RegionOutcome,
} from '../build/index.js';
import { checkChannelName } from './channel-name.js';

const STEP = 'promote';

export interface PromoteRequest {
  channel: string;
  /** Point the channel at a deprecated build too. */
  force: boolean;
  /** Show the change, make none. */
  dryRun: boolean;
}

/** One region of a promotion: what the channel held, what it points at now. */
export interface RegionPromotion {
  region: string;
  from: Partial<Pointer>;
  to: Pointer;
  changed: boolean;
}

/** The variant's ssm-prefix: channels live under it, so promotion needs one. */
export function requirePrefix(ctx: PublishContext): string {
  const prefix = ctx.variant.infra['ssm-prefix'];
  if (!prefix)
    throw new ConfigError(
      `variants/${ctx.variant.name}.toml`,
      'infra.ssm-prefix is not set: there are no parameters to promote',
      {
        hint: 'Set [infra] ssm-prefix = "/your/prefix", rebuild (it publishes the version parameters), then promote.',
      },
    );
  return prefix;
}

const tag = (image: Image, key: string) => image.Tags?.find((t) => t.Key === key)?.Value;

/**
 * Is the build complete in this region: published (its version parameters),
 * available, tagged as this variant and version, shared with every principal
 * of the variant, and not deprecated (unless `force`)? Returns what the
 * channel holds now and what it will hold. Changes nothing.
 */
async function checkRegion(aws: Aws, ctx: PublishContext, prefix: string, region: string, request: PromoteRequest) {
  const ssm = aws.ssm(region);
  const version = ctx.version.full;
  const names = parameterNames(ctx.variant, prefix, version);
  const published = await readPointer(ssm, names);
  if (!published.imageId)
    throw new StepError(STEP, `${version} is not published in ${region}: ${names.imageId} does not exist`, {
      hint: `Was ${version} built? \`bro build ${ctx.variant.name} --version ${version}\` publishes it in every region (a rerun finishes only what is missing).`,
    });
  const { imageId } = published;
  const ec2 = aws.ec2(region);
  const image = (await ec2.describeImages({ ImageIds: [imageId] }).catch(() => undefined))?.Images?.[0];
  const problems: string[] = [];
  if (!image) problems.push(`${imageId} does not exist`);
  else {
    if (image.State !== 'available') problems.push(`${imageId} is ${image.State ?? 'in no state'}, not available`);
    for (const [key, want] of [
      ['bro:variant', ctx.variant.name],
      ['bro:version', version],
    ] as const)
      if (tag(image, key) !== want)
        problems.push(`${imageId} has ${key} = ${tag(image, key) ?? '(none)'}, not ${want}`);
    if (image.DeprecationTime && new Date(image.DeprecationTime) <= new Date() && !request.force)
      problems.push(`${imageId} was deprecated at ${image.DeprecationTime} (--force points the channel at it anyway)`);
    const launch = await ec2.describeImageAttribute({ ImageId: imageId, Attribute: 'launchPermission' });
    const granted = new Set(
      (launch.LaunchPermissions ?? []).flatMap((p) => [p.UserId, p.OrganizationArn, p.OrganizationalUnitArn]),
    );
    const missing = launchPrincipals(ctx.variant).filter((p) => !granted.has(p));
    if (missing.length) problems.push(`${imageId} is not shared with ${missing.join(', ')}`);
  }
  if (problems.length)
    throw new StepError(STEP, `${version} is incomplete in ${region}: ${problems.join('; ')}`, {
      hint: `Rerun \`bro build ${ctx.variant.name} --version ${version}\` to finish it, or promote another version.`,
    });
  const channel = parameterNames(ctx.variant, prefix, request.channel);
  return { region, channel, from: await readPointer(ssm, channel), to: { imageId, version } };
}

/** `ap-northeast-1  stable  1.0.4-hc1 → 1.0.4-hc2` lines. */
export function formatPromotion(channel: string, regions: readonly RegionPromotion[]): string[] {
  const width = Math.max(...regions.map((r) => r.region.length));
  return regions.map(
    (r) =>
      `  ${r.region.padEnd(width)}  ${channel}  ${r.from.version ?? '(new channel)'} → ${r.to.version} (${r.to.imageId})${r.changed ? '' : ', already there'}`,
  );
}

/**
 * `bro promote`: checks the build in every region first (nothing changes
 * anywhere if one is incomplete), shows the change, then points the channel's
 * image_id and image_version at it, regions side by side. Each region's
 * previous value is recorded before it changes (channel records), so
 * `--version <previous>` rolls back, even after a kill. A region already
 * there makes no modifying call.
 */
export async function promote(
  ctx: PublishContext,
  request: PromoteRequest,
  show: (lines: string[]) => void,
): Promise<RegionOutcome<RegionPromotion>[]> {
  checkChannelName(request.channel);
  const prefix = requirePrefix(ctx);
  const aws = requireAws(ctx);
  const { regions } = ctx.variant;
  // Every channel record first (the manifest lists them all at the end): a corrupted one refuses the promotion before any change.
  const records = (await channelRecords(ctx.state)).filter((r) => r.channel === request.channel);
  const checked = await forEachRegion(regions, ctx.settings.regionConcurrency, (region) =>
    checkRegion(aws, ctx, prefix, region, request),
  );
  throwIfAnyRegionFailed(
    STEP,
    'Checking the build before promoting',
    checked,
    () => 'complete',
    'Nothing was promoted in any region.',
  );
  const plan = checked.map(({ value }) => {
    const v = value!;
    return { ...v, changed: v.from.imageId !== v.to.imageId || v.from.version !== v.to.version };
  });
  show([
    `Promote ${ctx.variant.name} ${ctx.version.full} to ${request.channel}${request.dryRun ? ' (dry run: nothing changed)' : ''}:`,
    ...formatPromotion(request.channel, plan),
  ]);
  if (request.dryRun) return plan.map((p) => ({ region: p.region, value: p }));
  const wait = {
    pollSeconds: ctx.settings.waitPollSeconds,
    maxSeconds: Math.min(ctx.settings.waitTimeoutSeconds, 120),
    signal: ctx.rollback.signal,
  };
  const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
    const p = plan.find((x) => x.region === region)!;
    const recorded = records.find((r) => r.region === region);
    // The same promotion, interrupted (a kill) or finished here while another region failed: what the
    // channel held before it, for the rollback. Not when someone has moved the channel since.
    const resumed =
      recorded?.to.imageId === p.to.imageId && (recorded.status === 'pending' || !p.changed)
        ? recorded.previous
        : undefined;
    const from = resumed ?? p.from;
    if (!p.changed) {
      if (recorded?.status !== 'done' || recorded.to.imageId !== p.to.imageId)
        await writeChannel(ctx.state, {
          channel: request.channel,
          region,
          status: 'done',
          to: p.to,
          previous: from,
          promotedAt: new Date().toISOString(),
        });
      return { ...p, from };
    }
    const record = { channel: request.channel, region, to: p.to, previous: from, promotedAt: new Date().toISOString() };
    await writeChannel(ctx.state, { ...record, status: 'pending' });
    const ssm = aws.ssm(region);
    await writePointer(ssm, p.channel, p.from, p.to, `bro: ${ctx.variant.name} channel ${request.channel}`);
    await confirmPointer(ssm, p.channel, p.to, wait, STEP, region);
    await writeChannel(ctx.state, { ...record, status: 'done' });
    return { ...p, from };
  });
  const manifest = ctx.settings.manifestPath ?? defaultManifestPath(ctx.workspace.root);
  if (existsSync(manifest)) await recordChannels(manifest, await recordedChannels(ctx.state));
  return outcomes;
}

/** The command that undoes a promotion (finished now or by an interrupted run), when every region held one same other version before it. */
export function rollbackCommand(
  variant: string,
  channel: string,
  outcomes: readonly RegionOutcome<RegionPromotion>[],
): string | undefined {
  const previous = new Set(outcomes.map((o) => o.value?.from.version));
  const [version] = previous;
  if (previous.size !== 1 || !version || outcomes.some((o) => o.value?.to.version === version)) return undefined;
  return `bro promote ${variant} --version ${version} --to ${channel}`;
}
