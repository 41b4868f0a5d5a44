/**
 * Benchmark: `bro promote` to 4 regions with a simulated 100 ms per AWS call
 * (EC2 and SSM). The real promotion code (release/promote.ts): it checks every
 * region, then moves the channel, regions side by side; against the same code
 * one region at a time (--region-concurrency 1), the way a script looping over
 * regions would, measured in this process run. Target: at least 3× faster.
 *
 *   node dist/bench/promote.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GetParametersCommandOutput } from '@aws-sdk/client-ssm';
import type { Aws, Ec2 } from '../src/adapters/aws.js';
import type { Ssm } from '../src/adapters/ssm.js';
import type { PublishContext } from '../src/build/step.js';
import { createStateStore } from '../src/build/state.js';
import { validateVariant } from '../src/config/variant.js';
import { parseVersion } from '../src/config/version.js';
import { promote } from '../src/release/promote.js';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-northeast-1'];
const ACCOUNTS = ['111111111111', '222222222222'];
const AWS_CALL_MS = 100;
const PREFIX = '/bench';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notBenched = (): never => {
  throw new Error('not part of this benchmark');
};
const amiOf = (version: string, region: string) => `ami-${version.replace(/\W/g, '')}${region.replace(/-/g, '')}`;

/** EC2 and SSM in memory, every call taking AWS_CALL_MS: the builds 1.0.4-hc1 and -hc2, shared and tagged. */
function simulatedAws(calls: { count: number }): Aws {
  const parameters = new Map<string, string>();
  const call = async <T>(result: () => T): Promise<T> => {
    calls.count++;
    await sleep(AWS_CALL_MS);
    return result();
  };
  for (const region of REGIONS)
    for (const version of ['1.0.4-hc1', '1.0.4-hc2']) {
      const base = `${region}${PREFIX}/aws-k8s-1.18/x86_64`;
      parameters.set(`${base}/${version}/image_id`, amiOf(version, region));
      parameters.set(`${base}/${version}/image_version`, version);
      if (version === '1.0.4-hc1') {
        parameters.set(`${base}/stable/image_id`, amiOf(version, region));
        parameters.set(`${base}/stable/image_version`, version);
      }
    }
  const versionOf = (imageId: string) => (imageId.includes('hc1') ? '1.0.4-hc1' : '1.0.4-hc2');
  return {
    ec2: (): Ec2 =>
      ({
        describeImages: (input) =>
          call(() => ({
            $metadata: {},
            Images: (input.ImageIds ?? []).map((id) => ({
              ImageId: id,
              State: 'available',
              Tags: [
                { Key: 'bro:variant', Value: 'aws-k8s-1.18' },
                { Key: 'bro:version', Value: versionOf(id) },
              ],
            })),
          })),
        describeImageAttribute: () =>
          call(() => ({ $metadata: {}, LaunchPermissions: ACCOUNTS.map((UserId) => ({ UserId })) })),
      }) as Pick<Ec2, 'describeImages' | 'describeImageAttribute'> as Ec2,
    ssm: (region): Ssm => ({
      getParameters: (names) =>
        call((): GetParametersCommandOutput => ({
          $metadata: {},
          Parameters: names.flatMap((Name) => {
            const Value = parameters.get(`${region}${Name}`);
            return Value === undefined ? [] : [{ Name, Value }];
          }),
        })),
      putParameter: (input) => call(() => parameters.set(`${region}${input.Name}`, input.Value!)),
      getParametersByPath: notBenched,
      describeParameters: notBenched,
      deleteParameters: notBenched,
    }),
    ecr: notBenched,
    sts: notBenched,
  };
}

function context(aws: Aws, concurrency: number) {
  const scratch = mkdtempSync(join(tmpdir(), 'bro-bench-promote-'));
  const variant = validateVariant('bench', {
    name: 'aws-k8s-1.18',
    regions: REGIONS,
    'share-with': ACCOUNTS,
    'admin-image': { repository: 'bottlerocket-admin', 'registry-account': '111111111111' },
    sources: {},
    infra: { 'ssm-prefix': PREFIX },
  });
  const ctx = {
    adapters: { aws },
    variant,
    version: parseVersion('1.0.4-hc2'),
    workspace: { root: scratch, broDir: join(scratch, '.bro') },
    settings: { waitTimeoutSeconds: 60, waitPollSeconds: 1, regionConcurrency: concurrency },
    state: createStateStore(join(scratch, '.bro')),
    rollback: { signal: new AbortController().signal },
    out: {},
  } as unknown as PublishContext;
  return { ctx, cleanup: () => rmSync(scratch, { recursive: true, force: true }) };
}

async function measure(label: string, concurrency: number): Promise<number> {
  const calls = { count: 0 };
  const { ctx, cleanup } = context(simulatedAws(calls), concurrency);
  try {
    const start = process.hrtime.bigint();
    const outcomes = await promote(ctx, { channel: 'stable', force: false, dryRun: false }, () => undefined);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (outcomes.some((o) => o.error !== undefined || !o.value?.changed)) throw new Error('the promotion did not move');
    console.log(`  ${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(6)} s  (${calls.count} AWS calls)`);
    return ms;
  } finally {
    cleanup();
  }
}

export async function main(): Promise<void> {
  console.log(`bro promote benchmark: ${REGIONS.length} regions, ${AWS_CALL_MS} ms per AWS call`);
  const sequential = await measure('one region after the other:', 1);
  const parallel = await measure('bro, regions side by side:', REGIONS.length);
  const ratio = sequential / parallel;
  console.log(`  ratio: ${ratio.toFixed(1)}× faster (target ≥ 3×: ${ratio >= 3 ? 'met' : 'MISSED'})`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
