import { createHash } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createStateStore, stepRecord, digestOf } from '../../src/build/state.js';
import { FIXTURE_ACCOUNTS, FIXTURE_REGISTRY_ACCOUNT, removeDir, tempDir } from './git-fixtures.js';
import type { ReleaseModel } from './release-model.js';

/**
 * A bro project for the release commands (promote, prune): a variant with an
 * ssm-prefix, accounts and an organization, and builds "already made": each
 * one's AMIs in the release model, shared and tagged, its version parameters
 * published, and its release record in the workspace state, as a build leaves them.
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

/** Builds 1.0.4-hc1 … -hc<count>, a month apart, the newest last. */
export async function addBuilds(model: ReleaseModel, work: string, count: number) {
  for (let n = 1; n <= count; n++)
    await addBuild(model, work, `1.0.4-hc${n}`, `2026-${String(n).padStart(2, '0')}-01T00:00:00.000Z`);
}

/** A finished build of `version` in every region (`at`: when it was recorded, for prune's order). */
export async function addBuild(model: ReleaseModel, work: string, version: string, at: string, regions = REGIONS) {
  const release: Record<string, { imageId: string; snapshotIds: string[] }> = {};
  for (const region of regions) {
    const image = model.addImage(region, amiOf(version, region), version, { launch: new Set(PRINCIPALS) });
    model.setParameter(region, names(version).imageId, image.id, 'aws:ec2:image');
    model.setParameter(region, names(version).version, version);
    release[region] = { imageId: image.id, snapshotIds: image.snapshots };
  }
  const outputs = { version, regions: release, builtAt: at };
  await createStateStore(join(work, '.bro')).put(
    `release:${version}`,
    stepRecord('done', digestOf(outputs), outputs, new Date()),
  );
}
