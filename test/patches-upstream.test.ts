import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipsBecause } from './helpers/index.js';
import type { CheckReport, TagResult } from '../src/patches/check/check-report.js';
import { runCli } from './helpers/cli.js';
import { REPO_ROOT, removeDir, tempDir } from './helpers/git-fixtures.js';

/**
 * The check against the real upstream history (../shared/upstream, next to the
 * project; see its README), with this project's own series: checking many
 * tags at once (each patch in one batch of git processes for all of them)
 * gives every tag the statuses it gets when checked alone, and the advice
 * names the upstream settings that replaced ours.
 */
const UPSTREAM = resolve(REPO_ROOT, '..', 'shared', 'upstream');
const present =
  existsSync(join(UPSTREAM, 'bottlerocket.bundle')) &&
  existsSync(join(UPSTREAM, 'bottlerocket-admin-container.bundle'));

const TAGS = ['v1.0.5', 'v1.0.8', 'v1.1.0', 'v1.1.3', 'v1.2.0', 'v1.8.0', 'v1.15.0', 'v1.21.0', 'v1.26.0'];

describe.skipIf(
  skipsBecause(present ? undefined : `the real-upstream patch check tests need ${UPSTREAM}/*.bundle (CI has them)`),
)('bro patches check against the real upstream', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = tempDir('bro-real-upstream-');
    const mirror = (bundle: string, name: string) => {
      execFileSync('git', ['clone', '--quiet', '--mirror', join(UPSTREAM, bundle), join(dir, name)]);
      return join(dir, name);
    };
    env = {
      BRO_BOTTLEROCKET_URL: mirror('bottlerocket.bundle', 'bottlerocket.git'),
      BRO_ADMIN_CONTAINER_URL: mirror('bottlerocket-admin-container.bundle', 'admin-container.git'),
    };
  }, 120_000);
  afterAll(() => removeDir(dir));

  const check = async (...args: string[]) => {
    const result = await runCli(
      ['patches', 'check', '--json', '--project-dir', REPO_ROOT, '--cache-dir', join(dir, 'cache'), ...args],
      env,
    );
    return result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as CheckReport);
  };

  it('gives each tag checked with others the statuses it gets alone', async () => {
    const [together] = await check('--source', 'bottlerocket', '--series', '1.0.4', '--tags', TAGS.join(','));
    for (const [i, tag] of TAGS.entries()) {
      const [alone] = await check('--source', 'bottlerocket', '--series', '1.0.4', '--no-fetch', '--tags', tag);
      // Whether upstream has a patch in its own form is read from the first tag checked that has it (for 0007,
      // kubernetes-1.18's kubelet-config, which v1.8.0 no longer has): the verdict of applying it is the tag's own.
      const applied = (t: TagResult) => t.patches.map((p) => (p.status === 'replaced' ? p.applies : p.status));
      expect(applied(together!.tags[i]!), tag).toEqual(applied(alone!.tags[0]!));
    }
  }, 300_000);

  it('names the upstream settings that replace ours, and the release that added each', async () => {
    const [report] = await check(
      '--source',
      'bottlerocket',
      '--series',
      '1.0.4',
      '--no-fetch',
      '--tags',
      TAGS.join(','),
    );
    const kubelet = report!.advice!.find((a) => a.patch.startsWith('0005-'))!;
    expect(kubelet.parts).toContainEqual({
      kind: 'setting',
      ours: '`settings.kubernetes.eviction-hard`',
      upstream: {
        tag: 'v1.0.8',
        what: 'upstream has its own, under the same key',
        key: 'settings.kubernetes.eviction-hard',
      },
    });
    expect(kubelet.text).toContain('`settings.kubernetes.eviction-hard` (v1.0.8)');
    expect(report!.advice!.find((a) => a.patch.startsWith('0001-'))).toMatchObject({ kind: 'drop', since: 'v1.0.5' });
  }, 120_000);

  it('checks both series with no --source', async () => {
    const reports = await check('--no-fetch');
    expect(reports.map((r) => [r.source, r.tags.length > 0])).toEqual([
      ['bottlerocket', true],
      ['admin-container', true],
    ]);
  }, 120_000);
});
