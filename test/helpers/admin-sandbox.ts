import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { TestContext } from 'vitest';
import { REPO_ROOT } from './git-fixtures.js';
import { adminEnv } from './admin-upstream.js';
import { findProgram } from './env.js';

/**
 * A temporary root laid out like the admin container's file system, entered
 * with a private mount namespace and chroot (test/fakes/admin-container/
 * enter-sandbox.sh), so the patched start_admin_sshd.sh and sshd_config run
 * byte-identical, at the absolute paths the image gives them. The doubles in
 * test/fakes/admin-container stand in for IMDS (curl), ssh-keygen, sshd and
 * the ec2-instance-connect package; `sshd: 'real'` puts this machine's sshd
 * at /usr/sbin/sshd instead.
 */

export const SANDBOX_FAKES = join(REPO_ROOT, 'test', 'fakes', 'admin-container');
const ENTER = join(SANDBOX_FAKES, 'enter-sandbox.sh');

/** Why the sandbox cannot run here (not root, or no mount namespaces), or undefined when it can. */
export async function sandboxUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return 'the admin-container sandbox needs root (a mount namespace, chroot and chown to ec2-user)';
  for (const program of ['unshare', 'chroot', 'mount', 'bash']) {
    if (!findProgram(program))
      return `the admin-container sandbox needs ${program} (util-linux / coreutils), which is not on PATH`;
  }
  const probe = await execa('unshare', ['--mount', '--propagation', 'private', '--', 'true'], {
    env: adminEnv(),
    extendEnv: false,
    reject: false,
  });
  if (probe.exitCode !== 0)
    return `unshare --mount is refused here (${probe.stderr.trim() || probe.shortMessage}); the admin-container sandbox needs a private mount namespace`;
  return undefined;
}

export interface SandboxFiles {
  /** start_admin_sshd.sh, installed as /usr/sbin/start_admin_sshd.sh (the Dockerfile's ADD). */
  startScript: string;
  /** sshd_config, installed as /etc/ssh/sshd_config. */
  sshdConfig: string;
}

export interface SandboxOptions {
  /** The public key IMDS lists as key pair 0 ("mykeypair"); undefined: the instance has no key pair. */
  keyPair?: string;
  /** Whether the ec2-instance-connect package is installed (/opt/aws/bin/eic_*). Default true, as in the image. */
  eicInstalled?: boolean;
  /** Whether eic_harvest_hostkeys reaches the EC2 Instance Connect endpoint. Default reachable. */
  endpoint?: 'reachable' | 'unreachable';
  /** Public keys pushed through EC2 Instance Connect, by user: what eic_run_authorized_keys prints. */
  eicPushed?: Record<string, string>;
  /** Users to leave out of /etc/passwd (e.g. the package's ec2-instance-connect). */
  withoutUsers?: string[];
  /** The double (default) or this machine's sshd at /usr/sbin/sshd. */
  sshd?: 'double' | 'real';
  /**
   * The admin container's user data (decoded), where host-containers puts it for v0.7+ images:
   * /.bottlerocket/host-containers/current/user-data. Those images' start script creates the
   * login user itself (useradd), so /etc/passwd then has no ec2-user.
   */
  userData?: string;
}

export interface AdminSandbox {
  root: string;
  /** Runs argv inside the sandbox (chrooted, Docker's default PATH); the process is argv's own (exec all the way). Never rejects. */
  run(argv: string[]): ResultPromise<{ reject: false }>;
  /** A path inside the sandbox, as a host path. */
  path(inner: string): string;
  /** The doubles' call log, one call a line. */
  calls(): string[];
  setEndpoint(endpoint: 'reachable' | 'unreachable'): void;
  cleanup(): void;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  // openssh-server's privilege-separation user
  'sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin',
  // the Dockerfile's `useradd -m -G users,api ec2-user`
  'ec2-user:x:1000:1000::/home/ec2-user:/bin/bash',
  // sshd_config's AuthorizedKeysCommandUser, created by the ec2-instance-connect package's %pre
  // (aws/aws-ec2-instance-connect-config rpmsrc/SPECS/generic.spec: useradd -r -M -s /sbin/nologin)
  'ec2-instance-connect:x:996:994::/home/ec2-instance-connect:/sbin/nologin',
];
const GROUP = [
  'root:x:0:',
  'users:x:100:ec2-user',
  'sshd:x:74:',
  'api:x:274:ec2-user',
  'ec2-user:x:1000:',
  'ec2-instance-connect:x:994:',
];

export function makeAdminSandbox(files: SandboxFiles, options: SandboxOptions = {}): AdminSandbox {
  const root = mkdtempSync(join(tmpdir(), 'bro-admin-sandbox-'));
  // It is "/" inside: sshd's AuthorizedKeysCommandUser must be able to walk it.
  chmodSync(root, 0o755);
  const path = (inner: string) => join(root, inner.replace(/^\/+/, ''));
  const write = (inner: string, content: string, mode = 0o644) => {
    mkdirSync(dirname(path(inner)), { recursive: true });
    writeFileSync(path(inner), content);
    chmodSync(path(inner), mode);
  };
  const install = (inner: string, source: string) => {
    mkdirSync(dirname(path(inner)), { recursive: true });
    copyFileSync(source, path(inner));
    chmodSync(path(inner), 0o755);
  };

  write('/usr/sbin/start_admin_sshd.sh', files.startScript, 0o755);
  write('/etc/ssh/sshd_config', files.sshdConfig);
  const without = [...(options.withoutUsers ?? []), ...(options.userData === undefined ? [] : ['ec2-user'])];
  const users = PASSWD.filter((line) => !without.includes(line.split(':')[0] ?? ''));
  write('/etc/passwd', `${users.join('\n')}\n`);
  write('/etc/group', `${GROUP.filter((line) => !without.includes(line.split(':')[0] ?? '')).join('\n')}\n`);
  // useradd (v0.7+ start scripts) updates these too.
  write('/etc/shadow', `${users.map((line) => `${line.split(':')[0]}:!!:19000::::::`).join('\n')}\n`, 0o600);
  write('/etc/gshadow', '', 0o600);
  for (const dir of ['/run/sshd', '/var/empty/sshd', '/root', '/etc/sudoers.d', '/etc/profile.d', '/home'])
    mkdirSync(path(dir), { recursive: true });
  if (options.userData === undefined) {
    mkdirSync(path('/home/ec2-user'), { recursive: true });
    chownSync(path('/home/ec2-user'), 1000, 1000);
  } else {
    write('/.bottlerocket/host-containers/current/user-data', options.userData);
    // The image's shadow-utils: this machine's useradd, as the real sshd is this machine's.
    const useradd = findProgram('useradd');
    if (!useradd) throw new Error('useradd is not installed (Debian package passwd)');
    install('/usr/sbin/useradd', useradd);
  }
  mkdirSync(path('/tmp'), { recursive: true });
  chmodSync(path('/tmp'), 0o1777);
  install('/usr/local/bin/curl', join(SANDBOX_FAKES, 'curl'));
  install('/usr/local/bin/ssh-keygen', join(SANDBOX_FAKES, 'ssh-keygen'));
  if (options.sshd === 'real') {
    const sshd = findProgram('sshd');
    if (!sshd) throw new Error('sshd is not installed (Debian package openssh-server)');
    install('/usr/sbin/sshd', sshd);
    // A stand-in for the image's /etc/pam.d/sshd (Amazon Linux's stacks need modules
    // this machine lacks). UsePAM yes runs PAM's account and session stacks after a
    // public key is accepted; what decides a login here is sshd's own key checks.
    write(
      '/etc/pam.d/sshd',
      [
        'auth required pam_deny.so',
        'account required pam_permit.so',
        'password required pam_deny.so',
        'session required pam_permit.so',
        '',
      ].join('\n'),
    );
  } else {
    install('/usr/sbin/sshd', join(SANDBOX_FAKES, 'sshd'));
  }
  if (options.eicInstalled ?? true) {
    install('/opt/aws/bin/eic_harvest_hostkeys', join(SANDBOX_FAKES, 'eic_harvest_hostkeys'));
    install('/opt/aws/bin/eic_run_authorized_keys', join(SANDBOX_FAKES, 'eic_run_authorized_keys'));
  }
  write('/sandbox/calls', '');
  mkdirSync(path('/sandbox/imds/public-keys'), { recursive: true });
  if (options.keyPair !== undefined) write('/sandbox/imds/public-keys/0=mykeypair', options.keyPair);
  const setEndpoint = (endpoint: 'reachable' | 'unreachable') => write('/sandbox/eic-endpoint', `${endpoint}\n`);
  setEndpoint(options.endpoint ?? 'reachable');
  for (const [user, key] of Object.entries(options.eicPushed ?? {})) write(`/sandbox/eic/pushed/${user}`, `${key}\n`);

  return {
    root,
    path,
    run: (argv) =>
      execa('unshare', ['--mount', '--propagation', 'private', '--', 'bash', ENTER, root, ...argv], {
        env: adminEnv(),
        extendEnv: false,
        reject: false,
      }),
    calls: () => readFileSync(path('/sandbox/calls'), 'utf8').split('\n').filter(Boolean),
    setEndpoint,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export { findProgram };

/** Skips the test with the reason (test/setup.ts prints it) when something it needs is missing. */
export function skipUnless(ctx: TestContext, reason: string | undefined): void {
  if (reason) ctx.skip(reason);
}
