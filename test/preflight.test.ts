import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { createAws } from '../src/adapters/aws.js';
import type { Host } from '../src/adapters/host.js';
import { createAdapters } from '../src/adapters/index.js';
import { validateVariant } from '../src/config/variant.js';
import {
  awsIdentityCheck,
  CHECKS,
  diskCheck,
  ecrRegistryCheck,
  isExampleAccount,
  requiredDiskGiB,
  type CheckInputs,
  type Found,
  type Identity,
} from '../src/build/preflight/checks.js';
import { runPreflight } from '../src/build/preflight/preflight.js';
import { buildWorld, REGISTRY_ACCOUNT, type BuildWorld } from './helpers/build-world.js';
import { runCli } from './helpers/cli.js';
import { isProbe } from './helpers/fake-tools.js';
import { removeDir, tempDir } from './helpers/git-fixtures.js';

const GIB = 1024 ** 3;

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const doctor = (args: string[], env: Record<string, string> = {}) =>
  runCli(['doctor', ...args, '--project-dir', s.project], { ...s.tools.env, ...env });
const variantFile = () => join(s.project, 'variants/aws-k8s-1.18.toml');
/** The shipped variant's placeholders, as an operator who forgot to replace them would have them. */
const useExampleAccounts = () =>
  writeFileSync(
    variantFile(),
    readFileSync(variantFile(), 'utf8')
      .replaceAll(REGISTRY_ACCOUNT, '111111111111')
      .replace('345678901234', '222222222222'),
  );

describe('bro doctor', () => {
  it('passes on a host with an engine, cargo-make, the disk asked for and credentials of the registry account', async () => {
    const result = await doctor(['--min-free-disk', '0.1']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('✔ Docker engine: engine 27.3.1 answers');
    expect(result.stdout).toContain('✔ cargo make: cargo-make 0.32.9');
    expect(result.stdout).toMatch(/✔ Free disk: \d+\.\d GiB free under .*; needs 0\.1 GiB \(--min-free-disk\)/);
    expect(result.stdout).toContain(
      `✔ AWS identity: account ${REGISTRY_ACCOUNT} as arn:aws:iam::${REGISTRY_ACCOUNT}:user/builder, through the SDK's default chain (no profile set), partition aws`,
    );
    expect(result.stdout).toContain(`✔ ECR registry: account ${REGISTRY_ACCOUNT}, your own`);
    expect(result.stdout).toContain('This host can build aws-k8s-1.18.');
    // It asked the engine and cargo, nothing else.
    expect(s.tools.allCalls().map((c) => [c.tool, ...c.argv])).toEqual(
      expect.arrayContaining([
        ['docker', 'info', '--format', '{{.ServerVersion}}'],
        ['cargo', 'make', '--version'],
      ]),
    );
    expect(s.tools.allCalls().every(isProbe)).toBe(true);
    expect(s.world.calls.map((c) => c.action)).toEqual(['GetCallerIdentity']);
  });

  it('names each missing must-have with its fix and exits 1: no engine, no cargo-make, example accounts', async () => {
    useExampleAccounts();
    // cargo without the cargo-make subcommand answers as cargo does.
    const bin = tempDir('bro-cargo-');
    try {
      writeFileSync(join(bin, 'cargo'), '#!/bin/sh\necho "error: no such command: \\`$1\\`" >&2\nexit 101\n');
      chmodSync(join(bin, 'cargo'), 0o755);
      const result = await doctor(['--min-free-disk', '0.1'], {
        BRO_FAKE_DOCKER_DIR: '',
        PATH: `${bin}:${s.tools.env.PATH}`,
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        '✖ Docker engine: the docker CLI is installed, but no engine answers: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n    → Start the engine',
      );
      expect(result.stdout).toContain(
        '✖ cargo make: cargo-make is not installed (error: no such command: `make`)\n    → Install it: `cargo install cargo-make`.',
      );
      expect(result.stdout).toContain(
        '✖ Accounts: share-with 111111111111, 222222222222; admin-image.registry-account 111111111111: example account IDs, not real ones\n    → Put your own account IDs in variants/aws-k8s-1.18.toml',
      );
      // The caller's account is not the (example) registry's: advice, not a failure.
      expect(result.stdout).toContain(`! ECR registry: account 111111111111 is not your account ${REGISTRY_ACCOUNT}`);
      expect(result.stdout).toContain('3 must-haves failed: a build of aws-k8s-1.18 would refuse to start.');
    } finally {
      removeDir(bin);
    }
  });

  it('a network problem on the way to STS is named as the network, not as missing credentials', async () => {
    // What the SDK's node HTTP handler rejects with when DNS has no answer.
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND sts.ap-northeast-1.amazonaws.com'), {
      code: 'ENOTFOUND',
      hostname: 'sts.ap-northeast-1.amazonaws.com',
    });
    s.world.failures.set('*/GetCallerIdentity', dns);
    const result = await doctor(['--min-free-disk', '0.1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "✖ AWS identity: STS GetCallerIdentity in ap-northeast-1 could not reach AWS through the SDK's default chain (no profile set), partition aws: getaddrinfo ENOTFOUND sts.ap-northeast-1.amazonaws.com\n    → This is the network, not your credentials: check DNS, the proxy (HTTPS_PROXY) and the firewall to STS in ap-northeast-1, then rerun.",
    );
    expect(result.stdout).not.toContain('aws sso login');

    // Credentials AWS refuses are still the credentials' problem.
    s.world.failures.set(
      '*/GetCallerIdentity',
      Object.assign(new Error('The security token included in the request is invalid.'), {
        name: 'InvalidClientTokenId',
      }),
    );
    const refused = await doctor(['--min-free-disk', '0.1']);
    expect(refused.stdout).toContain('failed through');
    expect(refused.stdout).toContain('aws sso login');
  });

  it('--json is one versioned document', async () => {
    const result = await doctor(['aws-k8s-1.18', '--json', '--min-free-disk', '1000000']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, kind: 'bro.doctor', variant: 'aws-k8s-1.18', ok: false });
    expect(doc.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual([
      'docker:ok',
      'cargo-make:ok',
      'disk:fail',
      expect.stringMatching(/^cores:(ok|advice)$/),
      'aws-identity:ok',
      'ecr-registry:ok',
      'example-accounts:ok',
    ]);
  });
});

describe('the preflight of bro build', () => {
  it('a real build refuses to start on a failed must-have (exit 2) and runs nothing', async () => {
    useExampleAccounts();
    const result = await s.build();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Preflight:\n');
    expect(result.stderr).toContain('✖ Accounts: share-with 111111111111, 222222222222');
    expect(result.stderr).toContain('✖ This host cannot run the build: Accounts (see above). Nothing was started.');
    expect(s.tools.calls()).toEqual([]);
    expect(s.world.modifying()).toEqual([]);
  });

  it('bro share refused by its preflight says it cannot share, not that it cannot run the build', async () => {
    useExampleAccounts();
    const result = await s.cli(['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--ci']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('✖ This host cannot share the AMIs: Accounts (see above). Nothing was started.');
    expect(result.stderr).not.toContain('run the build');
  });

  it('a real build prints the checks once, then builds', async () => {
    const result = await s.build();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.match(/✔ Docker engine/g)).toHaveLength(1);
    expect(result.stderr.indexOf('Preflight:')).toBeLessThan(result.stderr.indexOf('Resolve'));
  });

  it('--only share checks only what sharing needs', async () => {
    const result = await s.build(['--only', 'share'], { BRO_FAKE_DOCKER_DIR: '' });
    // No engine, but sharing does not need one: the step itself then says what is missing.
    expect(result.stderr).toContain('- Docker engine: not needed by share');
    expect(result.stderr).toContain('share needs the result of ami-register');
    expect(result.code).toBe(1);
  });

  it('a dry run shows the checks in its plan, warns about the example accounts, and exits 0', async () => {
    useExampleAccounts();
    const result = await s.cli(['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--ci']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Preflight (a real build refuses to start while a ✖ remains):');
    expect(result.stdout).toContain('  ✖ Accounts: share-with 111111111111, 222222222222');
    expect(result.stdout.indexOf('Preflight')).toBeLessThan(result.stdout.indexOf('Commands:'));
    const json = JSON.parse(
      (await s.cli(['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--json'])).stdout,
    );
    expect(json.preflight.find((c: { id: string }) => c.id === 'example-accounts')).toMatchObject({
      status: 'fail',
      mustHave: true,
    });
  });
});

describe('the checks', () => {
  const variant = validateVariant('v.toml', {
    name: 'aws-k8s-1.18',
    regions: ['us-east-1'],
    'share-with': ['345678901234'],
    'admin-image': { repository: 'bottlerocket-admin', 'registry-account': '210987654321' },
    sources: {},
    infra: { profile: 'publish' },
  });
  const host = (free: number, awsFiles = false): Host => ({
    freeBytes: async (path) => ({ bytes: free, measuredAt: path }),
    cores: () => 2,
    hasAwsFiles: async () => awsFiles,
  });
  const inputs = (over: Partial<CheckInputs> = {}): CheckInputs => {
    const adapters = createAdapters({
      projectDir: s.project,
      cacheDir: s.cacheDir,
      dryRun: true,
      debug: false,
      env: {},
      stderr: process.stderr,
    });
    return {
      variant,
      variantFile: 'variants/v.toml',
      workDir: '/w',
      runner: adapters.runner,
      host: host(0),
      aws: createAws({ maxAttempts: 1 }),
      env: {},
      redactor: adapters.redactor,
      hasBuildCaches: false,
      ...over,
    };
  };

  /** What the other checks found: this identity (none: STS did not say). */
  const knowing = (identity?: Identity): Found => ({ identity: () => Promise.resolve(identity) });
  const checkAwsIdentity = (i: CheckInputs) => awsIdentityCheck.run(i, knowing());

  it('disk: 80 GiB for a first build, 20 GiB when the caches of an earlier build are there, or what --min-free-disk says', async () => {
    expect(requiredDiskGiB({ hasBuildCaches: false })).toMatchObject({ gib: 80 });
    expect(requiredDiskGiB({ hasBuildCaches: true })).toMatchObject({ gib: 20 });
    expect(requiredDiskGiB({ hasBuildCaches: true, minFreeDiskGiB: 5 })).toMatchObject({ gib: 5 });
    const first = await diskCheck.run(inputs({ host: host(78 * GIB) }), knowing());
    expect(first).toMatchObject({
      status: 'fail',
      detail: "78.0 GiB free under /w; needs 80 GiB (a first build in this workspace, per upstream's BUILDING.md)",
    });
    expect(first.fix).toContain('Free 2.0 GiB there, or put the workspace on a larger disk (--work-dir)');
    expect((await diskCheck.run(inputs({ host: host(78 * GIB), hasBuildCaches: true }), knowing())).status).toBe('ok');
  });

  it("AWS identity: the account, the profile and the partition; a partition other than the regions' is a failure", async () => {
    const sts = mockClient(STSClient);
    try {
      sts
        .on(GetCallerIdentityCommand)
        .resolves({ Account: '210987654321', Arn: 'arn:aws:sts::210987654321:assumed-role/publish/bro' });
      const ok = await checkAwsIdentity(inputs());
      expect(ok).toMatchObject({
        status: 'ok',
        detail:
          'account 210987654321 as arn:aws:sts::210987654321:assumed-role/publish/bro, through profile publish (infra.profile), partition aws',
      });
      expect(await ecrRegistryCheck.run(inputs(), knowing(ok.identity))).toMatchObject({ status: 'ok' });

      sts
        .on(GetCallerIdentityCommand)
        .resolves({ Account: '210987654321', Arn: 'arn:aws-cn:iam::210987654321:user/x' });
      const china = await checkAwsIdentity(inputs());
      expect(china.status).toBe('fail');
      expect(china.fix).toContain("The variant's regions are in partition aws: use credentials of an account there");

      sts.on(GetCallerIdentityCommand).rejects(
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
      );
      const none = await checkAwsIdentity(inputs());
      expect(none).toMatchObject({
        status: 'fail',
        detail:
          'STS GetCallerIdentity in us-east-1 failed through profile publish (infra.profile), partition aws: Could not load credentials from any providers',
      });
      expect(await ecrRegistryCheck.run(inputs(), knowing(none.identity))).toMatchObject({ status: 'skipped' });
    } finally {
      sts.restore();
    }
  });

  it('AWS identity in a dry run: asked only where credentials are configured, never the instance metadata service on a guess', async () => {
    const sts = mockClient(STSClient);
    try {
      sts
        .on(GetCallerIdentityCommand)
        .resolves({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:user/builder' });
      const bare = { ...variant, infra: {} } as typeof variant;
      const skipped = await checkAwsIdentity(inputs({ variant: bare, dryRun: true }));
      expect(skipped).toMatchObject({ status: 'skipped' });
      expect(skipped.detail).toContain('not asked in a dry run');
      expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(0);
      // Each place credentials can be configured makes the dry run ask; a real build always asks.
      for (const over of [
        { env: { AWS_PROFILE: 'p' } },
        { env: { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' } },
        { host: host(0, true) },
        { variant },
        { dryRun: false },
      ]) {
        expect((await checkAwsIdentity(inputs({ variant: bare, dryRun: true, ...over }))).status).toBe('ok');
      }
      expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(5);
    } finally {
      sts.restore();
    }
  });

  it('the AWS identity and ECR registry checks share one STS call; a check no step of --only needs is skipped', async () => {
    const sts = mockClient(STSClient);
    onTestFinished(() => sts.restore());
    sts.on(GetCallerIdentityCommand).resolves({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:user/b' });
    {
      const checks = await runPreflight(inputs({ host: host(100 * GIB) }));
      expect(checks.map((c) => c.id)).toEqual(CHECKS.map((c) => c.id));
      expect(checks.find((c) => c.id === 'ecr-registry')).toMatchObject({ status: 'ok', mustHave: false });
      expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);
      const forShare = await runPreflight(inputs(), ['share']);
      expect(forShare.find((c) => c.id === 'docker')).toEqual({
        id: 'docker',
        title: 'Docker engine',
        mustHave: true,
        status: 'skipped',
        detail: 'not needed by share',
      });
    }
  });

  it('the registry of another account is advice on cross-account pushes', async () => {
    const result = await ecrRegistryCheck.run(
      inputs(),
      knowing({ account: '456789012345', arn: 'arn:aws:iam::456789012345:user/x', partition: 'aws' }),
    );
    expect(result).toMatchObject({ status: 'advice' });
    expect(ecrRegistryCheck.mustHave).toBe(false);
    expect(result.fix).toContain(
      'must exist in 210987654321 in every region (bro can create it only in your own account), with a repository policy that lets 456789012345 push',
    );
  });

  it("example account IDs: the shipped ones, any repeated digit, and AWS documentation's", () => {
    for (const id of ['111111111111', '222222222222', '000000000000', '123456789012', '111122223333'])
      expect(isExampleAccount(id), id).toBe(true);
    for (const id of ['210987654321', '345678901234', '112233445566']) expect(isExampleAccount(id), id).toBe(false);
  });
});
