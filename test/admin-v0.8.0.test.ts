import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse as parseToml } from 'smol-toml';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  findProgram,
  makeAdminSandbox,
  sandboxUnavailable,
  skipUnless,
  type AdminSandbox,
} from './helpers/admin-sandbox.js';
import { effective, serveSshd, SshKeys, sshdSandbox } from './helpers/admin-sshd.js';
import { adminBase, patchedAdminTree, adminEnv, type PatchedAdminTree } from './helpers/admin-upstream.js';
import { REPO_ROOT, removeDir, tempDir } from './helpers/git-fixtures.js';

/**
 * The admin container Bottlerocket v1.7.2 uses by default (v0.8.0, the variant's
 * [sources.admin-container.refs]), with patches/admin-container/0.8.0 applied to the real upstream
 * from ../shared/upstream, set up by the migrated user data (examples/user-data-1.7.2.toml): its
 * own start script runs byte-identical in the image layout (test/helpers/admin-sandbox.ts) with
 * that user data, and the sshd_config it leaves is read by the real sshd, which then logs a user
 * in through EC2 Instance Connect.
 */

const SERIES_DIR = join(REPO_ROOT, 'patches', 'admin-container', '0.8.0');
// v0.7+ images keep their state under `current`.
const PERSISTENT = '/.bottlerocket/host-containers/current/etc/ssh';

/** The admin container's user data in the migrated example, decoded as host-containers writes it. */
function migratedUserData(): string {
  const example = parseToml(readFileSync(join(REPO_ROOT, 'examples', 'user-data-1.7.2.toml'), 'utf8')) as {
    settings: { 'host-containers': { admin: { 'user-data': string } } };
  };
  return Buffer.from(example.settings['host-containers'].admin['user-data'], 'base64').toString('utf8');
}

let patched: PatchedAdminTree | undefined;
let skip: string | undefined;
beforeAll(async () => {
  const result = await patchedAdminTree(adminBase('v1.7.2'), SERIES_DIR);
  if ('skip' in result) skip = result.skip;
  else patched = result.tree;
}, 120_000);
afterAll(() => patched?.cleanup());

const keys = new SshKeys();
afterAll(() => keys.dispose());
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tree(ctx: TestContext): PatchedAdminTree {
  skipUnless(ctx, skip);
  return patched!;
}

async function requireSshd(ctx: TestContext): Promise<void> {
  for (const [program, pkg] of [
    ['sshd', 'openssh-server'],
    ['ssh', 'openssh-client'],
    ['ssh-keygen', 'openssh-client'],
  ] as const)
    skipUnless(ctx, findProgram(program) ? undefined : `${program} is not installed (Debian package ${pkg})`);
  skipUnless(ctx, await sandboxUnavailable());
}

/** Runs the patched start_admin_sshd.sh with the migrated user data; returns the sandbox it ran in. */
async function startScript(ctx: TestContext): Promise<{ s: AdminSandbox; exitCode?: number; stderr: string }> {
  const t = tree(ctx);
  skipUnless(ctx, await sandboxUnavailable());
  const s = makeAdminSandbox(
    {
      startScript: readFileSync(join(t.tree, 'start_admin_sshd.sh'), 'utf8'),
      sshdConfig: readFileSync(join(t.tree, 'sshd_config'), 'utf8'),
    },
    { userData: migratedUserData() },
  );
  cleanups.push(s.cleanup);
  const result = await s.run(['/usr/sbin/start_admin_sshd.sh']);
  return { s, exitCode: result.exitCode, stderr: result.stderr };
}

/** The sshd_config the start script leaves for sshd. */
async function configuredSshd(ctx: TestContext): Promise<string> {
  const { s, exitCode, stderr } = await startScript(ctx);
  expect(exitCode, stderr).toBe(0);
  return readFileSync(s.path('/etc/ssh/sshd_config'), 'utf8');
}

describe('admin container v0.8.0 with its series, set up by the migrated user data', () => {
  it('the series is netstat only: upstream v0.8.0 has ps, EC2 Instance Connect and PermitRootLogin no', async (ctx) => {
    const t = tree(ctx);
    expect(t.changed).toEqual(['Dockerfile']);
    const dockerfile = readFileSync(join(t.tree, 'Dockerfile'), 'utf8');
    const base = await t.atBase('Dockerfile');
    expect(base).toMatch(/yum install -y [^\n]*procps-ng[^\n]*ec2-instance-connect/);
    expect(base).not.toContain('net-tools');
    expect(dockerfile).toContain('net-tools');
    expect(await t.atBase('sshd_config')).toMatch(/^PermitRootLogin no$/m);
  });

  it('the real start script configures EC2 Instance Connect from it, harvests the host keys and starts sshd', async (ctx) => {
    const { s, exitCode, stderr } = await startScript(ctx);
    expect(exitCode, stderr).toBe(0);
    const config = readFileSync(s.path('/etc/ssh/sshd_config'), 'utf8');
    expect(config).toMatch(/^AuthorizedKeysCommand \/opt\/aws\/bin\/eic_run_authorized_keys %u %f$/m);
    expect(config).toMatch(/^AuthorizedKeysCommandUser ec2-instance-connect$/m);
    expect(s.calls()).toEqual([
      ...['rsa', 'ecdsa', 'ed25519'].map((alg) => `ssh-keygen -t ${alg} -f ${PERSISTENT}/ssh_host_${alg}_key -q -N ''`),
      'eic_harvest_hostkeys',
      'sshd',
    ]);
    expect(readFileSync(s.path('/etc/passwd'), 'utf8')).toMatch(/^ec2-user:/m);
    expect(stderr).not.toContain('Failed to configure ssh authentication');
  });

  it('sshd -t accepts the sshd_config it leaves, and sshd -T gives ec2-user the EC2 Instance Connect command and root no login', async (ctx) => {
    await requireSshd(ctx);
    const s = await sshdSandbox(keys, await configuredSshd(ctx), PERSISTENT);
    cleanups.push(s.cleanup);
    const check = await s.run(['/usr/sbin/sshd', '-t']);
    expect(check.stderr).toBe('');
    expect(check.exitCode).toBe(0);
    const user = await effective(s, 'ec2-user');
    expect(user.exitCode, user.stderr).toBe(0);
    expect(user.lines).toContain('authorizedkeyscommand /opt/aws/bin/eic_run_authorized_keys %u %f');
    expect(user.lines).toContain('authorizedkeyscommanduser ec2-instance-connect');
    expect(user.lines).toContain('passwordauthentication no');
    expect(user.lines.filter((l) => l.startsWith('hostkey '))).toEqual(
      ['rsa', 'ecdsa', 'ed25519'].map((alg) => `hostkey ${PERSISTENT}/ssh_host_${alg}_key`),
    );
    expect((await effective(s, 'root')).lines).toContain('permitrootlogin no');
  });

  it('a key pushed through EC2 Instance Connect logs ec2-user in through the real sshd; another key and root are refused', async (ctx) => {
    await requireSshd(ctx);
    const config = await configuredSshd(ctx);
    const operator = await keys.client('operator');
    await keys.client('stranger');
    const served = await serveSshd(keys, config, PERSISTENT, {
      eicPushed: { 'ec2-user': operator.pub, root: operator.pub },
    });
    cleanups.push(served.stop);
    const ok = await served.login('ec2-user', 'operator');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('ec2-user');
    expect(ok.exitCode).toBe(0);
    expect((await served.login('ec2-user', 'stranger')).exitCode).toBe(255);
    const root = await served.login('root', 'operator');
    expect(root.exitCode).toBe(255);
    expect(served.log()).toContain('ROOT LOGIN REFUSED');
  });

  it('without the migrated user data, the same image has no EC2 Instance Connect: the pushed key is refused', async (ctx) => {
    await requireSshd(ctx);
    const t = tree(ctx);
    const operator = await keys.client('operator');
    const served = await serveSshd(keys, readFileSync(join(t.tree, 'sshd_config'), 'utf8'), PERSISTENT, {
      eicPushed: { 'ec2-user': operator.pub },
    });
    cleanups.push(served.stop);
    const result = await served.login('ec2-user', 'operator');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toContain('Permission denied (publickey)');
  });

  it('shellcheck finds nothing in the start script beyond what upstream v0.8.0 already has (the series changes no script)', async (ctx) => {
    const t = tree(ctx);
    skipUnless(ctx, findProgram('shellcheck') ? undefined : 'shellcheck is not installed (Debian package shellcheck)');
    const scratch = tempDir('bro-shellcheck-');
    cleanups.push(() => removeDir(scratch));
    const codes = async (file: string) => {
      const result = await execa('shellcheck', ['--format=json1', '--', file], {
        env: adminEnv(),
        extendEnv: false,
        reject: false,
      });
      expect([0, 1], result.stderr).toContain(result.exitCode);
      return (JSON.parse(result.stdout) as { comments: { code: number }[] }).comments.map((c) => c.code);
    };
    const baseFile = join(scratch, 'start_admin_sshd.sh');
    writeFileSync(baseFile, await t.atBase('start_admin_sshd.sh'));
    expect(await codes(join(t.tree, 'start_admin_sshd.sh'))).toEqual(await codes(baseFile));
  });
});
