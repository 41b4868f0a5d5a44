import { resolve } from 'node:path';
import { createProject } from '../../adapters/project.js';
import type { Io } from '../io.js';
import type { CommonOptions } from '../../build/index.js';
import { UsageError } from '../../shared/errors.js';
import { defaultManifestPath, readManifest, type Manifest } from '../../build/index.js';
import { workDirFor } from '../options.js';

export interface ShowManifestOptions extends CommonOptions {
  variant?: string;
  manifest?: string;
  json: boolean;
}

export async function showManifest(options: ShowManifestOptions, io: Io): Promise<void> {
  if (!options.manifest && !options.variant) {
    throw new UsageError('bro manifest show needs a variant (for its workspace) or --manifest FILE');
  }
  // The variant must exist: `manifest show nosuch` says so, not that a file in a workspace is missing.
  if (!options.manifest) await createProject(options.projectDir).readVariant(options.variant as string);
  const path = options.manifest
    ? resolve(options.manifest)
    : defaultManifestPath(workDirFor(options, options.variant as string));
  const manifest = await readManifest(path);
  io.stdout.write(options.json ? `${JSON.stringify(manifest, null, 2)}\n` : `${formatManifest(manifest, path)}\n`);
}

const seconds = (ms: number) =>
  ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;

export function formatManifest(m: Manifest, path: string): string {
  const out = [
    `Release ${m.variant} (${m.arch}) ${m.version}: ${path}`,
    `  written ${m.createdAt} by bro ${m.bro.version} (manifest schema ${m.schemaVersion})`,
    `  AMI name: ${m.amiName}`,
  ];
  for (const [name, s] of Object.entries(m.sources)) {
    out.push(
      `  ${name}: ${s.ref} = ${s.commit.slice(0, 12)}, patched head ${s.head.slice(0, 12)}${s.series ? `, series ${s.series.base} (${s.series.patches.length} patches)` : ''}`,
    );
  }
  out.push(
    `  patch series digest: ${m.patchSeriesDigest}`,
    `  shared with: ${m.accounts.join(', ') || '(no accounts)'}`,
    `  admin image: ${m.adminImage.tag} (${m.adminImage.imageId.slice(0, 19)})`,
    '',
    'Regions:',
  );
  for (const [region, r] of Object.entries(m.regions)) {
    out.push(
      `  ${region}: ${r.ami} (snapshots ${r.snapshots.join(', ')}), admin image ${r.adminImage.uri}@${r.adminImage.digest}`,
    );
  }
  if (m.organizations?.length) out.push('', `Organizations (launch permission only): ${m.organizations.join(', ')}`);
  if (m.deprecateAt) out.push('', `Deprecated at: ${m.deprecateAt}`);
  if (m.parameters) out.push('', `SSM parameters (each region): ${m.parameters.imageId}, ${m.parameters.version}`);
  const channels = Object.entries(m.channels ?? {});
  if (channels.length)
    out.push(
      '',
      'Channels:',
      ...channels.map(([name, regions]) => {
        const versions = new Set(Object.values(regions));
        return versions.size === 1
          ? `  ${name} → ${[...versions][0]} (${Object.keys(regions).join(', ')})`
          : `  ${name} → ${Object.entries(regions)
              .map(([r, v]) => `${r} ${v}`)
              .join(', ')}`;
      }),
    );
  const steps = Object.entries(m.steps).filter(([id]) => !id.includes(':'));
  if (steps.length)
    out.push(
      '',
      'Steps:',
      ...steps.map(([id, s]) => `  ${id}: ${s.status}, ${seconds(s.durationMs)} (finished ${s.finishedAt})`),
    );
  return out.join('\n');
}
