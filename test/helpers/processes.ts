import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PATH, sealedEnv } from './env.js';
import { BRO_BIN } from './cli.js';
import { removeDir, tempDir } from './git-fixtures.js';

/** Waits until `condition` holds (each test's own timeout bounds the wait). */
export const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((r) => setTimeout(r, 25));
};

/** Whether `pid` runs (a zombie does not count), from /proc. */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

/** What identifies process `pid` here, as bro's locks record it. */
export function lockIdentity(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const tryRead = (read: () => string) => {
    try {
      return read().trim();
    } catch {
      return undefined; // Some sandboxes hide these; the lock then does without them too.
    }
  };
  return {
    pid,
    startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
    bootId: tryRead(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNamespace: tryRead(() => readlinkSync('/proc/self/ns/pid')),
    host: hostname(),
  };
}
/** Why the tests that read process state cannot run here, or undefined when /proc is there. */
export const procMissing = existsSync('/proc/self/stat')
  ? undefined
  : 'these tests read process states and groups from /proc, which this system does not have';

/** A bro started as its own process, hanging in `git am`. */
export interface BroInGitAm {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
  /** Removes the directory of the hanging git. */
  cleanup(): void;
}

/**
 * Starts bro (dist/) with `args` and a `git` first on PATH that runs the real git, but announces
 * `git am` (when its arguments start with `amArgs`) and then hangs in it; resolves once it hangs.
 */
export async function startInGitAm(args: readonly string[], amArgs = 'am --quiet'): Promise<BroInGitAm> {
  const bin = tempDir('bro-bin-');
  const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
  const test = amArgs
    .split(' ')
    .map((arg, i) => `[ "$${i + 1}" = "${arg}" ]`)
    .join(' && ');
  writeFileSync(
    join(bin, 'git'),
    `#!/bin/sh\nif ${test}; then\n  echo started > "${join(bin, 'am-started')}"\n  sleep 30\nfi\nexec ${realGit} "$@"\n`,
  );
  chmodSync(join(bin, 'git'), 0o755);
  const child = spawn(process.execPath, [BRO_BIN, ...args], {
    env: sealedEnv({ PATH: `${bin}:${PATH}` }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !existsSync(join(bin, 'am-started')); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(join(bin, 'am-started'))) {
    child.kill('SIGKILL');
    await exited;
    removeDir(bin);
    throw new Error(`bro ${args.join(' ')} never ran \`git ${amArgs}\` (stderr: ${stderr})`);
  }
  return { child, stderr: () => stderr, exited, cleanup: () => removeDir(bin) };
}

/** `startInGitAm`, then SIGINT there, as Ctrl-C does; waits for bro to exit. */
export async function interruptInGitAm(
  args: readonly string[],
  amArgs = 'am --quiet',
): Promise<{ code: number | null; stderr: string }> {
  const bro = await startInGitAm(args, amArgs);
  try {
    bro.child.kill('SIGINT');
    return { code: await bro.exited, stderr: bro.stderr() };
  } finally {
    bro.cleanup();
  }
}
