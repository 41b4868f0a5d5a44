import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  makeAdminSandbox,
  sandboxUnavailable,
  type AdminSandbox,
  type SandboxOptions,
} from './helpers/admin-sandbox.js';
import { patchedAdminTree, type PatchedAdminTree } from './helpers/admin-upstream.js';

/**
 * The patched admin container's start script (patches/admin-container/0.5.2 on
 * the real upstream from ../shared/upstream), run byte-identical in a sandbox
 * root shaped like the image (test/helpers/admin-sandbox.ts), with doubles for
 * IMDS (curl), ssh-keygen, sshd and the ec2-instance-connect package.
 */

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyPairPublicKeyForTheAdminContainerTest operator@laptop';
const PERSISTENT = '/.bottlerocket/host-containers/admin/etc/ssh';
const MARKER = `${PERSISTENT}/.eic_hostkeys_harvested`;
const ALGORITHMS = ['rsa', 'ecdsa', 'ed25519'] as const;

let patched: PatchedAdminTree | undefined;
let skip: string | undefined;
beforeAll(async () => {
  skip = await sandboxUnavailable();
  if (skip) return;
  const result = await patchedAdminTree();
  if ('skip' in result) skip = result.skip;
  else patched = result.tree;
}, 120_000);
afterAll(() => patched?.cleanup());

const sandboxes: AdminSandbox[] = [];
afterEach(() => sandboxes.splice(0).forEach((s) => s.cleanup()));

/** The patched tree, or the test is skipped, visibly, with the reason (no sandbox here, or no ../shared/upstream). */
function requirePatched(ctx: TestContext): PatchedAdminTree {
  if (skip || !patched) {
    ctx.skip(skip ?? 'the patched admin container tree could not be made');
  }
  return patched;
}

/** A sandbox holding the patched tree's start_admin_sshd.sh and sshd_config (or the given files). */
function sandbox(
  ctx: TestContext,
  options: SandboxOptions,
  files?: { startScript: string; sshdConfig: string },
): AdminSandbox {
  const tree = requirePatched(ctx).tree;
  const s = makeAdminSandbox(
    files ?? {
      startScript: readFileSync(join(tree, 'start_admin_sshd.sh'), 'utf8'),
      sshdConfig: readFileSync(join(tree, 'sshd_config'), 'utf8'),
    },
    options,
  );
  sandboxes.push(s);
  return s;
}

const start = (s: AdminSandbox) => s.run(['/usr/sbin/start_admin_sshd.sh']);
const read = (s: AdminSandbox, inner: string) => readFileSync(s.path(inner), 'utf8');
const sshdStarted = (s: AdminSandbox) => s.calls().includes('sshd');
const harvests = (s: AdminSandbox) => s.calls().filter((c) => c === 'eic_harvest_hostkeys').length;
const keygens = (s: AdminSandbox) => s.calls().filter((c) => c.startsWith('ssh-keygen'));

/** sshd ran as the image runs it: `sshd -e -D` in the foreground, reading the patched sshd_config with its EIC lines. */
function expectSshdStartedWithPatchedConfig(s: AdminSandbox) {
  expect(sshdStarted(s)).toBe(true);
  expect(read(s, '/sandbox/sshd/argv')).toBe('-e\n-D\n');
  const config = read(s, '/sandbox/sshd/sshd_config');
  expect(config).toBe(readFileSync(join(patched!.tree, 'sshd_config'), 'utf8'));
  expect(config).toMatch(/^AuthorizedKeysCommand \/opt\/aws\/bin\/eic_run_authorized_keys %u %f$/m);
  expect(config).toMatch(/^AuthorizedKeysCommandUser ec2-instance-connect$/m);
  expect(config).toMatch(/^PermitRootLogin no$/m);
}

/** The host keys live in the persistent directory and /etc/ssh/*.pub point at them (the harvester reads /etc/ssh/*.pub). */
function expectHostKeysLinked(s: AdminSandbox) {
  for (const alg of ALGORITHMS) {
    const key = `${PERSISTENT}/ssh_host_${alg}_key`;
    expect(statSync(s.path(key)).mode & 0o777).toBe(0o600);
    expect(statSync(s.path(`${key}.pub`)).mode & 0o777).toBe(0o644);
    expect(lstatSync(s.path(`/etc/ssh/ssh_host_${alg}_key.pub`)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(s.path(`/etc/ssh/ssh_host_${alg}_key.pub`))).toBe(`${key}.pub`);
  }
}

/** What the harvester double published: the three host public keys, read through the /etc/ssh symlinks. */
function expectPublishedHostKeys(s: AdminSandbox) {
  const published = read(s, '/sandbox/harvested').split('\n').filter(Boolean).sort();
  const persistent = ALGORITHMS.map((alg) => read(s, `${PERSISTENT}/ssh_host_${alg}_key.pub`).trim()).sort();
  expect(published).toEqual(persistent);
}

describe('the patched start_admin_sshd.sh', () => {
  it('with an EC2 key pair: writes authorized_keys for ec2-user, generates and publishes the host keys once, starts sshd', async (ctx) => {
    const s = sandbox(ctx, { keyPair: KEY });
    const result = await start(s);
    expect(result.stderr).not.toContain('Failed');
    expect(result.exitCode).toBe(0);
    expect(read(s, '/home/ec2-user/.ssh/authorized_keys')).toBe(`${KEY}\n`);
    expect(statSync(s.path('/home/ec2-user/.ssh/authorized_keys')).uid).toBe(1000);
    expect(statSync(s.path('/home/ec2-user/.ssh')).mode & 0o777).toBe(0o700);
    expect(keygens(s)).toEqual(
      ALGORITHMS.map((alg) => `ssh-keygen -t ${alg} -f ${PERSISTENT}/ssh_host_${alg}_key -q -N ''`),
    );
    expectHostKeysLinked(s);
    expect(harvests(s)).toBe(1);
    expectPublishedHostKeys(s);
    expect(existsSync(s.path(MARKER))).toBe(true);
    expectSshdStartedWithPatchedConfig(s);
  });

  it('without a key pair (EC2 Instance Connect only): says authorized_keys is empty, still publishes the host keys and starts sshd', async (ctx) => {
    const s = sandbox(ctx, {});
    const result = await start(s);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(
      'No valid public keys in instance metadata (no EC2 key pair?); authorized_keys is empty',
    );
    expect(result.stderr).not.toContain('Failed');
    // IMDS answered 404 for public-keys/, so no key was fetched.
    expect(s.calls().filter((c) => c.includes('openssh-key'))).toEqual([]);
    expect(read(s, '/home/ec2-user/.ssh/authorized_keys')).toBe('');
    expectHostKeysLinked(s);
    expect(harvests(s)).toBe(1);
    expectPublishedHostKeys(s);
    expectSshdStartedWithPatchedConfig(s);
  });

  it('with a harvest that fails: logs it with the exit status, writes no marker, starts sshd; the next start retries and converges', async (ctx) => {
    const s = sandbox(ctx, { keyPair: KEY, endpoint: 'unreachable' });
    const first = await start(s);
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toContain('curl: (28) Connection timed out');
    expect(first.stderr).toContain(
      'Failed to harvest SSH host keys for EC2 Instance Connect (/opt/aws/bin/eic_harvest_hostkeys exited 28); starting sshd anyway, and retrying at the next start',
    );
    expect(existsSync(s.path(MARKER))).toBe(false);
    expectSshdStartedWithPatchedConfig(s);

    // The container restarts once the endpoint is reachable: same host keys, harvested now.
    s.setEndpoint('reachable');
    const hostKey = read(s, `${PERSISTENT}/ssh_host_ed25519_key.pub`);
    const second = await start(s);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).not.toContain('Failed');
    expect(keygens(s)).toHaveLength(3);
    expect(read(s, `${PERSISTENT}/ssh_host_ed25519_key.pub`)).toBe(hostKey);
    expect(harvests(s)).toBe(2);
    expectPublishedHostKeys(s);
    expect(existsSync(s.path(MARKER))).toBe(true);
  });

  it('without a key pair and with a harvest that fails: EC2 Instance Connect still logs in, so sshd starts', async (ctx) => {
    const s = sandbox(ctx, { endpoint: 'unreachable' });
    const result = await start(s);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('Failed to harvest SSH host keys for EC2 Instance Connect');
    expectSshdStartedWithPatchedConfig(s);
  });

  it('on a restart after a successful harvest: reuses the host keys and does not harvest again', async (ctx) => {
    const s = sandbox(ctx, { keyPair: KEY });
    expect((await start(s)).exitCode).toBe(0);
    const second = await start(s);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toContain('ed25519 key already exists, will use existing key.');
    expect(keygens(s)).toHaveLength(3);
    expect(harvests(s)).toBe(1);
    expectHostKeysLinked(s);
    expect(s.calls().filter((c) => c === 'sshd')).toHaveLength(2);
  });

  it('a regenerated host key removes the marker, so the new keys are published', async (ctx) => {
    const s = sandbox(ctx, { keyPair: KEY });
    expect((await start(s)).exitCode).toBe(0);
    rmSync(s.path(`${PERSISTENT}/ssh_host_rsa_key`));
    expect((await start(s)).exitCode).toBe(0);
    expect(keygens(s)).toHaveLength(4);
    expect(harvests(s)).toBe(2);
    expectPublishedHostKeys(s);
    expect(existsSync(s.path(MARKER))).toBe(true);
  });

  it('with neither a key pair nor EC2 Instance Connect installed: nobody can log in, so it exits 1 and starts no sshd', async (ctx) => {
    const s = sandbox(ctx, { eicInstalled: false });
    const result = await start(s);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      'Failed to write any valid public keys to authorized_keys, and EC2 Instance Connect (/opt/aws/bin/eic_run_authorized_keys) is not installed',
    );
    expect(sshdStarted(s)).toBe(false);
  });

  it('upstream v0.5.2 as shipped never starts sshd without a key pair (the failure patch 0002 fixes; proves the sandbox tells them apart)', async (ctx) => {
    const t = requirePatched(ctx);
    const s = sandbox(
      ctx,
      {},
      { startScript: await t.atBase('start_admin_sshd.sh'), sshdConfig: await t.atBase('sshd_config') },
    );
    const result = await start(s);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Failed to write any valid public keys to authorized_keys');
    expect(sshdStarted(s)).toBe(false);
  });
});
