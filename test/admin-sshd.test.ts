import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  SANDBOX_FAKES,
  findProgram,
  sandboxUnavailable,
  skipUnless,
  type AdminSandbox,
  type SandboxOptions,
} from './helpers/admin-sandbox.js';
import { ADMIN_SERIES_DIR, patchedAdminTree, adminEnv, type PatchedAdminTree } from './helpers/admin-upstream.js';
import { effective, serveSshd, SshKeys, sshdSandbox, type ServedSshd } from './helpers/admin-sshd.js';
import { parseSeriesFile } from '../src/config/series.js';
import { tempDir, removeDir } from './helpers/git-fixtures.js';

/**
 * The real programs on the real patched admin container (patches/admin-container/0.5.2
 * applied to the upstream bundle in ../shared/upstream): this machine's sshd
 * (Debian openssh-server) reads the patched sshd_config where the image puts
 * it, and shellcheck reads the scripts the series changes.
 */

const PERSISTENT = '/.bottlerocket/host-containers/admin/etc/ssh';
const ALGORITHMS = ['rsa', 'ecdsa', 'ed25519'] as const;

let patched: PatchedAdminTree | undefined;
let noUpstream: string | undefined;
beforeAll(async () => {
  const result = await patchedAdminTree();
  if ('skip' in result) noUpstream = result.skip;
  else patched = result.tree;
}, 120_000);
afterAll(() => patched?.cleanup());

/** Undone last first: a served sshd is stopped and waited for before its sandbox is removed. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tree(ctx: TestContext): PatchedAdminTree {
  skipUnless(ctx, noUpstream);
  return patched!;
}

const keys = new SshKeys();
afterAll(() => keys.dispose());

describe('the patched sshd_config, read by the real sshd in the image layout', () => {
  /** The image's file system with this machine's sshd, and host keys made by the real ssh-keygen where the start script keeps them. */
  async function sandboxFor(ctx: TestContext, sshdConfig: string): Promise<AdminSandbox> {
    skipUnless(
      ctx,
      findProgram('sshd')
        ? undefined
        : 'sshd is not installed (Debian package openssh-server): the patched sshd_config is not checked',
    );
    skipUnless(
      ctx,
      findProgram('ssh-keygen') ? undefined : 'ssh-keygen is not installed (Debian package openssh-client)',
    );
    skipUnless(ctx, await sandboxUnavailable());
    const s = await sshdSandbox(keys, sshdConfig, PERSISTENT);
    cleanups.push(s.cleanup);
    return s;
  }

  /** `sshd -T -C user=…`, which must succeed silently: the settings sshd would apply to that user's connection. */
  async function settingsFor(s: AdminSandbox, user: string): Promise<string[]> {
    const result = await effective(s, user);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    return result.lines;
  }

  it('sshd -t accepts it, with nothing to say', async (ctx) => {
    const t = tree(ctx);
    const s = await sandboxFor(ctx, readFileSync(join(t.tree, 'sshd_config'), 'utf8'));
    const result = await s.run(['/usr/sbin/sshd', '-t']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('sshd -t refuses a broken copy of it (the check can fail)', async (ctx) => {
    const t = tree(ctx);
    const broken = readFileSync(join(t.tree, 'sshd_config'), 'utf8').replace(
      'PermitRootLogin no',
      'PermitRootLogin nope',
    );
    const s = await sandboxFor(ctx, broken);
    const result = await s.run(['/usr/sbin/sshd', '-t']);
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toContain('unsupported option "nope"');
  });

  it('for ec2-user: the EC2 Instance Connect command as its user, key files as before, no passwords, the persistent host keys', async (ctx) => {
    const t = tree(ctx);
    const s = await sandboxFor(ctx, readFileSync(join(t.tree, 'sshd_config'), 'utf8'));
    const lines = await settingsFor(s, 'ec2-user');
    expect(lines).toContain('authorizedkeyscommand /opt/aws/bin/eic_run_authorized_keys %u %f');
    expect(lines).toContain('authorizedkeyscommanduser ec2-instance-connect');
    // Key-pair keys written to ~/.ssh/authorized_keys by the start script keep working.
    expect(lines).toContain('pubkeyauthentication yes');
    expect(lines).toContain('authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2');
    expect(lines).toContain('passwordauthentication no');
    expect(lines).toContain('kbdinteractiveauthentication no');
    expect(lines).toContain('usepam yes');
    expect(lines.filter((l) => l.startsWith('hostkey '))).toEqual(
      ALGORITHMS.map((alg) => `hostkey ${PERSISTENT}/ssh_host_${alg}_key`),
    );
  });

  it("for root: PermitRootLogin no, where upstream v0.5.2 left sshd's default (prohibit-password: root keys accepted)", async (ctx) => {
    const t = tree(ctx);
    const patchedSshd = await sandboxFor(ctx, readFileSync(join(t.tree, 'sshd_config'), 'utf8'));
    expect(await settingsFor(patchedSshd, 'root')).toContain('permitrootlogin no');
    const baseSshd = await sandboxFor(ctx, await t.atBase('sshd_config'));
    // sshd -T names prohibit-password by its older alias on some versions.
    expect((await settingsFor(baseSshd, 'root')).filter((l) => l.startsWith('permitrootlogin '))).toEqual([
      expect.stringMatching(/^permitrootlogin (prohibit-password|without-password)$/),
    ]);
  });
});

describe('logging in through the real sshd with the patched sshd_config', () => {
  const clientKey = (name: string) => keys.client(name);

  /**
   * Serves the patched sshd_config with the real sshd in the sandbox, as the
   * image runs it (`sshd -e -D`), on a free loopback port instead of 22
   * (`-p`, `-o ListenAddress=`: the only changes, on the command line).
   */
  async function serve(ctx: TestContext, options: SandboxOptions): Promise<ServedSshd> {
    const t = tree(ctx);
    skipUnless(
      ctx,
      findProgram('sshd')
        ? undefined
        : 'sshd is not installed (Debian package openssh-server): logins through the patched sshd_config are not checked',
    );
    skipUnless(
      ctx,
      findProgram('ssh')
        ? undefined
        : 'ssh is not installed (Debian package openssh-client): logins through the patched sshd_config are not checked',
    );
    skipUnless(ctx, await sandboxUnavailable());
    const served = await serveSshd(keys, readFileSync(join(t.tree, 'sshd_config'), 'utf8'), PERSISTENT, options);
    cleanups.push(served.stop);
    return served;
  }

  it('a key pushed through EC2 Instance Connect logs ec2-user in (no key pair, empty authorized_keys), verified against the persistent host key', async (ctx) => {
    const operator = await clientKey('operator');
    const { login, log } = await serve(ctx, { eicPushed: { 'ec2-user': operator.pub } });
    const result = await login('ec2-user', 'operator');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ec2-user');
    expect(result.exitCode).toBe(0);
    expect(log()).toContain('Accepted publickey for ec2-user');
  });

  it('a key that was not pushed is refused', async (ctx) => {
    const operator = await clientKey('operator');
    await clientKey('stranger');
    const { login } = await serve(ctx, { eicPushed: { 'ec2-user': operator.pub } });
    const result = await login('ec2-user', 'stranger');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toContain('Permission denied (publickey)');
  });

  it("the key pair's key in ~/.ssh/authorized_keys still logs in", async (ctx) => {
    const operator = await clientKey('operator');
    const { s, login } = await serve(ctx, {});
    mkdirSync(s.path('/home/ec2-user/.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(s.path('/home/ec2-user/.ssh/authorized_keys'), `${operator.pub}\n`, { mode: 0o600 });
    chownSync(s.path('/home/ec2-user/.ssh'), 1000, 1000);
    chownSync(s.path('/home/ec2-user/.ssh/authorized_keys'), 1000, 1000);
    const result = await login('ec2-user', 'operator');
    expect(result.stdout).toBe('ec2-user');
    expect(result.exitCode).toBe(0);
  });

  it('root is refused even with a pushed key (PermitRootLogin no)', async (ctx) => {
    const operator = await clientKey('operator');
    const { login, log } = await serve(ctx, { eicPushed: { root: operator.pub } });
    const result = await login('root', 'operator');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toContain('Permission denied (publickey)');
    expect(log()).toContain('ROOT LOGIN REFUSED');
  });

  it("without the package's ec2-instance-connect user, sshd does not run the command: the login fails (why the image needs the package, not only its scripts)", async (ctx) => {
    const operator = await clientKey('operator');
    const { login, log } = await serve(ctx, {
      eicPushed: { 'ec2-user': operator.pub },
      withoutUsers: ['ec2-instance-connect'],
    });
    const result = await login('ec2-user', 'operator');
    expect(result.exitCode).toBe(255);
    expect(log()).toContain('AuthorizedKeysCommandUser "ec2-instance-connect" not found');
  });
});

describe('the admin series on the real upstream', () => {
  it('applies with git am to the pinned base with no offset, one commit per patch, each saying why and carrying Upstream-Status', async (ctx) => {
    const t = tree(ctx);
    const names = parseSeriesFile('series', readFileSync(join(ADMIN_SERIES_DIR, 'series'), 'utf8'));
    const git = (args: string[], env: Record<string, string> = {}) =>
      execa('git', args, { cwd: t.tree, env: adminEnv(env), extendEnv: false });
    const commits = (await git(['rev-list', '--reverse', `${t.base}..HEAD`])).stdout.split('\n');
    expect(commits).toHaveLength(names.length);
    const scratch = tempDir('bro-admin-series-');
    cleanups.push(() => removeDir(scratch));
    for (const [i, name] of names.entries()) {
      const message = (await git(['log', '-1', '--format=%B', commits[i]!])).stdout;
      expect(message, name).toMatch(/^Upstream-Status: (Inappropriate|Backport|Submitted|Pending) \[.+\]$/m);
      expect(message.split('\n\n').length, `${name} has a body saying why`).toBeGreaterThan(2);
      // Applied alone on the commit before it, in a scratch index: git apply reports any offset.
      const index = { GIT_INDEX_FILE: join(scratch, `index-${i}`) };
      await git(['read-tree', `${commits[i]!}~1`], index);
      const applied = await git(['apply', '--cached', '--check', '--verbose', join(ADMIN_SERIES_DIR, name)], index);
      expect(applied.stderr, name).not.toMatch(/offset|fuzz/i);
    }
  });
});

describe('shellcheck on the admin scripts the series changes', () => {
  interface Finding {
    code: number;
    level: string;
    message: string;
    /** The source line the finding is on, which identifies it across the patch's line shifts. */
    source: string;
  }

  async function shellcheck(file: string): Promise<Finding[]> {
    const result = await execa('shellcheck', ['--format=json1', '--', file], {
      env: adminEnv(),
      extendEnv: false,
      reject: false,
    });
    // 0: no findings, 1: findings; anything else is shellcheck failing.
    expect([0, 1], result.stderr).toContain(result.exitCode);
    const lines = readFileSync(file, 'utf8').split('\n');
    const { comments } = JSON.parse(result.stdout) as {
      comments: { line: number; code: number; level: string; message: string }[];
    };
    return comments.map((c) => ({ code: c.code, level: c.level, message: c.message, source: lines[c.line - 1] ?? '' }));
  }

  async function changedScripts(t: PatchedAdminTree): Promise<string[]> {
    return t.changed.filter((path) =>
      /^#!\s*(\/bin\/(ba)?sh|\/usr\/bin\/env (ba)?sh)\b/.test(readFileSync(join(t.tree, path), 'utf8')),
    );
  }

  it('the series changes start_admin_sshd.sh, and shellcheck finds nothing the series brought in (only what upstream already had)', async (ctx) => {
    const t = tree(ctx);
    skipUnless(
      ctx,
      findProgram('shellcheck')
        ? undefined
        : 'shellcheck is not installed (Debian package shellcheck): the patched admin scripts are not checked',
    );
    const scripts = await changedScripts(t);
    expect(scripts).toContain('start_admin_sshd.sh');
    const scratch = tempDir('bro-shellcheck-');
    cleanups.push(() => removeDir(scratch));
    for (const script of scripts) {
      const patchedFindings = await shellcheck(join(t.tree, script));
      const baseFile = join(scratch, script.replaceAll('/', '_'));
      writeFileSync(baseFile, await t.atBase(script));
      const baseFindings = await shellcheck(baseFile);
      const known = new Set(baseFindings.map((f) => `${f.code}\0${f.source}`));
      expect(
        patchedFindings.filter((f) => !known.has(`${f.code}\0${f.source}`)),
        script,
      ).toEqual([]);
    }
  });

  it('the sandbox and its doubles (test/fakes/admin-container) are clean too', async (ctx) => {
    skipUnless(
      ctx,
      findProgram('shellcheck')
        ? undefined
        : 'shellcheck is not installed (Debian package shellcheck): the sandbox scripts are not checked',
    );
    const scripts = readdirSync(SANDBOX_FAKES).map((name) => join(SANDBOX_FAKES, name));
    expect(scripts.length).toBeGreaterThanOrEqual(6);
    for (const script of scripts) expect(await shellcheck(script), script).toEqual([]);
  });
});
