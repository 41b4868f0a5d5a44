import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS, buildWorld, filesUnder, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { startAwsEndpoint, type AwsEndpoint } from './helpers/aws-endpoint.js';
import { AUTH_TOKEN, REGISTRY_PASSWORD } from './helpers/aws-world.js';
import { sealedEnv } from './helpers/env.js';
import { alive, lockIdentity, procMissing, skipsBecause, until } from './helpers/index.js';
import { BRO_BIN, broArgv } from './helpers/cli.js';

/**
 * The workspace lock when bro dies without cleaning up: kill -9 (a lost host,
 * an OOM kill), or pid 1 of a container. The child bro runs the built bin with
 * the fake cargo and docker on PATH; the fakes block until the test releases
 * them, so every step here waits on files, never on time. It reaches AWS
 * through the loopback endpoint, over the same simulated world as the test's
 * own runs.
 */
let s: BuildWorld;
let aws: AwsEndpoint;
const children: ChildProcess[] = [];
beforeEach(async () => {
  s = buildWorld();
  aws = await startAwsEndpoint(s.world);
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await aws.close();
  s.cleanup();
});

const lockPath = () => join(s.work, '.bro/lock');
const marker = (what: string) => `${s.tools.env.BRO_FAKE_CALLS}.blocked-${what}`;

/** Starts `bro build` as its own process, as a user would. */
function spawnBro(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [BRO_BIN, ...broArgv(s, '--ci', '--min-free-disk', '0.1')], {
    env: sealedEnv({ ...s.tools.env, ...aws.env, ...env }),
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

const identity = lockIdentity;

function writeLock(owner: Record<string, unknown>, groups: unknown[] = []) {
  mkdirSync(join(s.work, '.bro'), { recursive: true });
  writeFileSync(lockPath(), JSON.stringify({ owner, startedAt: '2026-11-29T00:00:00.000Z', groups }));
}

describe.skipIf(skipsBecause(procMissing))('kill -9 of bro while cargo make builds', () => {
  it('the rerun refuses to build beside the orphaned cargo make and names it; --kill-orphans stops it and the build converges', async () => {
    const bro = spawnBro({ BRO_FAKE_BLOCK: 'cargo:default,docker:build' });
    await until(() => existsSync(marker('cargo-default')) && existsSync(marker('docker-build')));
    const cargo = Number(readFileSync(marker('cargo-default'), 'utf8'));
    const docker = Number(readFileSync(marker('docker-build'), 'utf8'));
    // The lock names bro and the process groups of both children.
    await until(() => (JSON.parse(readFileSync(lockPath(), 'utf8')).groups as unknown[]).length === 2);
    const lock = JSON.parse(readFileSync(lockPath(), 'utf8'));
    expect(lock.owner).toMatchObject(identity(bro.pid as number));
    expect(lock.groups.map((g: { pgid: number }) => g.pgid).sort()).toEqual([cargo, docker].sort());

    const exited = new Promise((r) => bro.on('exit', r));
    bro.kill('SIGKILL');
    await exited;
    expect(alive(cargo)).toBe(true);

    const refused = await s.build();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `The bro that held this workspace (pid ${bro.pid} on ${hostname()}) is gone, but programs it started still run:`,
    );
    expect(refused.stderr).toContain(`process group ${cargo} (cargo make)`);
    expect(refused.stderr).toContain(`process group ${docker} (docker build)`);
    expect(refused.stderr).toContain('--kill-orphans');
    // No second build started.
    expect(s.tools.calls().filter((c) => c.tool === 'cargo')).toHaveLength(1);

    const rerun = await s.build(['--kill-orphans']);
    expect(rerun.stderr).not.toContain('✖');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain(`Took over the workspace lock left by pid ${bro.pid}`);
    expect(rerun.stderr).toContain(`Stopped what the killed bro left running: process group`);
    expect(alive(cargo)).toBe(false);
    expect(alive(docker)).toBe(false);
    expect(existsSync(lockPath())).toBe(false);
    // The same AWS state and manifest as an uninterrupted build.
    const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.regions).sort()).toEqual([...REGIONS].sort());
    for (const r of REGIONS) {
      expect([...s.world.image(r, manifest.regions[r].ami).launch].sort()).toEqual(ACCOUNTS);
      expect(manifest.regions[r].sharedWith).toEqual(ACCOUNTS);
    }
  });
});

describe.skipIf(skipsBecause(procMissing))('the lock owner', () => {
  it('pid 1 of another container (another pid namespace, same host and kernel) keeps it while its heartbeat is fresh; once silent it is taken over, and the takeover names it', async () => {
    writeLock({ ...identity(process.pid), pid: 1, startTime: '1', pidNamespace: 'pid:[1]' });
    const fresh = await s.build(['--only', 'os-build']);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain(
      `Another bro (pid 1 on ${hostname()}, started 2026-11-29T00:00:00.000Z) is running in this workspace`,
    );
    expect(fresh.stderr).toContain('It runs in another pid namespace (a container) of this host (pid:[1])');
    expect(s.tools.calls()).toEqual([]);

    const silent = new Date(Date.now() - 180_000);
    utimesSync(lockPath(), silent, silent);
    const result = await s.build(['--only', 'os-build']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /Took over the workspace lock left by pid 1, whose heartbeat stopped 3 min ago \(on [^,]+, pid namespace pid:\[1\], started 2026-11-29T00:00:00\.000Z\)/,
    );
  });

  it('a pid that runs with another start time is another process (pids are reused): the lock is taken over', async () => {
    writeLock({ ...identity(1), startTime: `${Number(identity(1).startTime) + 1}` });
    const result = await s.build(['--only', 'os-build']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Took over the workspace lock left by pid 1');
  });

  it('a live owner keeps it: same pid and start time', async () => {
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(owner);
    writeLock(identity(owner.pid as number));
    const result = await s.build(['--only', 'os-build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Another bro (pid ${owner.pid} on ${hostname()}, started 2026-11-29T00:00:00.000Z) is running in this workspace`,
    );
    expect(s.tools.calls()).toEqual([]);
  });

  it('on another host: kept while its heartbeat is fresh, taken over once it stopped', async () => {
    writeLock({ ...identity(process.pid), host: 'build-host-2', bootId: 'another-boot' });
    const fresh = await s.build(['--only', 'os-build']);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain('Another bro (pid');
    expect(fresh.stderr).toContain('on build-host-2');
    expect(fresh.stderr).toContain('its lock counts as abandoned once its heartbeat stops');

    utimesSync(lockPath(), new Date(0), new Date(0));
    const silent = await s.build(['--only', 'os-build']);
    expect(silent.code).toBe(0);
    expect(silent.stderr).toContain('Took over the workspace lock');
  });
});

/** Every form of the ECR login a file could hold: the password, the token (base64 of AWS:password), the password in base64. */
const SECRETS = [REGISTRY_PASSWORD, AUTH_TOKEN, Buffer.from(REGISTRY_PASSWORD).toString('base64')];
const holdingSecrets = (dirs: string[]) =>
  dirs
    .flatMap((dir) => (existsSync(dir) ? filesUnder(dir) : []))
    .filter((file) => existsSync(file) && statSync(file).isFile())
    .filter((file) => SECRETS.some((secret) => readFileSync(file, 'latin1').includes(secret)));
/** The per-run DOCKER_CONFIG directories, where bro keeps the ECR logins while it pushes (src/adapters/docker.ts). */
const dockerRunDirs = () => {
  const parent = join(s.work, '.bro', 'docker');
  return existsSync(parent)
    ? readdirSync(parent)
        .filter((e) => e.startsWith('run-'))
        .map((e) => join(parent, e))
    : [];
};

describe.skipIf(skipsBecause(procMissing)).each(['SIGKILL', 'SIGHUP'] as const)(
  '%s of bro while docker pushes the admin image',
  (signal) => {
    it('keeps the ECR logins in the workspace only, and none outlives the runs: SIGHUP removes them itself, after kill -9 the rerun does; no second push runs beside orphans', async () => {
      const bro = spawnBro({ BRO_FAKE_BLOCK: 'cargo:default,docker:push' });
      const pushes = () => s.tools.calls().filter((c) => c.tool === 'docker' && c.argv[0] === 'push');
      await until(() => pushes().length === REGIONS.length && existsSync(marker('cargo-default')));
      expect(s.world.calls.map((c) => c.action)).toContain('GetAuthorizationToken');
      // While the pushes run, their logins are on disk under the workspace's .bro/, nowhere else.
      const configs = pushes().map((p) => p.env.DOCKER_CONFIG as string);
      for (const dir of configs) expect(dir.startsWith(join(s.work, '.bro', 'docker') + '/')).toBe(true);
      expect(holdingSecrets(dockerRunDirs())).toHaveLength(REGIONS.length);
      expect(holdingSecrets([s.work])).toHaveLength(REGIONS.length);

      const exited = new Promise((r) => bro.on('exit', r));
      bro.kill(signal);
      await exited;

      if (signal === 'SIGKILL') {
        // Killed, bro left its logins on disk; the rerun must remove them.
        expect(holdingSecrets(dockerRunDirs())).toHaveLength(REGIONS.length);
        // The pushes outlived bro: no new push (or login) starts beside them.
        const refused = await s.build();
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('(docker push)');
        expect(pushes()).toHaveLength(REGIONS.length);
      } else {
        // SIGHUP is handled like SIGTERM: bro stops its pushes and removes their logins before it exits.
        expect(holdingSecrets(dockerRunDirs())).toEqual([]);
        expect(holdingSecrets([s.work])).toEqual([]);
      }
      const rerun = await s.build(['--kill-orphans']);
      expect(rerun.stderr).not.toContain('✖');
      expect(rerun.code).toBe(0);
      expect(holdingSecrets(dockerRunDirs())).toEqual([]);
      expect(holdingSecrets([s.work])).toEqual([]);
      // The killed run's DOCKER_CONFIG directories are gone (and so is the rerun's own).
      for (const dir of configs) expect(existsSync(dir), dir).toBe(false);
      expect(readdirSync(join(s.work, '.bro', 'docker'))).toEqual([]);
      expect(
        rerun.stderr.includes('Removed the ECR logins (DOCKER_CONFIG) that a killed bro left in the workspace'),
      ).toBe(signal === 'SIGKILL');
      const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
      for (const r of REGIONS) expect(manifest.regions[r].sharedWith).toEqual(ACCOUNTS);
    });
  },
);

describe.skipIf(skipsBecause(procMissing))('a cancelled CI job (npx killed, bro re-parented)', () => {
  it('bro stops at the next step boundary: no AMI registered, no image pushed, the lock released', async () => {
    const broArgs = [BRO_BIN, ...broArgv(s, '--ci', '--min-free-disk', '0.1')];
    // Stands in for npm and its shell: starts bro, says its pid, and is then killed by the CI runner.
    const launcher = spawn(
      process.execPath,
      [
        '-e',
        `const c = require('node:child_process').spawn(process.execPath, ${JSON.stringify(broArgs)}, { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`,
      ],
      {
        env: sealedEnv({ ...s.tools.env, ...aws.env, BRO_FAKE_BLOCK: 'cargo:default,docker:build' }),
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    children.push(launcher);
    let out = '';
    launcher.stdout.on('data', (d) => (out += String(d)));
    await until(() => out.includes('\n') && existsSync(marker('cargo-default')) && existsSync(marker('docker-build')));
    const bro = Number(out.trim());
    const gone = new Promise((r) => launcher.on('exit', r));
    launcher.kill('SIGKILL');
    await gone;
    // The build steps that were running finish; what follows them must not start.
    for (const what of ['cargo-default', 'docker-build'])
      writeFileSync(`${s.tools.env.BRO_FAKE_CALLS}.release-${what}`, '');
    await until(() => !alive(bro));

    const calls = s.tools
      .calls()
      .map((c) => `${c.tool} ${c.argv.filter((a) => !a.startsWith('-') && !a.includes('=')).join(' ')}`);
    expect(calls.some((c) => c.startsWith('cargo make ami'))).toBe(false);
    expect(calls.some((c) => c.startsWith('docker login') || c.startsWith('docker push'))).toBe(false);
    expect(existsSync(lockPath())).toBe(false);
    const state = JSON.parse(readFileSync(join(s.work, '.bro/state.json'), 'utf8'));
    expect(state.steps['os-build'].status).toBe('done');
    expect(state.steps['ami-register']).toBeUndefined();
  });
});

describe('taking over a stale lock', () => {
  it('of two bros at once, exactly one gets it', async () => {
    const { lockWorkspace } = await import('../src/adapters/locks/workspace-lock.js');
    const dir = join(s.work, '.bro');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'lock'),
      JSON.stringify({ owner: { pid: 999999, startTime: '1', host: 'h' }, startedAt: 'x', groups: [] }),
    );
    const as = (pid: number) => ({
      processes: {
        self: () => ({ pid, startTime: '7', host: 'h' }),
        isAlive: (p: number) => p === 4001 || p === 4002,
        startTime: () => '7',
        groupAlive: () => false,
      },
    });
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([lockWorkspace(dir, as(4001)), lockWorkspace(dir, as(4002))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, JSON.stringify(results.map((r) => r.status === 'rejected' && String(r.reason)))).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')?.reason?.message).toMatch(/Another bro/);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      writeFileSync(
        join(dir, 'lock'),
        JSON.stringify({ owner: { pid: 999999, startTime: '1', host: 'h' }, startedAt: 'x', groups: [] }),
      );
    }
  });
});
