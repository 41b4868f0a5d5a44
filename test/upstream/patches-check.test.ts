import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro patches check` on the real release tags: the verdicts README.md states
// ("Verdicts on the real repositories"), per patch, as runs of tags.

interface TagResult {
  tag: string;
  ok: boolean;
  patches: { patch: string; status: string; moves?: { from: string; to: string }[] }[];
}
interface CheckReport {
  kind: string;
  schemaVersion: number;
  series: { patches: string[] };
  tags: TagResult[];
  ok: boolean;
}

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
  let bottlerocket: { code: number; report: CheckReport };
  let admin: { code: number; report: CheckReport };

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    const br = await world.bro('patches', 'check', '--source', 'bottlerocket', '--json');
    const ad = await world.bro('patches', 'check', '--source', 'admin-container', '--json');
    bottlerocket = { code: br.code, report: JSON.parse(br.stdout) };
    admin = { code: ad.code, report: JSON.parse(ad.stdout) };
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

  it('0002 conflicts up to v1.0.8 and is missing from v1.1.0 (the aws-k8s-1.15 model directory is gone)', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0002']).toEqual(['conflict v1.0.5..v1.0.8', `missing v1.1.0..${last}`]);
  });

  it('0004 is clean to v1.0.8, moved to containerd-config-toml_k8s from v1.1.0, missing from v1.15.0', () => {
    const r = runs(bottlerocket.report)['0004']!;
    expect(r[0]).toBe('clean v1.0.5..v1.0.8');
    expect(r[1]).toMatch(/^moved v1\.1\.0\.\./);
    expect(r[2]).toMatch(/^missing v1\.15\.0\.\./);
    expect(r).toHaveLength(3);
    expect(patchAt(bottlerocket.report, 'v1.1.0', '0004').moves?.map((m) => m.to)).toEqual([
      'packages/containerd/containerd-config-toml_k8s',
    ]);
  });

  it('0006 is clean at v1.0.5, needs fuzz at v1.0.6-7, conflicts from v1.0.8, is missing from v1.8.0', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0006']).toEqual([
      'clean v1.0.5..v1.0.5',
      'fuzz v1.0.6..v1.0.7',
      'conflict v1.0.8..v1.7.2',
      `missing v1.8.0..${last}`,
    ]);
  });

  it('0003 conflicts on schnauzer helpers.rs on every tag; 0005 and 0007 are blocked behind 0002', () => {
    const last = bottlerocket.report.tags.at(-1)!.tag;
    expect(runs(bottlerocket.report)['0003']).toEqual([`conflict v1.0.5..${last}`]);
    expect(runs(bottlerocket.report)['0005']).toEqual([`blocked v1.0.5..${last}`]);
    expect(runs(bottlerocket.report)['0007']).toEqual([`blocked v1.0.5..${last}`]);
  });

  it('admin container: 0001 conflicts from v0.6.0 (procps-ng on the same line), 0002 blocked behind it', () => {
    const { report, code } = admin;
    expect(code).toBe(1);
    const last = report.tags.at(-1)!.tag;
    expect(report.tags[0]!.tag).toBe('v0.6.0');
    expect(runs(report)['0001']).toEqual([`conflict v0.6.0..${last}`]);
    expect(runs(report)['0002']).toEqual([`blocked v0.6.0..${last}`]);
  });
});
