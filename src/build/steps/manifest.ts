import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { atomicWrite } from '../../adapters/fs.js';
import { broVersion } from '../../shared/bro-version.js';
import { SOURCES } from '../../config/series.js';
import { ConfigError } from '../../shared/errors.js';
import { amiName } from '../naming.js';
import { defineStep, type Needed, type PublishContext } from '../step.js';
import { isBookkeeping, recordedChannels } from '../channels.js';
import { VersionedSchema } from '../state.js';
import { isAccountId, launchPrincipals, patchSeriesDigest } from './share.js';
import { inRegion } from './requires.js';

/**
 * The release manifest: what a build published, as one versioned JSON
 * document — AMI and snapshot IDs per region, the accounts granted, the admin
 * image URI and digest per region, the upstream commits, the patch-series
 * digest, the bro version and step timings. Written atomically to --manifest
 * FILE or `<work>/manifest.json`; `bro manifest show` prints it.
 */
export const MANIFEST_SCHEMA_VERSION = 1;

const series = z.object({ base: z.string(), digest: z.string(), patches: z.array(z.string()) }).nullable();

export const ManifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  kind: z.literal('bro.manifest'),
  bro: z.object({ version: z.string() }),
  createdAt: z.string(),
  variant: z.string(),
  arch: z.string(),
  version: z.string(),
  amiName: z.string(),
  sources: z.record(
    z.string(),
    z.object({ url: z.string(), ref: z.string(), commit: z.string(), head: z.string(), series }),
  ),
  patchSeriesDigest: z.string(),
  accounts: z.array(z.string()),
  adminImage: z.object({ tag: z.string(), imageId: z.string() }),
  regions: z.record(
    z.string(),
    z.object({
      ami: z.string(),
      snapshots: z.array(z.string()),
      sharedWith: z.array(z.string()),
      adminImage: z.object({ uri: z.string(), digest: z.string() }),
    }),
  ),
  steps: z.record(
    z.string(),
    z.object({ status: z.string(), startedAt: z.string(), finishedAt: z.string(), durationMs: z.number() }),
  ),
  /** Organizations and OUs with launch permission (share-with-organizations, -organizational-units). */
  organizations: z.array(z.string()).optional(),
  /** When EC2 deprecates the AMIs (ami-deprecate). */
  deprecateAt: z.string().optional(),
  /** The version parameters (ssm-publish): the same names in every region. */
  parameters: z.object({ imageId: z.string(), version: z.string() }).optional(),
  /** channel → region → the version the channel points at (bro promote). */
  channels: z.record(z.string(), z.record(z.string(), z.string())).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const defaultManifestPath = (workRoot: string) => join(workRoot, 'manifest.json');

/** Every step whose result the manifest holds. */
const MANIFEST_NEEDS = [
  'sources',
  'patch',
  'admin-image-build',
  'admin-image-push',
  'ami-register',
  'share',
  'ami-deprecate',
  'ssm-publish',
] as const;
type ManifestNeeds = (typeof MANIFEST_NEEDS)[number];

export async function makeManifest(ctx: PublishContext, input: Needed<ManifestNeeds>): Promise<Manifest> {
  const step = 'manifest';
  const { amis } = input['ami-register'];
  const { regions: shares } = input.share;
  const { regions: adminImages } = input['admin-image-push'];
  const adminImage = input['admin-image-build'];
  const { sources } = input.sources;
  const { series, patchedHeads } = input.patch;
  const state = await ctx.state.all();
  const manifest: Manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    kind: 'bro.manifest',
    bro: { version: await broVersion() },
    createdAt: new Date().toISOString(),
    variant: ctx.variant.name,
    arch: ctx.variant.arch,
    version: ctx.version.full,
    amiName: amiName(ctx.variant, ctx.version),
    sources: Object.fromEntries(
      SOURCES.map((name) => {
        const s = series[name];
        return [
          name,
          {
            url: sources[name].url,
            ref: sources[name].ref,
            commit: sources[name].commit,
            head: patchedHeads[name],
            series: s ? { base: s.base, digest: s.digest, patches: s.patches.map((p) => p.name) } : null,
          },
        ];
      }),
    ),
    patchSeriesDigest: patchSeriesDigest(series),
    accounts: [...ctx.variant['share-with']],
    adminImage: { tag: adminImage.tag, imageId: adminImage.imageId },
    regions: Object.fromEntries(
      ctx.variant.regions.map((region) => {
        const share = inRegion(shares, region, step, 'share');
        const pushed = inRegion(adminImages, region, step, 'admin-image-push');
        return [
          region,
          {
            ami: inRegion(amis, region, step, 'ami-register').id,
            snapshots: share.snapshotIds,
            sharedWith: share.accounts,
            adminImage: { uri: pushed.uri, digest: pushed.digest },
          },
        ];
      }),
    ),
    steps: Object.fromEntries(
      Object.entries(state.steps)
        // grants:<region> records who bro granted (in `regions` already), and the other records that are no step.
        .filter(([id]) => !isBookkeeping(id))
        .map(([id, r]) => [
          id,
          { status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt, durationMs: r.durationMs },
        ]),
    ),
    organizations: launchPrincipals(ctx.variant).filter((p) => !isAccountId(p)),
    deprecateAt: input['ami-deprecate'].at,
    parameters: input['ssm-publish'].parameters,
    channels: await recordedChannels(ctx.state),
  };
  return ctx.adapters.redactor.redactValue(manifest);
}

export async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await atomicWrite(path, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads a manifest; one written by another schema version is refused, not guessed at. */
export async function readManifest(path: string): Promise<Manifest> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new ConfigError(path, 'does not exist', {
      cause: error,
      hint: 'Run `bro build` first, or pass --manifest FILE.',
    });
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, 'is not valid JSON', { cause: error });
  }
  const head = VersionedSchema.extend({ kind: z.unknown().optional() }).safeParse(data).data;
  if (head?.kind !== 'bro.manifest') {
    throw new ConfigError(
      path,
      `is not a bro release manifest (it holds ${Array.isArray(data) ? 'a JSON array' : data === null ? 'null' : typeof data !== 'object' ? `a JSON ${typeof data}` : 'an object without kind "bro.manifest"'})`,
      {
        hint: 'Pass --manifest the manifest.json a `bro build` wrote, or name the variant whose workspace holds it.',
      },
    );
  }
  const version = head.schemaVersion;
  if (version !== MANIFEST_SCHEMA_VERSION) {
    throw new ConfigError(
      path,
      `has schemaVersion ${JSON.stringify(version)}; this bro reads version ${MANIFEST_SCHEMA_VERSION}`,
      {
        hint: 'Use the bro version that wrote it (see its "bro" field), or rebuild the manifest with `bro build`.',
      },
    );
  }
  const result = ManifestSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(path, `is not a bro manifest: ${issue?.path.join('.') || '(top level)'}: ${issue?.message}`);
  }
  return result.data;
}

/** After `bro promote`: the channels and the versions they point at, if the manifest is this variant's. */
export async function recordChannels(path: string, channels: Record<string, Record<string, string>>): Promise<void> {
  const manifest = await readManifest(path);
  manifest.channels = channels;
  await writeManifest(path, manifest);
}

/** The `bro:*` tags share put on the AMIs of the build a manifest describes (see `releaseTags`). */
export function releaseTagsOf(m: Manifest): Record<string, string> {
  return {
    'bro:variant': m.variant,
    'bro:version': m.version,
    'bro:bottlerocket-commit': m.sources.bottlerocket?.commit ?? '',
    'bro:admin-container-commit': m.sources['admin-container']?.commit ?? '',
    'bro:patch-series': m.patchSeriesDigest,
  };
}

/**
 * After `bro share --revoke`: each region's `sharedWith` becomes what EC2 shows
 * now, and `accounts` keeps only the accounts that can still launch in every region.
 */
export async function recordRevoke(path: string, sharedWith: Record<string, readonly string[]>): Promise<void> {
  const manifest = await readManifest(path);
  for (const [region, accounts] of Object.entries(sharedWith)) {
    const entry = manifest.regions[region];
    if (entry) entry.sharedWith = [...accounts];
  }
  manifest.accounts = manifest.accounts.filter((a) =>
    Object.values(manifest.regions).every((r) => r.sharedWith.includes(a)),
  );
  await writeManifest(path, manifest);
}

export const manifestStep = defineStep({
  id: 'manifest',
  title: 'Write the release manifest',
  external: true,
  needs: MANIFEST_NEEDS,
  async run(ctx, input, task) {
    const path = ctx.settings.manifestPath ?? defaultManifestPath(ctx.workspace.root);
    await writeManifest(path, await makeManifest(ctx, input));
    task.title = `Write the release manifest: ${path}`;
    return { path };
  },
});
