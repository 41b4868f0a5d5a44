import { setTimeout as sleep } from 'node:timers/promises';
import type { Ssm } from '../../adapters/ssm.js';
import type { Variant } from '../../config/variant.js';
import { StepError } from '../../shared/errors.js';
import type { AwsAction } from '../aws-actions.js';
import { z } from 'zod';
import { defineStep, type ParameterNames } from '../step.js';
import { modifyRecord, readRecords, recordKind, runRecorded, type RecordOf, type StateStore } from '../state.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { inRegion, requireAws } from './requires.js';

const STEP = 'ssm-publish';

/** The parameters of `key` (a version such as 1.0.4-hc1, or a channel such as stable) under the variant's ssm-prefix. */
export function parameterNames(variant: Variant, prefix: string, key: string): ParameterNames {
  const base = `${prefix}/${variant.name}/${variant.arch}/${key}`;
  return { imageId: `${base}/image_id`, version: `${base}/image_version` };
}

/** What a pair of parameters holds (or should hold): an AMI and the version it is. */
export const PointerSchema = z.object({ imageId: z.string(), version: z.string() });
export type Pointer = z.infer<typeof PointerSchema>;

/** Reads both parameters of `names`; a missing one is undefined. */
export async function readPointer(ssm: Ssm, names: ParameterNames): Promise<Partial<Pointer>> {
  const { Parameters = [] } = await ssm.getParameters([names.imageId, names.version]);
  const value = (name: string) => Parameters.find((p) => p.Name === name)?.Value;
  return { imageId: value(names.imageId), version: value(names.version) };
}

/** Who last changed a parameter, for the refusal to replace it. */
export async function whoseParameter(ssm: Ssm, name: string): Promise<string> {
  const found = await ssm.describeParameters([name]).then(
    (r) => r.Parameters?.[0],
    () => undefined,
  );
  if (!found) return '';
  const when = found.LastModifiedDate ? ` on ${found.LastModifiedDate.toISOString()}` : '';
  return ` (version ${found.Version ?? '?'}, last changed by ${found.LastModifiedUser ?? 'an unknown principal'}${when})`;
}

/**
 * Points both parameters at `want` where they differ: image_id with the
 * `aws:ec2:image` data type (SSM then checks the AMI exists in this account
 * and region), image_version as text. `overwrite` false creates only: SSM
 * refuses (ParameterAlreadyExists) rather than replace one that appeared in
 * between. Returns the names written.
 */
export async function writePointer(
  ssm: Ssm,
  names: ParameterNames,
  current: Partial<Pointer>,
  want: Pointer,
  description: string,
): Promise<string[]> {
  const written: string[] = [];
  // image_id first: nodes follow it; image_version says what it is.
  for (const [name, value, now, dataType] of [
    [names.imageId, want.imageId, current.imageId, 'aws:ec2:image'],
    [names.version, want.version, current.version, 'text'],
  ] as const) {
    if (now === value) continue;
    await ssm.putParameter({
      Name: name,
      Value: value,
      Type: 'String',
      DataType: dataType,
      Description: description,
      Overwrite: now !== undefined,
    });
    written.push(name);
  }
  return written;
}

/**
 * SSM checks an `aws:ec2:image` value after PutParameter has answered, and
 * drops the write when the AMI is not there: read back until both hold `want`.
 */
export async function confirmPointer(
  ssm: Ssm,
  names: ParameterNames,
  want: Pointer,
  wait: { pollSeconds: number; maxSeconds: number; signal?: AbortSignal },
  step: string,
  region: string,
): Promise<void> {
  const deadline = Date.now() + wait.maxSeconds * 1000;
  for (;;) {
    const now = await readPointer(ssm, names);
    if (now.imageId === want.imageId && now.version === want.version) return;
    if (Date.now() >= deadline) {
      throw new StepError(
        step,
        `${region}: ${names.imageId} holds ${now.imageId ?? '(nothing)'}, not ${want.imageId}, after writing it`,
        {
          hint: `SSM validates aws:ec2:image values after the write and drops one whose AMI is not available in this account and region. Check ${want.imageId} in ${region}, then rerun.`,
        },
      );
    }
    await sleep(wait.pollSeconds * 1000, undefined, { signal: wait.signal });
  }
}

/** The SSM calls that point `names` at a build, for the plan (made by `readPointer`, `writePointer`, `confirmPointer`). */
export function pointerActions(step: string, region: string, names: ParameterNames, value: string): AwsAction[] {
  const action = (a: Pick<AwsAction, 'action' | 'target' | 'note'>): AwsAction => ({
    step,
    by: 'bro',
    region,
    service: 'ssm',
    ...a,
  });
  return [
    action({ action: 'GetParameters', target: `${names.imageId}, ${names.version}`, note: 'what they hold now' }),
    action({
      action: 'PutParameter',
      target: names.imageId,
      note: `= ${value}'s AMI, DataType aws:ec2:image, if it differs`,
    }),
    action({ action: 'PutParameter', target: names.version, note: `= ${value}, if it differs` }),
    action({
      action: 'GetParameters',
      target: `${names.imageId}, ${names.version}`,
      note: 'verify (SSM validates the AMI)',
    }),
  ];
}

/** A region's line in a step's summary: what it changed, `already`, or `done earlier` (skipped by its record). */
export const describeRegionWork =
  (already: string) =>
  (o: { imageId: string; changes: string[]; skipped?: boolean }): string =>
    `${o.imageId} ${o.skipped ? 'done earlier' : o.changes.length ? o.changes.join(', ') : already}`;

/**
 * The builds of this workspace, `release:<version>` in the state file: each
 * region's AMI and snapshots, recorded once the AMIs are shared. `bro prune`
 * removes only builds recorded here (or in the manifest).
 */
const RELEASES = recordKind(
  'release:',
  z.object({
    version: z.string(),
    /** When the build was first recorded: prune keeps the newest. */
    builtAt: z.string(),
    regions: z.record(z.string(), z.object({ imageId: z.string(), snapshotIds: z.array(z.string()) })),
  }),
  'without it, bro prune leaves that build alone (unless the manifest names it); `bro build … --from ssm-publish` records it again.',
);
export type ReleaseRecord = RecordOf<typeof RELEASES>;

const releaseId = (version: string) => `${RELEASES.prefix}${version}`;

/** Records a build; one recorded before keeps its time (a rerun is the same build). */
export async function recordRelease(state: StateStore, release: Omit<ReleaseRecord, 'builtAt'>): Promise<void> {
  await modifyRecord(state, RELEASES, releaseId(release.version), (old) => ({
    ...release,
    builtAt: old?.builtAt ?? new Date().toISOString(),
  }));
}

/** The builds this workspace recorded. */
export const recordedReleases = async (state: StateStore) => [...(await readRecords(state, RELEASES)).values()];

/** A build's AMI in `region` is gone: its record forgets the region, and goes with its last one. */
export async function forgetReleaseRegion(state: StateStore, version: string, region: string): Promise<void> {
  await modifyRecord(state, RELEASES, releaseId(version), (release) => {
    if (!release) return undefined;
    const regions = { ...release.regions };
    delete regions[region];
    return Object.keys(regions).length ? { ...release, regions } : undefined;
  });
}

const ParameterNamesSchema = z.object({ imageId: z.string(), version: z.string() });

/** What ssm-publish records for each region (`ssm-publish:<region>`). */
const RegionPublishSchema = z.object({
  imageId: z.string(),
  version: z.string(),
  names: ParameterNamesSchema,
  changes: z.array(z.string()),
});

export const ssmPublishStep = defineStep({
  id: STEP,
  title: 'Publish the version parameters in every region (SSM)',
  external: true,
  needs: ['ami-register', 'share'],
  // The AMIs and their snapshots (the release record), not the share's accounts: a revoke and a share
  // again change those, not what is published.
  inputs: (ctx, input) => ({
    amis: input['ami-register'].amis,
    snapshots: Object.fromEntries(Object.entries(input.share.regions).map(([r, s]) => [r, s.snapshotIds])),
    prefix: ctx.variant.infra['ssm-prefix'] ?? null,
    version: ctx.version.full,
  }),
  outputs: z.object({ parameters: ParameterNamesSchema.optional() }),
  async run(ctx, input, task, { force, signal }) {
    const { amis } = input['ami-register'];
    const shares = input.share.regions;
    const { regions } = ctx.variant;
    await recordRelease(ctx.state, {
      version: ctx.version.full,
      regions: Object.fromEntries(
        regions.map((r) => {
          const share = inRegion(shares, r, STEP, 'share');
          return [r, { imageId: share.imageId, snapshotIds: share.snapshotIds }];
        }),
      ),
    });
    const prefix = ctx.variant.infra['ssm-prefix'];
    if (!prefix) {
      task.title = 'Version parameters: none (the variant has no infra.ssm-prefix)';
      return {};
    }
    const aws = requireAws(ctx);
    const names = parameterNames(ctx.variant, prefix, ctx.version.full);
    const description = `bro: ${ctx.variant.name} ${ctx.version.full}`;
    const wait = {
      pollSeconds: ctx.settings.waitPollSeconds,
      maxSeconds: Math.min(ctx.settings.waitTimeoutSeconds, 120),
      signal,
    };
    const outcomes = await forEachRegion(regions, ctx.settings.regionConcurrency, async (region) => {
      const want = { imageId: inRegion(amis, region, STEP, 'ami-register').id, version: ctx.version.full };
      const check = { inputs: { want, names }, outputs: RegionPublishSchema, force };
      return runRecorded(ctx.state, `${STEP}:${region}`, check, async () => {
        const ssm = aws.ssm(region);
        const current = await readPointer(ssm, names);
        if (current.imageId !== undefined && current.imageId !== want.imageId && !ctx.settings.overwriteParameters) {
          throw new StepError(
            STEP,
            `${region}: ${names.imageId} already points at ${current.imageId}, not this build's ${want.imageId}${await whoseParameter(ssm, names.imageId)}`,
            {
              hint: 'Another build published this version. Use a new build suffix (--version), or replace the parameters with `bro build --overwrite-parameters`.',
            },
          );
        }
        const written = await writePointer(ssm, names, current, want, description);
        if (written.length) await confirmPointer(ssm, names, want, wait, STEP, region);
        return { ...want, names, changes: written.length ? [`wrote ${written.length}`] : [] };
      });
    });
    const describe = describeRegionWork('already published');
    throwIfAnyRegionFailed(
      STEP,
      'Publishing the version parameters',
      outcomes,
      describe,
      'Rerun `bro build`: it publishes only in the regions that failed.',
    );
    task.title = `Version parameters ${names.imageId}: ${regionSummary(outcomes, describe).join('; ')}`;
    return { parameters: names };
  },
});
