import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  adminUri as uri,
  AMI_NAME,
  buildWorld,
  expectNoSecret,
  filesUnder,
  REGIONS,
  sha256,
  type BuildWorld,
} from './helpers/build-world.js';
import type { FakeTools } from './helpers/fake-tools.js';
import { BUILDSYS_ARGS } from './helpers/git-fixtures.js';
import { awsError, REGISTRY_PASSWORD } from './helpers/aws-world.js';

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const argvOf = (tools: FakeTools) => tools.calls().map((c) => [c.tool, ...c.argv]);

describe('bro build (fake cargo, docker and make on PATH, mocked AWS)', () => {
  it('runs every step, shares every regional AMI and snapshot, pushes the admin image everywhere, writes the manifest; a rerun does nothing', async () => {
    const first = await s.build();
    expect(first.stderr).not.toContain('✖');
    expect(first.code).toBe(0);
    // CI mode: plain lines with timestamps, no colour.
    expect(first.stderr).toMatch(/\[COMPLETED\] \[\d\d:\d\d:\d\d\] Share: /);
    expect(first.stderr).not.toContain('\u001b[');

    // The exact commands, in the places upstream expects them.
    const calls = s.tools.calls();
    const cargo = calls.filter((c) => c.tool === 'cargo');
    expect(cargo.map((c) => c.argv)).toEqual([
      ['make', ...BUILDSYS_ARGS],
      [
        'make',
        ...BUILDSYS_ARGS,
        '-e',
        `PUBLISH_INFRA_CONFIG_PATH=${join(s.br, 'Infra.toml')}`,
        '-e',
        `PUBLISH_REGIONS=${REGIONS.join(',')}`,
        '-e',
        `PUBLISH_AMI_NAME=${AMI_NAME}`,
        '-e',
        'NO_PROGRESS=true',
        'ami',
      ],
    ]);
    expect(cargo.every((c) => c.cwd === s.br)).toBe(true);
    const localTag = 'bottlerocket-admin-amd64:v0.5.2-hc1';
    const docker = calls.filter((c) => c.tool === 'docker' && c.argv[0] === 'build');
    expect(docker.map((c) => c.argv)).toEqual([
      [
        'build',
        '--tag',
        localTag,
        '--build-arg',
        'IMAGE_VERSION=v0.5.2',
        '--build-arg',
        'ARCH=amd64',
        '--build-arg',
        'DOCKER_ARCH=amd64',
        '-f',
        join(s.admin, 'Dockerfile'),
        s.admin,
      ],
    ]);
    expect(docker[0]?.env.DOCKER_BUILDKIT).toBe('1');
    expect(calls.find((c) => c.tool === 'make')?.argv).toEqual([
      'check',
      `IMAGE_NAME=${localTag}`,
      'ARCH=amd64',
      'DOCKER_ARCH=amd64',
    ]);

    const logins = calls.filter((c) => c.tool === 'docker' && c.argv[0] === 'login');
    const pushes = calls.filter((c) => c.tool === 'docker' && c.argv[0] === 'push');
    expect(logins.map((c) => c.argv).sort()).toEqual(
      REGIONS.map((r) => [
        'login',
        '--username',
        'AWS',
        '--password-stdin',
        `210987654321.dkr.ecr.${r}.amazonaws.com`,
      ]).sort(),
    );
    expect(pushes.map((c) => c.argv[1]).sort()).toEqual(REGIONS.map(uri).sort());
    for (const login of logins) {
      // The password went on stdin, into a private per-run DOCKER_CONFIG that is gone now.
      expect(login.stdinSha256).toBe(sha256(REGISTRY_PASSWORD));
      expect(login.env.DOCKER_CONFIG?.startsWith(join(s.work, '.bro', 'docker', 'run-'))).toBe(true);
      expect(login.dockerConfigMode).toBe('700');
      expect(existsSync(login.env.DOCKER_CONFIG as string)).toBe(false);
      expect(pushes.find((p) => p.argv[1]?.startsWith(login.argv[4] as string))?.env.DOCKER_CONFIG).toBe(
        login.env.DOCKER_CONFIG,
      );
    }

    // ECR: an immutable, scanned repository in every region holding the pushed digest.
    for (const r of REGIONS)
      expect(s.world.repositories.get(`${r}/bottlerocket-admin`)).toEqual({ immutable: true, scanOnPush: true });
    // EC2: every regional AMI and both its snapshots shared with every account, and tagged.
    const amis = JSON.parse(
      readFileSync(
        join(s.br, 'build/images/x86_64-aws-k8s-1.18/bottlerocket-aws-k8s-1.18-x86_64-1.0.4-hc1-amis.json'),
        'utf8',
      ),
    );
    expect(Object.keys(amis)).toEqual(REGIONS);
    for (const r of REGIONS) {
      const image = s.world.image(r, amis[r].id);
      expect([...image.launch].sort()).toEqual(ACCOUNTS);
      for (const snap of image.snapshots) expect(s.world.volumePermissions(r, snap).sort()).toEqual(ACCOUNTS);
      expect(image.tags.get('bro:version')).toBe('1.0.4-hc1');
      expect(image.tags.get('bro:bottlerocket-commit')).toBe(s.upstream.tags['v1.0.4']);
      expect(image.tags.get('bro:patch-series')).toMatch(/^sha256:[0-9a-f]{64}$/);
    }

    // The manifest: versioned, complete, and printed.
    const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      schemaVersion: 1,
      kind: 'bro.manifest',
      variant: 'aws-k8s-1.18',
      version: '1.0.4-hc1',
      amiName: AMI_NAME,
      accounts: ACCOUNTS,
    });
    expect(manifest.bro.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(manifest.sources.bottlerocket.commit).toBe(s.upstream.tags['v1.0.4']);
    expect(manifest.sources['admin-container'].commit).toBe(s.upstream.adminCommit);
    for (const r of REGIONS) {
      const image = s.world.image(r, amis[r].id);
      expect(manifest.regions[r]).toEqual({
        ami: amis[r].id,
        snapshots: image.snapshots,
        sharedWith: ACCOUNTS,
        adminImage: { uri: uri(r), digest: s.tools.registryDigest(uri(r).split(':')[0] as string, 'v0.5.2-hc1') },
      });
    }
    for (const step of ['admin-image-build', 'admin-image-push', 'os-build', 'ami-register', 'share']) {
      expect(manifest.steps[step]).toMatchObject({ status: 'done' });
      expect(typeof manifest.steps[step].durationMs).toBe('number');
    }
    expect(first.stdout).toContain(`Release aws-k8s-1.18 (x86_64) 1.0.4-hc1: ${join(s.work, 'manifest.json')}`);

    // No secret in argv or env of any command, the logs, the manifest, or the output.
    for (const call of calls) expectNoSecret(JSON.stringify([call.argv, call.env]), `${call.tool} ${call.argv[0]}`);
    const logs = filesUnder(join(s.work, '.bro', 'logs'));
    expect(logs.map((l) => l.split('/').pop()).sort()).toEqual(
      [
        'admin-image-build.log',
        'ami-register.log',
        'os-build.log',
        ...REGIONS.map((r) => `admin-image-push-${r}.log`),
      ].sort(),
    );
    for (const log of logs) expectNoSecret(readFileSync(log, 'utf8'), log);
    expect(readFileSync(join(s.work, '.bro/logs/admin-image-push-us-east-1.log'), 'utf8')).toMatch(
      /v0\.5\.2-hc1: digest: sha256:[0-9a-f]{64}/,
    );
    expectNoSecret(readFileSync(join(s.work, 'manifest.json'), 'utf8'), 'the manifest');
    expectNoSecret(readFileSync(join(s.work, '.bro/state.json'), 'utf8'), 'the state file');
    expectNoSecret(first.stdout + first.stderr, 'the output');

    // An immediate rerun: no cargo or docker command, no modifying AWS call.
    s.tools.clearCalls();
    const modifying = s.world.modifying().length;
    const again = await s.build();
    expect(again.code).toBe(0);
    expect(argvOf(s.tools)).toEqual([]);
    expect(s.world.modifying().length).toBe(modifying);
    expect(again.stderr).toMatch(/OS image: build \(cargo make\) \[SKIPPED: done .*, inputs unchanged\]/);
    expect(existsSync(join(s.work, '.bro', 'lock'))).toBe(false);
  });

  it('after one region fails, reports every region, and a rerun completes only that region', async () => {
    s.world.failures.set(
      'us-west-1/ModifyImageAttribute',
      awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
    );
    const first = await s.build();
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('Sharing failed in 1 of 3 regions');
    expect(first.stderr).toMatch(/✔ ap-northeast-1: ami-\w+ /);
    expect(first.stderr).toContain(
      '✖ us-west-1: UnauthorizedOperation: You are not authorized to perform this operation.',
    );
    expect(first.stderr).toMatch(/✔ us-east-1: ami-\w+ /);
    expect(existsSync(join(s.work, 'manifest.json'))).toBe(false);

    s.world.failures.clear();
    s.world.calls.length = 0;
    s.tools.clearCalls();
    const rerun = await s.build();
    expect(rerun.code).toBe(0);
    expect(argvOf(s.tools)).toEqual([]);
    // Besides the preflight's GetCallerIdentity, only the failed region is worked on; the others' grants are read to verify them.
    const elsewhere = s.world.calls.filter((c) => c.action !== 'GetCallerIdentity' && c.region !== 'us-west-1');
    expect([...new Set(elsewhere.map((c) => c.action))].sort()).toEqual([
      'DescribeImageAttribute',
      'DescribeSnapshotAttribute',
    ]);
    // The snapshots were shared and tagged the first time: only the launch permission was missing.
    expect(s.world.modifying().map((c) => c.action)).toEqual(['ModifyImageAttribute']);
    const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.regions)).toEqual(REGIONS);
  });
});
