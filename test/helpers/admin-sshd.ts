import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeAdminSandbox, type AdminSandbox, type SandboxOptions } from './admin-sandbox.js';
import { adminEnv } from './admin-upstream.js';
import { removeDir, tempDir } from './git-fixtures.js';

/**
 * The real sshd and ssh on an admin container's sshd_config, in the image layout
 * (test/helpers/admin-sandbox.ts): host keys made by the real ssh-keygen where the image keeps
 * them, `sshd -T` for what a connection gets, and real logins with the real ssh client.
 */

export const ALGORITHMS = ['rsa', 'ecdsa', 'ed25519'] as const;

/** Scratch keys made by the real ssh-keygen, shared by a test file; `dispose()` removes them. */
export class SshKeys {
  private hostDir?: string;
  private clientDir?: string;
  private readonly ids = new Map<string, string>();

  /** One set of host keys (an RSA key takes a while), as `ssh_host_<alg>_key[.pub]` in a directory. */
  async hostKeys(): Promise<string> {
    if (this.hostDir) return this.hostDir;
    const dir = tempDir('bro-host-keys-');
    for (const alg of ALGORITHMS) {
      await execa('ssh-keygen', ['-q', '-t', alg, '-N', '', '-f', join(dir, `ssh_host_${alg}_key`)], {
        env: adminEnv(),
        extendEnv: false,
      });
    }
    return (this.hostDir = dir);
  }

  /** A client key pair: { private key path, public key line }. */
  async client(name: string): Promise<{ file: string; pub: string }> {
    this.clientDir ??= tempDir('bro-ssh-client-');
    const file = join(this.clientDir, name);
    if (!this.ids.has(name)) {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file], {
        env: adminEnv(),
        extendEnv: false,
      });
      this.ids.set(name, readFileSync(`${file}.pub`, 'utf8').trim());
    }
    return { file, pub: this.ids.get(name)! };
  }

  dispose(): void {
    for (const dir of [this.hostDir, this.clientDir]) if (dir) removeDir(dir);
  }
}

/** A sandbox with `sshdConfig` at /etc/ssh/sshd_config, this machine's sshd, and the host keys in `persistent`. */
export async function sshdSandbox(
  keys: SshKeys,
  sshdConfig: string,
  persistent: string,
  options: SandboxOptions = {},
): Promise<AdminSandbox> {
  const s = makeAdminSandbox({ startScript: '', sshdConfig }, { ...options, sshd: 'real' });
  cpSync(await keys.hostKeys(), s.path(persistent), { recursive: true });
  return s;
}

/** `sshd -T -C user=…`: the settings sshd would apply to that user's connection, as (keyword, value) lines. */
export async function effective(
  s: AdminSandbox,
  user: string,
): Promise<{ lines: string[]; stderr: string; exitCode?: number }> {
  const result = await s.run(['/usr/sbin/sshd', '-T', '-C', `user=${user},host=client.example,addr=192.0.2.10`]);
  return { lines: result.stdout.split('\n'), stderr: result.stderr, exitCode: result.exitCode };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ServedSshd {
  s: AdminSandbox;
  login(user: string, key: string): Promise<{ exitCode?: number; stdout: string; stderr: string }>;
  log(): string;
  /** Stops sshd and removes the sandbox. */
  stop(): Promise<void>;
}

/**
 * Serves `sshdConfig` with the real sshd in a sandbox, as the image runs it (`sshd -e -D`), on a
 * free loopback port instead of 22 (`-p`, `-o ListenAddress=`: the only changes, on the command
 * line). Logins verify the persistent ed25519 host key (the one the harvester publishes).
 */
export async function serveSshd(
  keys: SshKeys,
  sshdConfig: string,
  persistent: string,
  options: SandboxOptions,
): Promise<ServedSshd> {
  const s = await sshdSandbox(keys, sshdConfig, persistent, options);
  const port = await freePort();
  const sshd = s.run(['/usr/sbin/sshd', '-e', '-D', '-p', String(port), '-o', 'ListenAddress=127.0.0.1']);
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      sshd.stderr.on('data', (chunk: Buffer) => {
        log += String(chunk);
        if (log.includes(`Server listening on 127.0.0.1 port ${port}.`)) resolve();
      });
      sshd.then((r) => reject(new Error(`sshd exited (${r.exitCode}) before listening:\n${log}`)), reject);
    });
  } catch (error) {
    s.cleanup();
    throw error;
  }
  const knownHosts = join(s.root, 'known_hosts');
  writeFileSync(
    knownHosts,
    `[127.0.0.1]:${port} ${readFileSync(s.path(`${persistent}/ssh_host_ed25519_key.pub`), 'utf8')}`,
  );
  const login = async (user: string, key: string) => {
    const { file } = await keys.client(key);
    return execa(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-i',
        file,
        '-p',
        String(port),
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'HostKeyAlgorithms=ssh-ed25519',
        `${user}@127.0.0.1`,
        'id -un',
      ],
      { env: adminEnv(), extendEnv: false, reject: false, stdin: 'ignore' },
    );
  };
  const stop = async () => {
    sshd.kill();
    await sshd;
    s.cleanup();
  };
  return { s, login, log: () => log, stop };
}
