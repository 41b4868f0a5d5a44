/**
 * Benchmark: publishing to 4 regions × 3 accounts, with a simulated 100 ms per
 * AWS call and 2 s per `docker push` (the fake docker of test/fakes/bin,
 * through bro's runner). bro's way — the real admin-image-push and share code,
 * regions side by side — against the source document's shell loop, which does
 * the same work one call after the other, measured in this process run.
 * Target: at least 3× faster.
 *
 *   node dist/bench/publish.js
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Aws, Ec2, Ecr } from '../src/adapters/aws.js';
import { createAdapters } from '../src/adapters/index.js';
import { createDocker } from '../src/adapters/docker.js';
import { dockerLoginCommand, dockerPushCommand, dockerTagCommand } from '../src/build/commands-for-build.js';
import { validateVariant } from '../src/config/variant.js';
import { parseVersion } from '../src/config/version.js';
import { adminImageUri, ecrRegistry } from '../src/build/naming.js';
import type { PublishContext } from '../src/build/step.js';
import { createStateStore } from '../src/build/state.js';
import { pushToRegion, registryPassword } from '../src/build/steps/admin-image-push.js';
import { forEachRegion } from '../src/build/steps/regions.js';
import { shareImage } from '../src/build/steps/share.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-northeast-1'];
const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const AWS_CALL_MS = 100;
const PUSH_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notBenched = (): never => {
  throw new Error('not part of this benchmark');
};

/** EC2 and ECR in memory, every call taking AWS_CALL_MS: the narrow interfaces make this a few lines. */
function simulatedAws(calls: { count: number }, engine: string): Aws {
  const launch = new Map<string, Set<string>>();
  const volume = new Map<string, Set<string>>();
  const repos = new Set<string>();
  const call = async <T>(result: () => T): Promise<T> => {
    calls.count++;
    await sleep(AWS_CALL_MS);
    return result();
  };
  const set = (map: Map<string, Set<string>>, key: string) => map.get(key) ?? map.set(key, new Set()).get(key)!;
  const image = (region: string, id: string) => ({
    ImageId: id,
    State: 'available' as const,
    BlockDeviceMappings: [0, 1].map((n) => ({
      DeviceName: `/dev/xvd${'ab'[n]}`,
      Ebs: { SnapshotId: `snap-${region}-${n}` },
    })),
  });
  return {
    ec2: (region): Ec2 => ({
      describeImages: (input) =>
        call(() => ({ Images: (input.ImageIds ?? []).map((id) => image(region, id)), $metadata: {} })),
      describeImageAttribute: (input) =>
        call(() => ({
          LaunchPermissions: [...set(launch, `${region}/${input.ImageId}`)].map((UserId) => ({ UserId })),
          $metadata: {},
        })),
      describeSnapshotAttribute: (input) =>
        call(() => ({
          CreateVolumePermissions: [...set(volume, `${region}/${input.SnapshotId}`)].map((UserId) => ({ UserId })),
          $metadata: {},
        })),
      modifyImageAttribute: (input) =>
        call(() =>
          input.LaunchPermission?.Add?.forEach((p) => set(launch, `${region}/${input.ImageId}`).add(p.UserId!)),
        ),
      modifySnapshotAttribute: (input) =>
        call(() =>
          input.CreateVolumePermission?.Add?.forEach((p) =>
            set(volume, `${region}/${input.SnapshotId}`).add(p.UserId!),
          ),
        ),
      createTags: () => call(() => ({})),
      enableImageDeprecation: notBenched,
      deregisterImage: notBenched,
      deleteSnapshot: notBenched,
      waitForImageAvailable: (id) => call(() => ({ state: 'SUCCESS' as const, image: image(region, id) })),
    }),
    ssm: notBenched,
    ecr: (region): Ecr => ({
      describeRepositories: (input) =>
        call(() => {
          if (!repos.has(`${region}/${input.repositoryNames?.[0]}`))
            throw Object.assign(new Error('not found'), { name: 'RepositoryNotFoundException' });
          return { repositories: [{}], $metadata: {} };
        }),
      createRepository: (input) => call(() => (repos.add(`${region}/${input.repositoryName}`), { $metadata: {} })),
      getAuthorizationToken: () =>
        call(() => ({
          authorizationData: [{ authorizationToken: Buffer.from('AWS:bench-password').toString('base64') }],
          $metadata: {},
        })),
      // What the fake docker pushed, from its registry directory.
      describeImages: (input) =>
        call(() => {
          const repository = `${ecrRegistry(input.registryId!, region)}/${input.repositoryName}`;
          const file = join(
            engine,
            'registry',
            encodeURIComponent(repository),
            encodeURIComponent(input.imageIds?.[0]?.imageTag ?? ''),
          );
          if (!existsSync(file)) throw Object.assign(new Error('no such image'), { name: 'ImageNotFoundException' });
          return { imageDetails: [{ imageDigest: readFileSync(file, 'utf8') }], $metadata: {} };
        }),
    }),
    // The publish steps never ask who they are (the preflight does, before them).
    sts: () => ({
      getCallerIdentity: () =>
        call(() => ({ Account: '111111111111', Arn: 'arn:aws:iam::111111111111:user/bench', $metadata: {} })),
    }),
  };
}

interface World {
  ctx: PublishContext;
  calls: { count: number };
  cleanup(): void;
}

/** A context with just what the push and share code read, the fake docker on PATH, and a built admin image. */
function world(): World {
  const scratch = mkdtempSync(join(tmpdir(), 'bro-bench-publish-'));
  const env = {
    ...process.env,
    PATH: `${join(root, 'test', 'fakes', 'bin')}:${process.env.PATH}`,
    BRO_FAKE_DOCKER_DIR: join(scratch, 'engine'),
    BRO_FAKE_DOCKER_PUSH_MS: String(PUSH_MS),
  };
  const context = join(scratch, 'admin');
  mkdirSync(context);
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\n');
  execFileSync(
    'docker',
    ['build', '--tag', 'bottlerocket-admin-amd64:v0.5.2-hc1', '-f', join(context, 'Dockerfile'), context],
    { env, stdio: 'ignore' },
  );
  const calls = { count: 0 };
  const adapters = createAdapters({
    projectDir: scratch,
    cacheDir: scratch,
    dryRun: false,
    debug: false,
    env,
    stderr: process.stderr,
  });
  adapters.aws = simulatedAws(calls, env.BRO_FAKE_DOCKER_DIR);
  const variant = validateVariant('bench', {
    name: 'aws-k8s-1.18',
    regions: REGIONS,
    'share-with': ACCOUNTS,
    'admin-image': { repository: 'bottlerocket-admin', 'registry-account': '111111111111' },
    sources: { 'admin-container': { ref: '0'.repeat(40) } },
  });
  const broDir = join(scratch, 'work', '.bro');
  const ctx = {
    options: { dryRun: false },
    adapters,
    variant,
    version: parseVersion('1.0.4-hc1'),
    workspace: { root: join(scratch, 'work'), bottlerocket: '', adminContainer: context, broDir },
    settings: { waitTimeoutSeconds: 60, waitPollSeconds: 1, regionConcurrency: REGIONS.length, pushTimeoutMs: 60_000 },
    state: createStateStore(broDir),
    out: {},
  } as unknown as PublishContext;
  return { ctx, calls, cleanup: () => rmSync(scratch, { recursive: true, force: true }) };
}

const image = { tag: 'v0.5.2-hc1', localTag: 'bottlerocket-admin-amd64:v0.5.2-hc1', imageId: 'sha256:bench' };
const amiId = (region: string) => `ami-${region.replace(/-/g, '')}`;
const task = { title: '', output: '' };

/** bro: every region at once, each region's calls as the steps make them. */
async function broWay({ ctx }: World): Promise<void> {
  const docker = createDocker(ctx.adapters.runner);
  const configs = await docker.configDir(ctx.workspace.broDir);
  try {
    const pushed = await forEachRegion(REGIONS, ctx.settings.regionConcurrency, (region) =>
      pushToRegion({ ctx, image, docker, configs, task }, region),
    );
    const aws = ctx.adapters.aws!;
    const wait = { maxWaitSeconds: 60, minDelaySeconds: 1 };
    const shared = await forEachRegion(REGIONS, ctx.settings.regionConcurrency, (region) =>
      shareImage(aws.ec2(region), {
        imageId: amiId(region),
        accounts: ACCOUNTS,
        tags: { 'bro:version': '1.0.4-hc1' },
        wait,
        progress: () => undefined,
      }),
    );
    const failed = [...pushed, ...shared].find((o) => o.error);
    if (failed) throw failed.error;
  } finally {
    await configs.remove();
  }
}

/**
 * The source document's loop: for each region, get-login-password, docker
 * login, tag and push; then for each region, account and snapshot, one grant
 * after the other.
 */
async function shellLoop({ ctx }: World): Promise<void> {
  const { runner, redactor } = ctx.adapters;
  const aws = ctx.adapters.aws!;
  const configs = await createDocker(runner).configDir(ctx.workspace.broDir);
  try {
    for (const region of REGIONS) {
      const password = await registryPassword(aws.ecr(region), redactor);
      const registry = ecrRegistry('111111111111', region);
      const uri = adminImageUri(ctx.variant, region, image.tag);
      await runner.run({ ...dockerLoginCommand(registry, configs.path), input: password });
      await runner.run(dockerTagCommand(image.localTag, uri));
      await runner.run(dockerPushCommand(uri, configs.path));
    }
    for (const region of REGIONS) {
      const ec2 = aws.ec2(region);
      const { Images } = await ec2.describeImages({ ImageIds: [amiId(region)] });
      const snapshots = (Images?.[0]?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId as string);
      for (const account of ACCOUNTS) {
        await ec2.modifyImageAttribute({ ImageId: amiId(region), LaunchPermission: { Add: [{ UserId: account }] } });
        for (const snapshot of snapshots) {
          await ec2.modifySnapshotAttribute({
            SnapshotId: snapshot,
            CreateVolumePermission: { Add: [{ UserId: account }] },
          });
        }
      }
    }
  } finally {
    await configs.remove();
  }
}

async function measure(label: string, run: (w: World) => Promise<void>): Promise<{ ms: number; calls: number }> {
  const w = world();
  try {
    const start = process.hrtime.bigint();
    await run(w);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`  ${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(6)} s  (${w.calls.count} AWS calls)`);
    return { ms, calls: w.calls.count };
  } finally {
    w.cleanup();
  }
}

export async function main(): Promise<void> {
  console.log(
    `bro publish benchmark: ${REGIONS.length} regions × ${ACCOUNTS.length} accounts, ${AWS_CALL_MS} ms per AWS call, ${PUSH_MS / 1000} s per push`,
  );
  const loop = await measure('shell loop, one thing after the other:', shellLoop);
  const bro = await measure('bro, regions side by side:', broWay);
  const ratio = loop.ms / bro.ms;
  console.log(`  ratio: ${ratio.toFixed(1)}× faster (target ≥ 3×: ${ratio >= 3 ? 'met' : 'MISSED'})`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
