import { createHash } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createStateStore, stepRecord, digestOf } from '../../src/build/state.js';
import { FIXTURE_ACCOUNTS, FIXTURE_REGISTRY_ACCOUNT, removeDir, tempDir } from './git-fixtures.js';
import type { AwsWorld, WorldImage } from './aws-world.js';

/**
 * A bro project for the release commands (promote, prune): a variant with an
 * ssm-prefix, accounts and an organization, and builds "already made": each
 * one's AMIs in the simulated AWS world (aws-world.ts), shared and tagged,
 * its version parameters published, and its release record in the workspace
 * state, as a build leaves them.
 */
export const REGIONS = ['ap-northeast-1', 'us-west-1', 'us-east-1'];
export const PREFIX = '/bro/ami';
export const ORGANIZATION = 'arn:aws:organizations::210987654321:organization/o-abcde12345';
export const PRINCIPALS = [...FIXTURE_ACCOUNTS, ORGANIZATION];
export const names = (key: string) => ({
  imageId: `${PREFIX}/aws-k8s-1.18/x86_64/${key}/image_id`,
  version: `${PREFIX}/aws-k8s-1.18/x86_64/${key}/image_version`,
});
export const amiOf = (version: string, region: string) =>
  `ami-${createHash('sha256').update(`${version}/${region}`).digest('hex').slice(0, 17)}`;

export function variantToml(options: { prefix?: string | null; extra?: string } = {}): string {
  const prefix = options.prefix === undefined ? PREFIX : options.prefix;
  return [
    'name = "aws-k8s-1.18"',
    'arch = "x86_64"',
    `regions = [${REGIONS.map((r) => `"${r}"`).join(', ')}]`,
    `share-with = [${FIXTURE_ACCOUNTS.map((a) => `"${a}"`).join(', ')}]`,
    `share-with-organizations = ["${ORGANIZATION}"]`,
    options.extra ?? '',
    '',
    '[sources.bottlerocket]',
    '',
    '[admin-image]',
    'repository = "bottlerocket-admin"',
    `registry-account = "${FIXTURE_REGISTRY_ACCOUNT}"`,
    '',
    '[infra]',
    prefix === null ? '' : `ssm-prefix = "${prefix}"`,
    '',
  ].join('\n');
}

export function releaseProject(toml = variantToml()) {
  const project = tempDir('bro-project-');
  const cacheDir = tempDir('bro-cache-');
  mkdirSync(join(project, 'variants'));
  writeFileSync(join(project, 'variants', 'aws-k8s-1.18.toml'), toml);
  const work = join(project, 'work', 'aws-k8s-1.18');
  return {
    project,
    cacheDir,
    work,
    common: ['--project-dir', project, '--cache-dir', cacheDir, '--wait-poll', '0.05', '--wait-timeout', '0.05'],
    cleanup: () => [project, cacheDir].forEach(removeDir),
  };
}

/** An AMI bro built of `version`: named and tagged as a build leaves it, with `image`'s fields. */
export const builtImage = (version: string, image: Partial<WorldImage> = {}): Partial<WorldImage> => ({
  name: `bottlerocket-aws-k8s-1.18-x86_64-v${version}`,
  tags: new Map([
    ['bro:variant', 'aws-k8s-1.18'],
    ['bro:version', version],
    ['bro:patch-series', 'sha256:abc'],
  ]),
  ...image,
});

/** Builds 1.0.4-hc1 … -hc<count>, a month apart, the newest last. */
export async function addBuilds(world: AwsWorld, work: string, count: number) {
  for (let n = 1; n <= count; n++)
    await addBuild(world, work, `1.0.4-hc${n}`, `2026-${String(n).padStart(2, '0')}-01T00:00:00.000Z`);
}

/** A finished build of `version` in every region (`at`: when it was recorded, for prune's order). */
export async function addBuild(world: AwsWorld, work: string, version: string, at: string, regions = REGIONS) {
  const release: Record<string, { imageId: string; snapshotIds: string[] }> = {};
  for (const region of regions) {
    const imageId = amiOf(version, region);
    const image = world.register(region, imageId, builtImage(version, { launch: new Set(PRINCIPALS) }));
    world.setParameter(region, names(version).imageId, imageId, 'aws:ec2:image');
    world.setParameter(region, names(version).version, version);
    release[region] = { imageId, snapshotIds: image.snapshots };
  }
  const outputs = { version, regions: release, builtAt: at };
  await createStateStore(join(work, '.bro')).put(
    `release:${version}`,
    stepRecord('done', digestOf(outputs), outputs, new Date()),
  );
}
