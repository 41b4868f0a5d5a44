import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { mockAws } from './helpers/aws-mock.js';
import type { AwsWorld } from './helpers/aws-world.js';
import {
  addBuilds,
  amiOf,
  builtImage,
  names,
  ORGANIZATION,
  REGIONS,
  releaseProject,
  variantToml,
} from './helpers/release-world.js';

/**
 * `bro promote` and `bro prune` against EC2, SSM and STS through
 * aws-sdk-client-mock (the simulated AWS world), on builds recorded as a
 * build leaves them.
 */
let w: ReturnType<typeof releaseProject>;
let world: AwsWorld;
let restore: () => void;
beforeEach(() => {
  w = releaseProject();
  ({ world, restore } = mockAws());
});
afterEach(() => {
  restore();
  w.cleanup();
});

const bro = (args: string[]) => runCli([...args, ...w.common]);
const promote = (version: string, to = 'stable', extra: string[] = []) =>
  bro(['promote', 'aws-k8s-1.18', '--version', version, '--to', to, ...extra]);
const prune = (extra: string[]) => bro(['prune', 'aws-k8s-1.18', ...extra]);
const channel = (region: string, key = 'stable') => ({
  imageId: world.parameter(region, names(key).imageId),
  version: world.parameter(region, names(key).version),
});
const writes = () => world.modifying().map((c) => `${c.region} ${c.action}`);

describe('bro promote', () => {
  beforeEach(async () => {
    await addBuilds(world, w.work, 2);
  });

  it('points the channel at the build in every region, shows old → new, and rolls back with the previous version', async () => {
    expect((await promote('1.0.4-hc1')).code).toBe(0);
    const moved = await promote('1.0.4-hc2');
    expect(moved.code, moved.stderr).toBe(0);
    for (const region of REGIONS) {
      expect(moved.stdout).toContain(
        `${region.padEnd(14)}  stable  1.0.4-hc1 → 1.0.4-hc2 (${amiOf('1.0.4-hc2', region)})`,
      );
      expect(channel(region)).toEqual({ imageId: amiOf('1.0.4-hc2', region), version: '1.0.4-hc2' });
      expect(world.parameters.get(`${region}/${names('stable').imageId}`)?.dataType).toBe('aws:ec2:image');
    }
    expect(moved.stdout).toContain('To roll back: bro promote aws-k8s-1.18 --version 1.0.4-hc1 --to stable');
    const back = await promote('1.0.4-hc1');
    expect(back.code).toBe(0);
    for (const region of REGIONS) expect(channel(region).version).toBe('1.0.4-hc1');
  });

  it('a rerun with nothing to do makes no modifying call; --dry-run makes none either', async () => {
    expect((await promote('1.0.4-hc2', 'stable', ['--dry-run'])).code).toBe(0);
    expect(writes()).toEqual([]);
    expect(channel('us-east-1').imageId).toBeUndefined();
    expect((await promote('1.0.4-hc2')).code).toBe(0);
    world.calls.length = 0;
    const again = await promote('1.0.4-hc2');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already there');
    expect(writes()).toEqual([]);
  });

  it('a channel name with "/" or shaped like a version is a usage error (exit 2), before any call', async () => {
    for (const bad of ['stable/eu', '1.0.4-hc1', 'a b']) {
      const result = await promote('1.0.4-hc2', bad);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toContain(`--to "${bad}"`);
    }
    expect(world.calls).toEqual([]);
  });

  it('a version never built is refused (exit 1), naming the region; nothing is promoted anywhere', async () => {
    const result = await promote('1.0.4-hc9');
    expect(result.code).toBe(1);
    for (const region of REGIONS)
      expect(result.stderr).toContain(
        `1.0.4-hc9 is not published in ${region}: ${names('1.0.4-hc9').imageId} does not exist`,
      );
    expect(writes()).toEqual([]);
  });

  it('a build incomplete in one region (not shared with the organization) is refused, naming that region', async () => {
    world.image('us-west-1', amiOf('1.0.4-hc2', 'us-west-1')).launch.delete(ORGANIZATION);
    const result = await promote('1.0.4-hc2');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `1.0.4-hc2 is incomplete in us-west-1: ${amiOf('1.0.4-hc2', 'us-west-1')} is not shared with ${ORGANIZATION}`,
    );
    expect(result.stderr).toContain('Nothing was promoted in any region');
    expect(writes()).toEqual([]);
  });

  it('a deprecated build is refused unless --force', async () => {
    world.image('us-east-1', amiOf('1.0.4-hc2', 'us-east-1')).deprecation = '2026-03-01T00:00:00.000Z';
    const refused = await promote('1.0.4-hc2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'was deprecated at 2026-03-01T00:00:00.000Z (--force points the channel at it anyway)',
    );
    expect(writes()).toEqual([]);
    expect((await promote('1.0.4-hc2', 'stable', ['--force'])).code).toBe(0);
    expect(channel('us-east-1').version).toBe('1.0.4-hc2');
  });

  it('a failing region is reported by name; the others move; a rerun converges and still rolls back to the first version', async () => {
    expect((await promote('1.0.4-hc1')).code).toBe(0);
    world.failures.set(
      'us-west-1/PutParameter',
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
    );
    const failed = await promote('1.0.4-hc2');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('✖ us-west-1: ThrottlingException: Rate exceeded');
    expect(failed.stderr).toContain('Regions without ✔ still point at the old version');
    expect(channel('us-west-1').version).toBe('1.0.4-hc1');
    expect(channel('us-east-1').version).toBe('1.0.4-hc2');
    world.failures.clear();
    const rerun = await promote('1.0.4-hc2');
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const region of REGIONS) expect(channel(region).version).toBe('1.0.4-hc2');
    expect(rerun.stdout).toContain('To roll back: bro promote aws-k8s-1.18 --version 1.0.4-hc1 --to stable');
  });

  it('without infra.ssm-prefix there are no channels: a configuration error (exit 2)', async () => {
    writeFileSync(join(w.project, 'variants', 'aws-k8s-1.18.toml'), variantToml({ prefix: null }));
    const result = await promote('1.0.4-hc2');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('infra.ssm-prefix is not set');
  });
});

describe('bro prune', () => {
  beforeEach(async () => {
    await addBuilds(world, w.work, 4);
    expect((await promote('1.0.4-hc1')).code).toBe(0);
    world.calls.length = 0;
  });

  it('plans first: keeps the newest, keeps what a channel points to (naming it), removes nothing without --yes', async () => {
    const plan = await prune(['--keep', '2']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('a dry run: rerun with --yes');
    for (const region of REGIONS) {
      expect(plan.stdout).toContain(
        `keep    ${region} ${amiOf('1.0.4-hc1', region)} (1.0.4-hc1): a channel points to it: ${names('stable').imageId}`,
      );
      expect(plan.stdout).toContain(
        `remove  ${region} ${amiOf('1.0.4-hc2', region)} (1.0.4-hc2): DeregisterImage, then DeleteSnapshot`,
      );
      expect(plan.stdout).not.toContain(amiOf('1.0.4-hc3', region));
    }
    expect(writes()).toEqual([]);
  });

  it('--yes removes the unpromoted older build: parameters, the AMI, then its snapshots; a rerun has nothing to do', async () => {
    const snapshots = world.image('us-east-1', amiOf('1.0.4-hc2', 'us-east-1')).snapshots;
    const result = await prune(['--keep', '2', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    for (const region of REGIONS) {
      expect(world.hasImage(region, amiOf('1.0.4-hc2', region))).toBe(false);
      expect(world.parameter(region, names('1.0.4-hc2').imageId)).toBeUndefined();
      for (const n of [1, 3, 4]) expect(world.hasImage(region, amiOf(`1.0.4-hc${n}`, region))).toBe(true);
      expect(channel(region).version).toBe('1.0.4-hc1');
      // Each region: the image is gone before the first snapshot is deleted.
      const order = world.calls.filter((c) => c.region === region).map((c) => c.action);
      expect(order.lastIndexOf('DeregisterImage')).toBeLessThan(order.indexOf('DeleteSnapshot'));
    }
    for (const s of snapshots) expect(world.hasSnapshot('us-east-1', s)).toBe(false);
    world.calls.length = 0;
    const again = await prune(['--keep', '2', '--yes']);
    expect(again.code).toBe(0);
    expect(writes()).toEqual([]);
  });

  it("never an AMI that is not bro's own: another account's, or one without bro:patch-series", async () => {
    world.image('us-west-1', amiOf('1.0.4-hc2', 'us-west-1')).owner = '999999999999';
    world.image('us-east-1', amiOf('1.0.4-hc2', 'us-east-1')).tags.delete('bro:patch-series');
    const result = await prune(['--keep', '2', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('owned by 999999999999');
    expect(result.stdout).toContain('no bro:patch-series tag');
    expect(world.hasImage('us-west-1', amiOf('1.0.4-hc2', 'us-west-1'))).toBe(true);
    expect(world.hasImage('us-east-1', amiOf('1.0.4-hc2', 'us-east-1'))).toBe(true);
    expect(world.hasImage('ap-northeast-1', amiOf('1.0.4-hc2', 'ap-northeast-1'))).toBe(false);
  });

  it('a snapshot EC2 still reports in use is not deleted: the region is reported, a rerun finishes once it is free', async () => {
    const shared = world.image('us-west-1', amiOf('1.0.4-hc2', 'us-west-1')).snapshots[0]!;
    // Someone made another AMI from the same snapshot.
    world.register('us-west-1', 'ami-0000000000000abcd', builtImage('hand-made', { snapshots: [shared] }));
    const failed = await prune(['--keep', '2', '--yes']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `✖ us-west-1: us-west-1: ${shared} of ${amiOf('1.0.4-hc2', 'us-west-1')} is still in use`,
    );
    expect(failed.stderr).toContain('✔ us-east-1');
    expect(world.hasSnapshot('us-west-1', shared)).toBe(true);
    world.operations.ec2.DeregisterImage('us-west-1', { ImageId: 'ami-0000000000000abcd' });
    const rerun = await prune(['--keep', '2', '--yes']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.hasSnapshot('us-west-1', shared)).toBe(false);
  });

  it('--keep 0 is a usage error (exit 2) that says what --keep protects', async () => {
    const result = await prune(['--keep', '0', '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--keep 0: keep at least 1');
    expect(result.stderr).toContain('protects the N newest builds');
    expect(world.calls).toEqual([]);
  });
});

describe('records in the state file are parsed, not trusted', () => {
  const statePath = () => join(w.work, '.bro', 'state.json');
  /** Changes one record's outputs by hand, as a bad edit or a bug would leave them. */
  const corrupt = (id: string, change: (outputs: Record<string, unknown>) => void) => {
    const state = JSON.parse(readFileSync(statePath(), 'utf8')) as {
      steps: Record<string, { outputs: Record<string, unknown> }>;
    };
    change((state.steps[id] ??= { ...state.steps[`release:1.0.4-hc1`]!, outputs: {} }).outputs);
    writeFileSync(statePath(), JSON.stringify(state));
  };
  const refused = (result: { code: number; stderr: string }, id: string, field: string) => {
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      `${statePath()}: is corrupted: the outputs recorded for ${id} have an unexpected shape at ${field}`,
    );
    expect(result.stderr).toContain(`Fix or remove the "${id}" entry under "steps" in ${statePath()}`);
  };

  beforeEach(async () => {
    await addBuilds(world, w.work, 3);
    expect((await promote('1.0.4-hc1')).code).toBe(0);
    world.calls.length = 0;
  });

  it('a channel record with a wrong shape: promote and prune refuse it (exit 2), naming the file, the record and the field', async () => {
    corrupt('channel:stable:us-west-1', (c) => ((c.to as Record<string, unknown>).imageId = 42));
    refused(await promote('1.0.4-hc2'), 'channel:stable:us-west-1', 'to.imageId');
    refused(await prune(['--keep', '1', '--yes']), 'channel:stable:us-west-1', 'to.imageId');
    expect(writes()).toEqual([]);
    expect(channel('us-west-1').version).toBe('1.0.4-hc1');
  });

  it('a release record with a wrong shape: prune refuses it (exit 2) and removes nothing', async () => {
    corrupt('release:1.0.4-hc2', (r) => ((r.regions as Record<string, unknown>)['us-east-1'] = { imageId: 'ami-1' }));
    refused(await prune(['--keep', '1', '--yes']), 'release:1.0.4-hc2', 'regions.us-east-1.snapshotIds');
    expect(writes()).toEqual([]);
  });

  it('a removal record with a wrong shape: prune refuses it (exit 2) and removes nothing', async () => {
    corrupt('prune:1.0.4-hc2:us-east-1', (p) => Object.assign(p, { imageId: amiOf('1.0.4-hc2', 'us-east-1') }));
    refused(await prune(['--keep', '1', '--yes']), 'prune:1.0.4-hc2:us-east-1', 'snapshotIds');
    expect(writes()).toEqual([]);
  });
});
