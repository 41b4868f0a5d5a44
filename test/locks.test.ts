import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { atomicWrite } from '../src/adapters/fs.js';
import { withMirrorLock } from '../src/adapters/locks/mirror-lock.js';
import { lockWorkspace } from '../src/adapters/locks/workspace-lock.js';
import { createMirrors } from '../src/adapters/mirrors.js';
import { createProject } from '../src/adapters/project.js';
import { emptyLock } from '../src/config/lock.js';
import { sealedEnv, PATH } from './helpers/env.js';
import { makeWorld, removeDir, tempDir } from './helpers/git-fixtures.js';
import { lockIdentity, procMissing, skipsBecause, until } from './helpers/index.js';
import { BRO_BIN } from './helpers/cli.js';

/**
 * The one lock (src/adapters/locks/lock.ts) under its two policies: the mirror
 * lock waits, the workspace lock refuses. A holder is dead only when bro can
 * prove it; a holder bro cannot check (another pid namespace or host) is
 * alive while its heartbeat is fresh; every takeover is reported.
 */
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  dirs.splice(0).forEach(removeDir);
});
const scratch = () => {
  const dir = tempDir('bro-locks-');
  dirs.push(dir);
  return dir;
};

/** A pid that ran here and no longer does. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid;
/** This process as a lock records it, but in another pid namespace of this host (a container sharing its network and name). */
const inAnotherNamespace = (pid: number) => ({ ...lockIdentity(process.pid), pid, pidNamespace: 'pid:[4026530001]' });
const age = (path: string, seconds: number) => {
  const when = new Date(Date.now() - seconds * 1000);
  utimesSync(path, when, when);
};

describe.skipIf(skipsBecause(procMissing))('the workspace lock: one rule for a holder bro cannot check', () => {
  it('a live bro in another pid namespace of this host (fresh heartbeat) keeps it; the refusal says why bro cannot check it', async () => {
    const broDir = scratch();
    const owner = inAnotherNamespace(deadPid());
    writeFileSync(join(broDir, 'lock'), JSON.stringify({ owner, startedAt: '2026-12-01T00:00:00.000Z', groups: [] }));
    const error = await lockWorkspace(broDir).then(
      () => undefined,
      (e: Error & { hint?: string }) => e,
    );
    expect(error?.message).toContain(
      `Another bro (pid ${owner.pid} on ${hostname()}, started 2026-12-01T00:00:00.000Z)`,
    );
    expect(error?.hint).toContain('another pid namespace (a container) of this host (pid:[4026530001])');
    expect(error?.hint).toContain('counts as abandoned once its heartbeat stops for 2 minutes');
  });

  it('a silent one in another pid namespace is taken over, and the takeover names it', async () => {
    const broDir = scratch();
    const owner = inAnotherNamespace(deadPid());
    writeFileSync(join(broDir, 'lock'), JSON.stringify({ owner, startedAt: '2026-12-01T00:00:00.000Z', groups: [] }));
    age(join(broDir, 'lock'), 180);
    const warnings: string[] = [];
    const lock = await lockWorkspace(broDir, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Took over the workspace lock left by pid ${owner.pid}, whose heartbeat stopped 3 min ago \\(on ${hostname()}, pid namespace pid:\\[4026530001\\], started 2026-12-01T00:00:00.000Z\\)\\.$`,
        ),
      ),
    ]);
    expect(lock.stale?.pid).toBe(owner.pid);
    await lock.release();
  });

  it('a heartbeat in the future (a clock ahead of ours) blocks for the stale period, not for the skew; one that moves keeps the lock', async () => {
    const broDir = scratch();
    const path = join(broDir, 'lock');
    const write = () =>
      writeFileSync(path, JSON.stringify({ owner: inAnotherNamespace(deadPid()), startedAt: 'x', groups: [] }));
    const ahead = (seconds: number) => {
      const when = new Date(Date.now() + seconds * 1000);
      utimesSync(path, when, when);
    };
    // 0.05 s heartbeats: stale after 0.2 s of silence. The lock's clock is an hour ahead.
    write();
    ahead(3600);
    const warnings: string[] = [];
    const lock = await lockWorkspace(broDir, { heartbeatSeconds: 0.05, warn: (m) => warnings.push(m) });
    expect(warnings[0]).toContain("has a heartbeat ahead of this host's clock");
    expect(warnings[1]).toMatch(/^Took over the workspace lock left by pid \d+, whose heartbeat stopped/);
    await lock.release();

    // A holder an hour ahead that keeps beating is alive: refused once its heartbeat moved.
    write();
    ahead(3600);
    let beat = 3600;
    const beating = setInterval(() => ahead((beat += 1)), 20);
    try {
      await expect(lockWorkspace(broDir, { heartbeatSeconds: 0.05 })).rejects.toThrow('Another bro');
    } finally {
      clearInterval(beating);
    }
  });

  it('a corrupt lock is not taken over while something touches it; once silent it is, with a warning that names it, keeps it, and names the process groups it lists', async () => {
    const broDir = scratch();
    const path = join(broDir, 'lock');
    writeFileSync(path, '{"owner": {"pid": 4242, "host": "x"}, "groups": [{"pgid": 4243, "comm');
    await expect(lockWorkspace(broDir)).rejects.toThrow(`The workspace lock ${path} cannot be read`);
    age(path, 180);
    const warnings: string[] = [];
    const lock = await lockWorkspace(broDir, { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Took over the workspace lock held by an unreadable lock file \("\{\\"owner\\"/);
    expect(warnings[0]).toMatch(/, untouched for 3 min; that file is kept as .*lock\.corrupt\./);
    expect(warnings[0]).toContain('It names process groups 4243');
    expect(readFileSync(`${path}.corrupt`, 'utf8')).toContain('"pgid": 4243');
    await lock.release();
  });
});

describe.skipIf(skipsBecause(procMissing))('the mirror lock: one rule for a holder bro cannot check', () => {
  it('waits for a live holder in another pid namespace (its lock in the older flat form), and says so; a future heartbeat only for the stale period', async () => {
    const path = join(scratch(), 'm.git.lock');
    writeFileSync(path, JSON.stringify({ ...inAnotherNamespace(deadPid()), token: 'theirs' }));
    const said: string[] = [];
    let got = false;
    const held = withMirrorLock(path, async () => void (got = true), { pollMs: 10, warn: (m) => said.push(m) });
    await until(() => said.length > 0 || got);
    expect(said[0]).toMatch(
      /^Waiting for another bro \(pid \d+ on .*, pid namespace pid:\[4026530001\]\), which holds /,
    );
    expect(got).toBe(false);
    rmSync(path);
    await held;
    expect(got).toBe(true);

    // With a heartbeat an hour ahead that never moves, the wait is the stale period.
    writeFileSync(path, JSON.stringify({ ...inAnotherNamespace(deadPid()), token: 'theirs' }));
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(path, ahead, ahead);
    const report: string[] = [];
    expect(
      await withMirrorLock(path, async () => 'ran', { staleAfterMs: 200, pollMs: 10, warn: (m) => report.push(m) }),
    ).toBe('ran');
    expect(report.at(-1)).toMatch(/^Took over the lock .*m\.git\.lock left by pid \d+, whose heartbeat stopped/);
  });
});

describe('one atomic write', () => {
  it('a full disk fails the write and leaves neither a temporary file nor a changed file (the sources lock, a state file)', async () => {
    const root = scratch();
    mkdirSync(join(root, 'variants'));
    const project = createProject(root);
    writeFileSync(project.lockPath, 'before\n');
    symlinkSync('/dev/full', `${project.lockPath}.${process.pid}.tmp`);
    await expect(project.writeLock(emptyLock())).rejects.toThrow(/cannot be written \(ENOSPC\)/);
    expect(readdirSync(join(root, 'variants'))).toEqual(['sources.lock.json']);
    expect(readFileSync(project.lockPath, 'utf8')).toBe('before\n');

    await atomicWrite(join(root, 'state.json'), '{}\n', 0o600);
    expect(readdirSync(root).sort()).toEqual(['state.json', 'variants']);
  });
});

/** A `git` on PATH that runs the real one; after `clone --mirror` of bottlerocket it waits until `<$LOCKS_HOLD>.release` exists. */
function holdingGit(): string {
  const bin = scratch();
  const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
  writeFileSync(
    join(bin, 'git'),
    `#!/bin/sh\n${realGit} "$@"\nstatus=$?\ncase "$*" in *"clone --mirror"*bottlerocket*) if [ -n "$LOCKS_HOLD" ]; then : > "$LOCKS_HOLD.cloned"; while [ ! -e "$LOCKS_HOLD.release" ]; do sleep 0.05; done; fi;; esac\nexit $status\n`,
  );
  chmodSync(join(bin, 'git'), 0o755);
  return bin;
}

/** `bro build … --dry-run` as its own process; `prefix` runs it under another program (unshare). */
function startBro(
  world: ReturnType<typeof makeWorld>,
  work: string,
  env: Record<string, string>,
  prefix: string[] = [],
) {
  const argv = [
    ...prefix,
    process.execPath,
    BRO_BIN,
    ...['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--ci'],
    ...['--project-dir', world.project, '--cache-dir', world.cacheDir, '--work-dir', work],
  ];
  const child = spawn(argv[0]!, argv.slice(1), { env: sealedEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  return { child, stderr: () => stderr, exited, done: () => code !== undefined };
}

const mirrorPath = (world: ReturnType<typeof makeWorld>) =>
  createMirrors(world.cacheDir, {} as never).pathFor(world.upstream.bottlerocket);
/** The partial clones of the bottlerocket mirror. */
const partials = (world: ReturnType<typeof makeWorld>) =>
  readdirSync(join(world.cacheDir, 'mirrors')).filter((e) => e.startsWith(`${basename(mirrorPath(world))}.partial-`));

describe.skipIf(skipsBecause(procMissing))(
  'the mirror lock of a live bro in another pid namespace, as its lock file records it',
  () => {
    it("a second bro waits and says so; it leaves the holder's partial clone alone, and goes on once the holder lets go", async () => {
      const world = makeWorld(dirs);
      const mirror = mirrorPath(world);
      mkdirSync(dirname(mirror), { recursive: true });
      const owner = inAnotherNamespace(deadPid());
      writeFileSync(`${mirror}.lock`, JSON.stringify({ owner, startedAt: '2026-12-01T00:00:00.000Z', groups: [] }));
      const partial = `${mirror}.partial-${owner.pid}-0000`;
      mkdirSync(partial);
      const bro = startBro(world, join(world.project, 'work'), {});
      await until(() => bro.stderr().includes('Waiting for another bro') || bro.done());
      expect(bro.stderr()).toContain(
        `Waiting for another bro (pid ${owner.pid} on ${hostname()}, pid namespace pid:[4026530001])`,
      );
      expect(existsSync(partial)).toBe(true);
      // The holder is done (without a mirror): the waiter clones it.
      rmSync(partial, { recursive: true });
      rmSync(`${mirror}.lock`);
      expect(await bro.exited, bro.stderr()).toBe(0);
    }, 60_000);
  },
);

/** Why this machine does not let a test start a process in a new pid namespace (root, no seccomp filter against it). */
const unshareMissing =
  procMissing ??
  (spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0
    ? undefined
    : '`unshare --pid --fork --mount-proc` does not run here (it needs root and util-linux)');

describe.skipIf(skipsBecause(unshareMissing))('a real bro in another pid namespace (unshare --pid)', () => {
  it('holds both locks: a second bro in the same workspace is refused, one with its own workspace waits for the mirror and leaves its partial clone alone', async () => {
    const world = makeWorld(dirs);
    const bin = holdingGit();
    const hold = join(scratch(), 'hold');
    const env = { PATH: `${bin}:${PATH}` };
    const work = join(world.project, 'work-1');
    // Its pid (100000 in its namespace) names no process here.
    const first = startBro(world, work, { ...env, LOCKS_HOLD: hold }, [
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      '--kill-child=SIGKILL',
      'sh',
      '-c',
      'echo 99999 > /proc/sys/kernel/ns_last_pid && "$@"',
      'sh',
    ]);
    await until(() => existsSync(`${hold}.cloned`) || first.done());
    expect(first.done(), first.stderr()).toBe(false);
    const { owner } = JSON.parse(readFileSync(join(work, '.bro', 'lock'), 'utf8'));
    expect(owner.pid).toBe(100000);
    expect(owner.pidNamespace).not.toBe(lockIdentity(process.pid).pidNamespace);
    const held = partials(world);
    expect(held).toHaveLength(1);

    const same = startBro(world, work, env);
    expect(await same.exited).toBe(1);
    expect(same.stderr()).toContain(`Another bro (pid 100000 on ${hostname()}`);
    expect(same.stderr()).toContain('another pid namespace (a container) of this host');

    const other = startBro(world, join(world.project, 'work-2'), env);
    await until(() => other.stderr().includes('Waiting for another bro') || other.done());
    expect(other.stderr()).toContain(`Waiting for another bro (pid 100000 on ${hostname()}, pid namespace pid:[`);
    expect(partials(world)).toEqual(held);

    writeFileSync(`${hold}.release`, '');
    expect(await first.exited, first.stderr()).toBe(0);
    expect(await other.exited, other.stderr()).toBe(0);
    expect(
      readdirSync(join(world.cacheDir, 'mirrors')).filter((e) => !e.endsWith('.git') && !e.endsWith('.lock')),
    ).toEqual([]);
  }, 60_000);
});

describe.skipIf(skipsBecause(procMissing))('a holder stopped past the stale period (SIGSTOP)', () => {
  it('is taken over, with a warning that names it; resumed, it uses the mirror the other bro made', async () => {
    const world = makeWorld(dirs);
    const bin = holdingGit();
    const hold = join(scratch(), 'hold');
    const env = { PATH: `${bin}:${PATH}` };
    const first = startBro(world, join(world.project, 'work-1'), { ...env, LOCKS_HOLD: hold });
    await until(() => existsSync(`${hold}.cloned`) || first.done());
    first.child.kill('SIGSTOP');
    // Its heartbeat stops with it: as if the stale period (30 s) had passed.
    age(`${mirrorPath(world)}.lock`, 60);

    const second = startBro(world, join(world.project, 'work-2'), env);
    expect(await second.exited, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(
      new RegExp(`Took over the lock \\S+\\.lock left by pid ${first.child.pid}, whose heartbeat stopped \\d+ s ago`),
    );

    writeFileSync(`${hold}.release`, '');
    first.child.kill('SIGCONT');
    expect(await first.exited, first.stderr()).toBe(0);
    expect(first.stderr()).toContain('while this one was stopped; this one uses what it made');
    expect(first.stderr()).not.toMatch(/ENOENT|ENOTEMPTY/);
  }, 60_000);
});
