import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sealedEnv } from './helpers/env.js';
import { REPO_ROOT } from './helpers/git-fixtures.js';
import { startAwsEndpoint, type AwsEndpoint } from './helpers/aws-endpoint.js';
import type { AwsWorld } from './helpers/aws-world.js';
import { addBuilds, amiOf, names, REGIONS, releaseProject } from './helpers/release-world.js';

/**
 * kill -9 of `bro promote` and `bro prune` right after AWS applied a change
 * and before bro heard back, then a rerun: it converges (every region at the
 * new version; the pruned build gone with its snapshots and parameters, the
 * others untouched), and a third run has nothing to do. The bro children talk
 * to a loopback EC2, SSM and STS endpoint (the real SDK) over the simulated AWS world.
 */
let w: ReturnType<typeof releaseProject>;
let world: AwsWorld;
let endpoint: AwsEndpoint;
const children: ChildProcess[] = [];
beforeEach(async () => {
  w = releaseProject();
  endpoint = await startAwsEndpoint();
  world = endpoint.world;
  await addBuilds(world, w.work, 4);
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await endpoint.close();
  w.cleanup();
});

function bro(args: string[]) {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/src/bin/bro.js'), ...args, ...w.common, '--ci'], {
    env: sealedEnv(endpoint.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

const killAfter = async (action: string, args: string[], nth = 1) => {
  const applied = endpoint.holdAfter(action, nth);
  const run = bro(args);
  await applied;
  run.child.kill('SIGKILL');
  await run.done;
};
const writes = () => world.modifying().map((c) => `${c.region} ${c.action}`);
const state = () =>
  JSON.parse(readFileSync(join(w.work, '.bro', 'state.json'), 'utf8')).steps as Record<string, unknown>;

describe('kill -9, then a rerun', () => {
  it.each([
    ['its first change', 1],
    ['its last change (every parameter written, not yet recorded)', 2 * REGIONS.length],
  ])(
    'during promotion, after %s: every region ends at the new version, and the rollback still names the version before',
    async (_when, nth) => {
      const first = await bro(['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--to', 'stable']).done;
      expect(first.code, first.stderr).toBe(0);
      await killAfter('PutParameter', ['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc2', '--to', 'stable'], nth);
      const pending = Object.values(state()).filter(
        (r) => (r as { outputs: { status?: string } }).outputs.status === 'pending',
      );
      expect(pending.length, 'the killed promotion recorded what it was doing').toBeGreaterThan(0);

      const rerun = await bro(['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc2', '--to', 'stable']).done;
      expect(rerun.code, rerun.stderr).toBe(0);
      for (const region of REGIONS) {
        expect(world.parameter(region, names('stable').imageId)).toBe(amiOf('1.0.4-hc2', region));
        expect(world.parameter(region, names('stable').version)).toBe('1.0.4-hc2');
      }
      expect(rerun.stdout).toContain('To roll back: bro promote aws-k8s-1.18 --version 1.0.4-hc1 --to stable');
      world.calls.length = 0;
      const third = await bro(['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc2', '--to', 'stable']).done;
      expect(third.code).toBe(0);
      expect(writes()).toEqual([]);
    },
  );

  it('during pruning: the rerun finishes the removal (snapshots after their image), and touches nothing else', async () => {
    const promoted = await bro(['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--to', 'stable']).done;
    expect(promoted.code, promoted.stderr).toBe(0);
    const snapshots = Object.fromEntries(REGIONS.map((r) => [r, world.image(r, amiOf('1.0.4-hc2', r)).snapshots]));
    await killAfter('DeregisterImage', ['prune', 'aws-k8s-1.18', '--keep', '2', '--yes']);
    expect(Object.keys(state()).some((id) => id.startsWith('prune:'))).toBe(true);

    const rerun = await bro(['prune', 'aws-k8s-1.18', '--keep', '2', '--yes']).done;
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const region of REGIONS) {
      expect(world.hasImage(region, amiOf('1.0.4-hc2', region))).toBe(false);
      for (const s of snapshots[region]!) expect(world.hasSnapshot(region, s), `${region} ${s}`).toBe(false);
      expect(world.parameter(region, names('1.0.4-hc2').imageId)).toBeUndefined();
      for (const n of [1, 3, 4]) expect(world.hasImage(region, amiOf(`1.0.4-hc${n}`, region))).toBe(true);
    }
    expect(
      Object.keys(state())
        .filter((id) => /^(prune|release):/.test(id))
        .sort(),
    ).toEqual(['release:1.0.4-hc1', 'release:1.0.4-hc3', 'release:1.0.4-hc4']);
    world.calls.length = 0;
    const third = await bro(['prune', 'aws-k8s-1.18', '--keep', '2', '--yes']).done;
    expect(third.code, third.stderr).toBe(0);
    expect(writes()).toEqual([]);
  });
});
