import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/patches/check/check-report.js';
import { makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro patches check` on the real release tags: the verdicts, per patch, as runs of tags; what
// upstream has of each patch in its own form, read from its files at each tag;
// and the way forward. The series of v1.0.4 and v0.5.2 (--series), whichever
// series are newer.

/** Per patch number ("0002"), the runs of consecutive tags with one status: "conflict v1.0.5..v1.0.8". */
function runs(report: CheckReport): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of report.series.patches) {
    const list: { status: string; from: string; to: string }[] = [];
    for (const t of report.tags) {
      const status = t.patches.find((p) => p.patch === name)!.status;
      const last = list[list.length - 1];
      if (last && last.status === status) last.to = t.tag;
      else list.push({ status, from: t.tag, to: t.tag });
    }
    out[name.slice(0, 4)] = list.map((r) => `${r.status} ${r.from}..${r.to}`);
  }
  return out;
}

const patchAt = (report: CheckReport, tag: string, number: string) =>
  report.tags.find((t) => t.tag === tag)!.patches.find((p) => p.patch.startsWith(number))!;

describe.skipIf(skipsUpstream())('bro patches check on the real release tags', () => {
  let world: World;
  let bottlerocket: { code: number; report: CheckReport; stderr: string };
  let admin: { code: number; report: CheckReport; stderr: string };

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    // The series these verdicts are about, alone: newer ones (the upgrade's) are checked against newer tags.
    for (const [source, keep] of [
      ['bottlerocket', '1.0.4'],
      ['admin-container', '0.5.2'],
    ] as const) {
      const dir = join(world.project, 'patches', source);
      for (const base of readdirSync(dir)) if (base !== keep) rmSync(join(dir, base), { recursive: true, force: true });
    }
    const br = await world.bro('patches', 'check', '--source', 'bottlerocket', '--series', '1.0.4', '--json');
    const ad = await world.bro('patches', 'check', '--source', 'admin-container', '--series', '0.5.2', '--json');
    bottlerocket = { code: br.code, report: JSON.parse(br.stdout), stderr: br.stderr };
    admin = { code: ad.code, report: JSON.parse(ad.stdout), stderr: ad.stderr };
  });
  afterAll(() => world?.dispose());

  it('checks every vX.Y.Z release tag after v1.0.4, in version order, and exits 1 (patches need work)', () => {
    const { report, code } = bottlerocket;
    expect(report.kind).toBe('bro.patches.check');
    expect(code).toBe(1);
    const tags = report.tags.map((t) => t.tag);
    expect(tags[0]).toBe('v1.0.5');
    expect(tags).toContain('v1.26.0');
    expect(tags.every((t) => /^v\d+\.\d+\.\d+$/.test(t))).toBe(true);
    const key = (t: string) => t.slice(1).split('.').map(Number);
    const sorted = [...tags].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    });
    expect(tags).toEqual(sorted);
  });

  it('0001 (a backport of a9e16170) is upstreamed on every tag', () => {
    expect(runs(bottlerocket.report)['0001']).toEqual([`upstreamed v1.0.5..${bottlerocket.report.tags.at(-1)!.tag}`]);
  });

  it('no warning at the base: the series applies to v1.0.4 as it is (0005 on top of the de.rs 0002 creates)', () => {
    expect(bottlerocket.report.warnings).toEqual([]);
    expect(bottlerocket.stderr).not.toContain('at its own base');
  });

  it('0002 conflicts up to v1.0.8, is missing from v1.1.0, and is replaced by settings.container-registry.credentials from v1.6.2', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0002']).toEqual([
      'conflict v1.0.5..v1.0.8',
      'missing v1.1.0..v1.6.1',
      `replaced v1.6.2..${last}`,
    ]);
    const advice = bottlerocket.report.advice![1]!;
    expect(advice).toMatchObject({ kind: 'drop', since: 'v1.6.2' });
    expect(advice.text).toContain(
      "`settings.cri-registry-auths` (v1.6.2): upstream's `settings.container-registry.credentials` (our `name` is its `registry`)",
    );
  });

  it('0004 is clean to v1.0.8, moved to containerd-config-toml_k8s from v1.1.0, missing from v1.15.0; upstream renders the same table from v1.6.2, without our escaping', () => {
    const r = runs(bottlerocket.report)['0004']!;
    expect(r[0]).toBe('clean v1.0.5..v1.0.8');
    expect(r[1]).toMatch(/^moved v1\.1\.0\.\./);
    expect(r[2]).toMatch(/^missing v1\.15\.0\.\./);
    expect(r).toHaveLength(3);
    expect(patchAt(bottlerocket.report, 'v1.1.0', '0004').moves?.map((m) => m.to)).toEqual([
      'packages/containerd/containerd-config-toml_k8s',
    ]);
    const advice = bottlerocket.report.advice![3]!;
    expect(advice).toMatchObject({ kind: 'port', since: 'v1.6.2' });
    expect(advice.text).toContain('renders the same lines from `settings.container-registry.credentials`');
    expect(advice.text).toContain('`password = "{{{password}}}"`');
    expect(advice.text).toContain('ours escapes them with `toml_encode`');
  });

  it('0006 is clean at v1.0.5, needs fuzz at v1.0.6-7, conflicts from v1.0.8, is missing from v1.8.0; upstream renders all of it but feature-gates', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0006']).toEqual([
      'clean v1.0.5..v1.0.5',
      'fuzz v1.0.6..v1.0.7',
      'conflict v1.0.8..v1.7.2',
      `missing v1.8.0..${last}`,
    ]);
    expect(bottlerocket.report.advice![5]!.text).toContain(
      'Upstream has no equivalent of `settings.kubernetes.feature-gates` rendered in `kubelet-config`',
    );
  });

  it('0003 conflicts until upstream has its own toml_encode (v1.22.0); 0005 is blocked behind 0002 and partly upstream; 0007 is replaced by the kube_reserve helpers from v1.0.8', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0003']).toEqual(['conflict v1.0.5..v1.21.1', `replaced v1.22.0..${last}`]);
    expect(runs(bottlerocket.report)['0005']).toEqual([`blocked v1.0.5..${last}`]);
    expect(bottlerocket.report.advice![4]).toMatchObject({ kind: 'port', since: 'v1.2.0' });
    expect(bottlerocket.report.advice![4]!.text).toContain(
      'Upstream has no equivalent of `settings.kubernetes.feature-gates`',
    );
    expect(runs(bottlerocket.report)['0007']).toEqual(['blocked v1.0.5..v1.0.7', `replaced v1.0.8..${last}`]);
    expect(bottlerocket.report.advice![6]!.text).toContain("with upstream's `kube_reserve_cpu` helper");
  });

  it('the way forward: v1.7.2 is the last tag that ships aws-k8s-1.18 (aws-k8s-1.19 follows it), with admin container v0.8.0, and 4 patches left', () => {
    expect(bottlerocket.report.forward).toMatchObject({
      tag: 'v1.7.2',
      variant: 'aws-k8s-1.18',
      leaves: { tag: 'v1.8.0', successor: 'aws-k8s-1.19' },
      adminVersion: '0.8.0',
      command: 'bro upgrade aws-k8s-1.18 --to v1.7.2',
      carries: 4,
    });
    expect(bottlerocket.report.forward!.patches.map((p) => p.action)).toEqual([
      'drop',
      'drop',
      'stop',
      'port',
      'port',
      'port',
      'drop',
    ]);
  });

  it('admin container: 0001 conflicts from v0.6.0 and is partly upstream (procps-ng; netstat never), 0002 is replaced from v0.7.2 (EC2 Instance Connect from user data)', () => {
    const { report, code } = admin;
    expect(code).toBe(1);
    const last = report.tags.at(-1)!.tag;
    expect(report.tags[0]!.tag).toBe('v0.6.0');
    expect(runs(report)['0001']).toEqual([`conflict v0.6.0..${last}`]);
    expect(runs(report)['0002']).toEqual(['blocked v0.6.0..v0.7.1', `replaced v0.7.2..${last}`]);
    expect(report.advice![0]).toMatchObject({ kind: 'port', since: 'v0.6.0' });
    expect(report.advice![0]!.text).toContain('Upstream has no equivalent of package `net-tools`');
    expect(report.advice![1]).toMatchObject({ kind: 'drop', since: 'v0.7.2' });
    expect(report.advice![1]!.text).toContain(
      'set `ssh.authorized-keys-command = "/opt/aws/bin/eic_run_authorized_keys %u %f"` in the admin container\'s user data',
    );
    expect(report.advice![1]!.text).toContain('`ssh.authorized-keys-command-user = "ec2-instance-connect"`');
  });

  it('both series at once: the admin container goes to the version v1.7.2 defaults to, carrying one patch', async () => {
    const both = await world.bro('patches', 'check', '--no-fetch', '--format', 'markdown');
    expect(both.stdout).toContain(
      '**v1.7.2 is the newest release that still ships `aws-k8s-1.18` (its admin container: v0.8.0).**',
    );
    expect(both.stdout).toContain('**v0.8.0 is the admin container Bottlerocket v1.7.2 defaults to.**');
    expect(both.stdout).toContain('There the series carries 1 of its 3 patches (2 dropped).');
  });
});
