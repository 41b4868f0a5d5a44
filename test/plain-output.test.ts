import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWorld } from './helpers/build-world.js';
import { runCli, broArgv } from './helpers/cli.js';
import { makePatch, makeWorld, removeDir, writeSeries } from './helpers/git-fixtures.js';

/** Plain (CI) output: every fact once, in order. */
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

const count = (text: string, part: string) => text.split(part).length - 1;

/** A lock file left by a process that is gone. */
function staleLock(work: string): number {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  mkdirSync(join(work, '.bro'), { recursive: true });
  writeFileSync(join(work, '.bro/lock'), `${dead}\n`);
  return dead;
}

describe('plain output', () => {
  it('a patch that fails on a release without its own series: the fallback warning first, the conflict once, the stale lock once', async () => {
    const s = makeWorld(dirs);
    const bad = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: kubelet settings', {
      'sources/models/src/lib.rs':
        'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n    kube_reserved: Option<String>,\n}\n',
    }).replace(
      ' pub struct KubernetesSettings {\n     cluster_name',
      ' pub struct KubernetesSettings {\n     cluster_domain',
    );
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-kubelet-settings.patch': bad });
    const dead = staleLock(join(s.project, 'work/aws-k8s-1.18'));
    const { code, stderr, stdout } = await runCli(broArgv({ ...s, version: '1.0.5-hc1' }, '--dry-run', '--ci'));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lock = `Took over the workspace lock left by pid ${dead}`;
    const fallback = 'No bottlerocket patch series for 1.0.5; using the series for 1.0.4.';
    expect(count(stderr, lock)).toBe(1);
    expect(count(stderr, fallback)).toBe(1);
    // The conflict's details once, after the task list marked the step failed.
    expect(count(stderr, 'file sources/models/src/lib.rs, hunk 1 of 1')).toBe(1);
    expect(count(stderr, 'patch 0001-models-kubelet-settings.patch does not apply to v1.0.5')).toBe(1);
    expect(stderr).toMatch(/^\[FAILED\] \[\d\d:\d\d:\d\d\] Apply the patch series \[FAILED: see the error below\]$/m);
    // In order: the lock, the fallback (during the patch step), the failure, its details.
    const order = [
      lock,
      '[STARTED]',
      fallback,
      '[FAILED]',
      '✖ bottlerocket patch 0001-models-kubelet-settings.patch',
    ].map((p) => stderr.indexOf(p));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('a dry run that succeeds: each warning once over stderr and the plan', async () => {
    const s = makeWorld(dirs);
    const good = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'containerd: registry auths', {
      'packages/containerd/containerd-config-toml_aws-k8s':
        '[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "pause"\n\n# auths\n',
    });
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-containerd-registry-auths.patch': good });
    const dead = staleLock(join(s.project, 'work/aws-k8s-1.18'));
    const { code, stderr, stdout } = await runCli(broArgv({ ...s, version: '1.0.5-hc1' }, '--dry-run', '--ci'));
    expect(code, stderr).toBe(0);
    const both = stderr + stdout;
    expect(count(both, `Took over the workspace lock left by pid ${dead}`)).toBe(1);
    expect(count(both, 'No bottlerocket patch series for 1.0.5')).toBe(1);
    // Nothing after render ran: no line says it completed.
    expect(stderr).not.toMatch(/\[COMPLETED\].*(Admin image|OS image|AMI registered|Build and publish|Share|manifest)/);
    expect(stderr).not.toContain('Admin image in every region, AMI registered');
    // The JSON plan still carries every warning (a program reads it, not the log).
    const json = await runCli(broArgv({ ...s, version: '1.0.5-hc1' }, '--dry-run', '--json'));
    expect(JSON.parse(json.stdout).warnings).toEqual([
      expect.stringContaining('No bottlerocket patch series for 1.0.5'),
    ]);
  });

  it('skipped steps name their title once, with only the reason after it', async () => {
    const w = buildWorld();
    try {
      expect((await w.build()).code).toBe(0);
      const { code, stderr } = await w.build();
      expect(code).toBe(0);
      const skipped = stderr.split('\n').filter((l) => l.startsWith('[SKIPPED]'));
      expect(skipped.length).toBeGreaterThanOrEqual(6);
      for (const line of skipped) {
        const [, title, reason] = /^\[SKIPPED\] \[[\d:]+\] (.+?) \[SKIPPED: (.+)\]$/.exec(line) ?? [];
        expect(title, line).toBeTruthy();
        // Share verifies its grants in EC2 before it skips.
        expect(reason, line).toMatch(/^done \S+, inputs unchanged(, verified)?$/);
      }
    } finally {
      w.cleanup();
    }
  });
});

describe('a terminal that reports no width', () => {
  it('gets plain lines, not one character per line', async () => {
    const s = makeWorld(dirs);
    // listr2's interactive renderer wraps at the terminal's width, as stdout reports it.
    const saved = Object.getOwnPropertyDescriptor(process.stdout, 'columns');
    Object.defineProperty(process.stdout, 'columns', { value: 0, configurable: true });
    try {
      const { code, stderr } = await runCli(broArgv(s, '--dry-run'), {}, { stderrIsTTY: true, columns: 0 });
      expect(code, stderr).toBe(0);
      const lines = stderr.split('\n').filter((l) => l.trim());
      expect(lines.filter((l) => l.trim().length <= 1)).toEqual([]);
      expect(stderr).toMatch(/Resolve upstream refs/);
    } finally {
      if (saved) Object.defineProperty(process.stdout, 'columns', saved);
      else delete (process.stdout as { columns?: number }).columns;
    }
  });
});
