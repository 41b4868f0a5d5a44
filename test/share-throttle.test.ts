import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS, buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { startEc2Endpoint, type Ec2Endpoint } from './helpers/ec2-endpoint.js';
import { startEcrEndpoint, type EcrEndpoint } from './helpers/ecr-endpoint.js';
import { REPO_ROOT } from './helpers/git-fixtures.js';
import { stsEndpoint } from './helpers/mock-aws.js';
import { sealedEnv } from './helpers/env.js';

/**
 * Routine throttling through the real SDK: bro runs as its own process against
 * the loopback EC2 endpoint (aws-sdk-client-mock would bypass the SDK's retry
 * logic), which answers every modifying request five times with EC2's
 * RequestLimitExceeded before it applies it. The build still succeeds.
 */
let s: BuildWorld;
let ec2: Ec2Endpoint;
let ecr: EcrEndpoint;
let sts: Awaited<ReturnType<typeof stsEndpoint>>;
beforeEach(async () => {
  s = buildWorld();
  ec2 = await startEc2Endpoint();
  ecr = await startEcrEndpoint((uri, tag) => s.tools.registryDigest(uri, tag));
  sts = await stsEndpoint();
});
afterEach(async () => {
  await ec2.close();
  await ecr.close();
  sts.close();
  s.cleanup();
});

function bro(): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'dist/src/bin/bro.js'),
      'build',
      'aws-k8s-1.18',
      '--version',
      '1.0.4-hc1',
      '--project-dir',
      s.project,
      '--cache-dir',
      s.cacheDir,
      '--ci',
      '--min-free-disk',
      '0.1',
      '--wait-poll',
      '0.05',
    ],
    { env: sealedEnv({ ...s.tools.env, ...sts.env, ...ecr.env, ...ec2.env }), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('throttling (the real SDK against a loopback EC2 endpoint)', () => {
  // The SDK's backoff after five throttles (up to 500 ms × 2^4 each, plus the adaptive rate limit) takes about a minute.
  it(
    'five throttles on every modifying call: the build still succeeds, and every grant is there',
    { timeout: 300_000 },
    async () => {
      const modifying = ['ModifyImageAttribute', 'ModifySnapshotAttribute', 'CreateTags'];
      ec2.throttle(modifying, 5);
      const result = await bro();
      expect(result.code, result.stderr).toBe(0);

      const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
      for (const region of REGIONS) {
        const image = ec2.image(region, manifest.regions[region].ami);
        expect([...image.launch].sort(), region).toEqual(ACCOUNTS);
        for (const snap of image.snapshots) expect(ec2.volumePermissions(region, snap).sort()).toEqual(ACCOUNTS);
        expect(image.tags.get('bro:version')).toBe('1.0.4-hc1');
        expect(manifest.regions[region].sharedWith).toEqual(ACCOUNTS);
      }
      // Every modifying request was refused five times first: per region one launch grant, one tagging, two snapshots.
      expect(Object.fromEntries(ec2.throttled)).toEqual({
        ModifyImageAttribute: 5 * REGIONS.length,
        ModifySnapshotAttribute: 5 * 2 * REGIONS.length,
        CreateTags: 5 * REGIONS.length,
      });
    },
  );
});
