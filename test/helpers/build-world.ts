import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import { fakeTools } from './fake-tools.js';
import {
  FIXTURE_ACCOUNTS,
  FIXTURE_REGISTRY_ACCOUNT,
  makeProject,
  makeUpstream,
  removeDir,
  tempDir,
} from './git-fixtures.js';
import { mockAws } from './aws-mock.js';
import { AUTH_TOKEN, awsWorld, REGISTRY_PASSWORD } from './aws-world.js';

/**
 * A whole build world for one test: an upstream-like fixture, a bro project,
 * the fake cargo/docker/make on PATH and the simulated AWS world (aws-world.ts)
 * behind aws-sdk-client-mock, where the AMIs `cargo make ami` registered appear
 * on first sight. `build()` runs `bro build aws-k8s-1.18 --version 1.0.4-hc1`
 * in-process exactly as the bin does. `cleanup()` restores the mocks and
 * removes the directories.
 */
export const REGIONS = ['ap-northeast-1', 'us-west-1', 'us-east-1'];
export const ACCOUNTS: string[] = [...FIXTURE_ACCOUNTS];
export { FIXTURE_REGISTRY_ACCOUNT as REGISTRY_ACCOUNT };
export const AMI_NAME = 'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1';
export const ADMIN_TAG = 'v0.5.2-hc1';
export const adminUri = (region: string) =>
  `${FIXTURE_REGISTRY_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/bottlerocket-admin:${ADMIN_TAG}`;
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function buildWorld(options: { extraToml?: string } = {}) {
  const upstream = makeUpstream();
  const project = makeProject(upstream, options);
  const cacheDir = tempDir('bro-cache-');
  const tools = fakeTools({ BRO_FAKE_REGISTRY_PASSWORD_SHA256: sha256(REGISTRY_PASSWORD), NO_COLOR: '1' });
  const aws = mockAws(awsWorld({ registerOnSight: true, registryDigest: tools.registryDigest }));
  const world = aws.world;
  const work = join(project, 'work', 'aws-k8s-1.18');
  const common = ['--project-dir', project, '--cache-dir', cacheDir];
  return {
    upstream,
    project,
    cacheDir,
    tools,
    world,
    /** Takes the mocks away, for a test of the real SDK clients. */
    restoreAws: () => aws.restore(),
    work,
    br: join(work, 'bottlerocket'),
    admin: join(work, 'admin-container'),
    cli: (argv: string[], env: Record<string, string> = {}) => runCli([...argv, ...common], { ...tools.env, ...env }),
    build: (extra: string[] = [], env: Record<string, string> = {}) =>
      // --min-free-disk: the fake cargo's build needs a few kilobytes, not upstream's 80 GiB.
      runCli(
        [
          'build',
          'aws-k8s-1.18',
          '--version',
          '1.0.4-hc1',
          ...common,
          '--ci',
          '--wait-timeout',
          '0.05',
          '--wait-poll',
          '0.05',
          '--min-free-disk',
          '0.1',
          ...extra,
        ],
        { ...tools.env, ...env },
      ),
    cleanup() {
      aws.restore();
      for (const dir of [upstream.root, project, cacheDir, tools.dir]) removeDir(dir);
    },
  };
}

export type BuildWorld = ReturnType<typeof buildWorld>;

export function expectNoSecret(text: string, where: string): void {
  for (const secret of [REGISTRY_PASSWORD, AUTH_TOKEN])
    expect(text.includes(secret), `${where} contains a secret`).toBe(false);
}

export const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
