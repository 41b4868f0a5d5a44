import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro preview` of the real patched templates with user data whose kubelet settings contradict each
// other: the user's keys are named, with exit 2, not the patch series.

describe.skipIf(skipsUpstream())('bro preview blames the user data for its own contradictions', () => {
  let world: World;
  let example: string;
  const preview = async (name: string, replace: [RegExp, string][], ...args: string[]) => {
    const file = join(world.root, `${name}.toml`);
    writeFileSync(
      file,
      replace.reduce((text, [from, to]) => text.replace(from, to), example),
    );
    return world.preview('1.0.4-hc1', file, '--ci', '--work-dir', join(world.root, 'work'), ...args);
  };

  beforeAll(() => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    example = readFileSync(join(world.project, 'examples', 'user-data.toml'), 'utf8');
  });
  afterAll(() => world?.dispose());

  it('cpu-manager-policy = "static" with kube-reserved.cpu = "0": exit 2 naming both keys', async () => {
    const result = await preview('static-zero', [
      [/^cpu-manager-policy = .*$/m, 'cpu-manager-policy = "static"'],
      [/^\[settings\.kubernetes\.kube-reserved\]$/m, '[settings.kubernetes.kube-reserved]\ncpu = "0"'],
      [/^cpu = "100m"$/m, 'cpu = "0"'],
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      'settings.kubernetes.cpu-manager-policy = "static" with settings.kubernetes.kube-reserved.cpu = "0"',
    );
    expect(result.stderr).not.toContain('Fix the template in the patch series');
  });

  it('a topology manager policy with its feature gate off: exit 2 naming both keys', async () => {
    const result = await preview('gate-off', [
      [/^topology-manager-policy = .*$/m, 'topology-manager-policy = "best-effort"'],
      [/^TopologyManager = .*$/m, 'TopologyManager = false'],
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      'settings.kubernetes.topology-manager-policy = "best-effort" with settings.kubernetes.feature-gates.TopologyManager = false',
    );
  });

  it('kube-reserved above the CPUs the node has: exit 2, as kubelet refuses to start', async () => {
    const result = await preview('over', [
      [/^\[settings\.kubernetes\.kube-reserved\]$/m, '[settings.kubernetes.kube-reserved]\ncpu = "3"'],
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('settings.kubernetes.kube-reserved.cpu = "3"');
    expect(result.stderr).toContain('invalid Node Allocatable configuration');
  });
});
