import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS, buildWorld, filesUnder, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { startAwsEndpoint, type AwsEndpoint } from './helpers/aws-endpoint.js';
import { makePatch, tempDir, writeSeries, removeDir } from './helpers/git-fixtures.js';
import { AUTH_TOKEN, REGISTRY_PASSWORD } from './helpers/aws-world.js';
import { sealedEnv } from './helpers/env.js';
import { alive, procMissing, skipsBecause, until } from './helpers/index.js';
import { BRO_BIN, broArgv } from './helpers/cli.js';

/**
 * kill -9 of bro in each step that runs a program, then a rerun: it never
 * builds beside what the killed bro left running, leaves no ECR login on disk,
 * and ends with the same AWS state and manifest as a build nobody interrupted.
 * The child bro reaches AWS through a loopback endpoint, the reruns in this
 * process through aws-sdk-client-mock: both serve the test's one simulated
 * world. The fakes block until released, so nothing here depends on timing.
 */

/** What must be the same after any interruption: what was published, and where. */
const published = (manifest: Record<string, unknown>) => ({
  amiName: manifest.amiName,
  accounts: manifest.accounts,
  adminImage: manifest.adminImage,
  regions: manifest.regions,
});

let reference: ReturnType<typeof published>;
beforeAll(async () => {
  if (procMissing) return;
  const world = buildWorld();
  try {
    const result = await world.build();
    expect(result.code, result.stderr).toBe(0);
    reference = published(JSON.parse(readFileSync(join(world.work, 'manifest.json'), 'utf8')));
  } finally {
    world.cleanup();
  }
});

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

const lockGroups = (): number[] => {
  try {
    return (JSON.parse(readFileSync(join(s.work, '.bro/lock'), 'utf8')).groups as { pgid: number }[]).map(
      (g) => g.pgid,
    );
  } catch {
    return [];
  }
};
const SECRETS = [REGISTRY_PASSWORD, AUTH_TOKEN, Buffer.from(REGISTRY_PASSWORD).toString('base64')];
const filesWithSecrets = (dirs: string[]) =>
  dirs
    .flatMap((dir) => (existsSync(dir) ? filesUnder(dir) : []))
    .filter(
      (file) =>
        existsSync(file) &&
        statSync(file).isFile() &&
        SECRETS.some((secret) => readFileSync(file, 'latin1').includes(secret)),
    );
/** Where bro's logins live: one DOCKER_CONFIG per run under the workspace. */
const loginDirs = () => {
  const parent = join(s.work, '.bro/docker');
  return existsSync(parent)
    ? readdirSync(parent)
        .filter((e) => e.startsWith('run-'))
        .map((e) => join(parent, e))
    : [];
};

/** `bro build` (or `command`) as its own process, reaching AWS through the loopback endpoint. */
const broArgs = (command = 'build') => [
  BRO_BIN,
  ...broArgv({ ...s, command }, '--ci', '--wait-poll', '0.05'),
  ...(command === 'build' ? ['--min-free-disk', '0.1'] : []),
];
const runBro = (env: Record<string, string> = {}, args = broArgs()) => {
  const child = spawn(process.execPath, args, {
    env: sealedEnv({ ...s.tools.env, ...aws.env, ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  return {
    child,
    exited: new Promise<{ code: number | null; stderr: string }>((r) =>
      child.on('exit', (code) => r({ code, stderr })),
    ),
  };
};

describe.skipIf(skipsBecause(procMissing))('kill -9 of bro, then a rerun', () => {
  it.each([
    ['os-build', 'cargo', 'default'],
    ['ami-register', 'cargo', 'ami'],
    ['admin-image-build', 'docker', 'build'],
    ['admin-image-push', 'docker', 'push'],
  ])(
    'during %s: no second %s %s beside the orphan, no login left on disk, the same AWS state and manifest',
    async (_step, tool, what) => {
      const bro = runBro({ BRO_FAKE_BLOCK: `${tool}:${what}` });
      // Every blocked program has started (one push per region) and is recorded in the lock.
      const pidsFile = `${s.tools.env.BRO_FAKE_CALLS}.blocked-${tool}-${what}.pids`;
      const blocked = () =>
        existsSync(pidsFile) ? readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).map(Number) : [];
      const expected = what === 'push' ? REGIONS.length : 1;
      await until(() => blocked().length === expected && blocked().every((pid) => lockGroups().includes(pid)));
      const orphan = blocked()[0]!;
      bro.child.kill('SIGKILL');
      await bro.exited;
      expect(alive(orphan), 'the orphan runs').toBe(true);
      const started = () =>
        s.tools
          .calls()
          .filter(
            (c) =>
              c.tool === tool &&
              (tool === 'cargo' ? (c.argv.at(-1) === 'ami') === (what === 'ami') : c.argv[0] === what),
          ).length;
      const before2 = started();
      // The scan finds a login where one is: bro was killed in the middle of its pushes.
      if (what === 'push') expect(filesWithSecrets(loginDirs())).not.toEqual([]);

      const refused = await s.build();
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`process group ${orphan} (${tool} `);
      expect(started(), 'no second start').toBe(before2);

      const rerun = await s.build(['--kill-orphans']);
      expect(rerun.stderr).not.toContain('✖');
      expect(rerun.code).toBe(0);
      expect(alive(orphan), 'the orphan was stopped').toBe(false);
      expect(
        existsSync(join(s.work, '.bro/lock')),
        `lock left: ${existsSync(join(s.work, '.bro/lock')) ? readFileSync(join(s.work, '.bro/lock'), 'utf8') : ''}`,
      ).toBe(false);
      expect(loginDirs()).toEqual([]);
      expect(filesWithSecrets([s.work]), rerun.stderr).toEqual([]);
      expect(published(JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')))).toEqual(reference);
      for (const region of REGIONS) {
        const image = s.world.image(region, (reference.regions as Record<string, { ami: string }>)[region]!.ami);
        expect([...image.launch].sort()).toEqual(ACCOUNTS);
        for (const snap of image.snapshots) expect(s.world.volumePermissions(region, snap).sort()).toEqual(ACCOUNTS);
      }
    },
  );
});

describe.skipIf(skipsBecause(procMissing))('kill -9 of bro while it applies a patch (git am)', () => {
  it('the rerun refuses beside the orphaned git am; --kill-orphans stops it, restores the checkout and converges', async () => {
    const patch = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: x', {
      'sources/models/src/lib.rs': 'pub struct X;\n',
    });
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-x.patch': patch });
    // A git on PATH that blocks in `git am` until released, then runs the real git.
    const bin = tempDir('bro-gitbin-');
    const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\nif [ "$1" = "am" ]; then\n  echo $$ > "${bin}/am-blocked"\n  while [ ! -e "${bin}/release" ]; do sleep 0.02; done\nfi\nexec ${realGit} "$@"\n`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    try {
      const bro = runBro({ PATH: `${bin}:${s.tools.env.PATH}` });
      const marker = join(bin, 'am-blocked');
      await until(() => existsSync(marker) && lockGroups().includes(Number(readFileSync(marker, 'utf8'))));
      const orphan = Number(readFileSync(marker, 'utf8'));
      bro.child.kill('SIGKILL');
      await bro.exited;

      const refused = await s.build();
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`process group ${orphan} (git am)`);
      expect(s.tools.calls()).toEqual([]);

      const rerun = await s.build(['--kill-orphans']);
      expect(rerun.stderr).not.toContain('✖');
      expect(rerun.code).toBe(0);
      expect(alive(orphan)).toBe(false);
      expect(published(JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')))).toEqual(reference);
      expect(
        JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')).sources.bottlerocket.series.patches,
      ).toEqual(['0001-models-x.patch']);
    } finally {
      removeDir(bin);
    }
  });
});

describe.skipIf(skipsBecause(procMissing))('kill -9 of bro while it shares (EC2 through a loopback endpoint)', () => {
  it.each([
    ['the same share-with', ACCOUNTS],
    ['an account removed from share-with meanwhile', [ACCOUNTS[0]!]],
  ])(
    'right after EC2 applied a grant, then a rerun with %s: every region converges, nothing bro granted is left over',
    async (_case, accounts) => {
      const applied = aws.holdAfter('ModifyImageAttribute');
      const first = runBro();
      await applied;
      first.child.kill('SIGKILL');
      await first.exited;

      const variant = join(s.project, 'variants/aws-k8s-1.18.toml');
      writeFileSync(
        variant,
        readFileSync(variant, 'utf8').replace(/^share-with = .*$/m, `share-with = ${JSON.stringify(accounts)}`),
      );
      const rerun = await runBro().exited;
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toContain('Took over the workspace lock');

      const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
      for (const region of REGIONS) {
        const image = s.world.image(region, manifest.regions[region].ami);
        expect([...image.launch].sort(), region).toEqual(accounts);
        for (const snap of image.snapshots)
          expect(s.world.volumePermissions(region, snap).sort(), `${region} ${snap}`).toEqual(accounts);
        expect(image.tags.get('bro:version')).toBe('1.0.4-hc1');
        expect(manifest.regions[region].sharedWith).toEqual(accounts);
      }
      expect(manifest.accounts).toEqual(accounts);
      if (accounts === ACCOUNTS) expect(published(manifest)).toEqual(reference);
      expect(filesWithSecrets([s.work])).toEqual([]);
    },
  );

  it('kill -9 of a revoke right after EC2 removed a snapshot permission, then a build: it finds the gap and shares again', async () => {
    const built = await runBro().exited;
    expect(built.code, built.stderr).toBe(0);
    const applied = aws.holdAfter('ModifySnapshotAttribute');
    const revoke = runBro({}, [...broArgs('share'), '--revoke']);
    await applied;
    revoke.child.kill('SIGKILL');
    await revoke.exited;
    const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
    const gaps = () =>
      REGIONS.flatMap((region) => {
        const image = s.world.image(region, manifest.regions[region].ami);
        return [[...image.launch], ...image.snapshots.map((snap) => s.world.volumePermissions(region, snap))]
          .filter((have) => ACCOUNTS.some((a) => !have.includes(a)))
          .map(() => region);
      });
    expect(gaps().length, 'the killed revoke removed something').toBeGreaterThan(0);

    const rerun = await runBro().exited;
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(gaps()).toEqual([]);
  });
});

describe('throttling (the real SDK against the loopback EC2 endpoint)', () => {
  // The SDK's backoff after five throttles (up to 500 ms × 2^4 each, plus the adaptive rate limit) takes about a minute.
  it(
    'five throttles on every modifying call: the build still succeeds, and every grant is there',
    { timeout: 300_000 },
    async () => {
      aws.throttle(['ModifyImageAttribute', 'ModifySnapshotAttribute', 'CreateTags'], 5);
      const result = await runBro().exited;
      expect(result.code, result.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
      for (const region of REGIONS) {
        const image = s.world.image(region, manifest.regions[region].ami);
        expect([...image.launch].sort(), region).toEqual(ACCOUNTS);
        for (const snap of image.snapshots) expect(s.world.volumePermissions(region, snap).sort()).toEqual(ACCOUNTS);
        expect(image.tags.get('bro:version')).toBe('1.0.4-hc1');
        expect(manifest.regions[region].sharedWith).toEqual(ACCOUNTS);
      }
      // Every modifying request was refused five times first: per region one launch grant, one tagging, two snapshots.
      expect(Object.fromEntries(aws.throttled)).toEqual({
        ModifyImageAttribute: 5 * REGIONS.length,
        ModifySnapshotAttribute: 5 * 2 * REGIONS.length,
        CreateTags: 5 * REGIONS.length,
      });
    },
  );
});
