import { describe, expect, it } from 'vitest';
import { parseFormatPatch } from '../src/config/patch-file.js';
import { cell, formatCheck } from '../src/patches/report/format-check.js';
import type { CheckReport } from '../src/patches/check/check-report.js';
import { describeConflicts, locate } from '../src/patches/check/describe-conflict.js';
import { alreadyUpstream } from '../src/patches/check/find-upstreamed.js';
import { readApplyOutput } from '../src/patches/check/read-apply-output.js';
import { slug } from '../src/patches/rebase/refresh.js';
import { rewritePaths } from '../src/patches/rewrite-paths.js';

const PATCH = [
  'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
  'From: A <a@example.invalid>',
  'Subject: [PATCH] containerd: render auths',
  '',
  'Mentions diff --git a/old b/old in the message.',
  '---',
  ' packages/containerd/old | 2 +-',
  '',
  'diff --git a/packages/containerd/old b/packages/containerd/old',
  'index 0123456789ab..ba9876543210 100644',
  '--- a/packages/containerd/old',
  '+++ b/packages/containerd/old',
  '@@ -1,3 +1,3 @@',
  ' [grpc]',
  '--- a/packages/containerd/old',
  '+++ b/packages/containerd/old is a line of the file',
  ' address = "x"',
  '',
].join('\n');

describe('rewritePaths', () => {
  it('rewrites the header lines of a file change, and nothing in its hunks or message', () => {
    const out = rewritePaths(PATCH, new Map([['packages/containerd/old', 'packages/containerd/new']]));
    expect(out.split('\n').filter((l, i) => l !== PATCH.split('\n')[i])).toEqual([
      'diff --git a/packages/containerd/new b/packages/containerd/new',
      '--- a/packages/containerd/new',
      '+++ b/packages/containerd/new',
    ]);
    expect(parseFormatPatch(out).files[0]).toMatchObject({
      oldPath: 'packages/containerd/new',
      newPath: 'packages/containerd/new',
    });
  });
});

describe('readApplyOutput', () => {
  it("reads git apply -v's offsets, reduced context, failures and missing files, file by file", () => {
    const out = readApplyOutput(
      [
        'Checking patch a.txt...',
        'Hunk #2 succeeded at 40 (offset 3 lines).',
        'Hunk #3 succeeded at 50 (offset -1 line).',
        'Checking patch dir/old => dir/new...',
        'Context reduced to (2/2) to apply fragment at 8',
        'Checking patch b.txt...',
        'error: while searching for:',
        'x',
        'error: patch failed: b.txt:7',
        'error: b.txt: patch does not apply',
        'error: c.txt: does not exist in index',
        'error: d.txt: already exists in index',
        "Applied patch to 'e.txt' with conflicts.",
        'error: something else',
      ].join('\n'),
    );
    expect(out).toEqual({
      offsets: [
        { file: 'a.txt', hunk: 2, line: 40, offset: 3 },
        { file: 'a.txt', hunk: 3, line: 50, offset: -1 },
      ],
      fuzz: [{ file: 'dir/new', context: '2/2', line: 8 }],
      failedHunks: [{ file: 'b.txt', line: 7 }],
      absent: ['c.txt'],
      existing: ['d.txt'],
      conflicted: ['e.txt'],
      errors: ['something else'],
    });
  });
});

describe('locate', () => {
  it('finds where the expected lines fit best, nearest the line they were written for', () => {
    const lines = ['a', 'x', 'b', 'c', 'a', 'b', 'c', 'd'];
    expect(locate(lines, ['a', 'b', 'c'], 1)).toEqual({ line: 5, lines: ['a', 'b', 'c'] });
    expect(locate(lines, ['zz', 'b', 'c'], 8)).toEqual({ line: 5, lines: ['a', 'b', 'c'] });
    expect(locate(lines, ['q'], 3)).toEqual({ line: 3, lines: ['b'] });
  });
});

describe('describeConflicts', () => {
  const files = parseFormatPatch(
    ['diff --git a/f b/f', 'index 1..2 100644', '--- a/f', '+++ b/f', '@@ -3,2 +3,3 @@', ' y', ' z', '+added', ''].join(
      '\n',
    ),
  ).files;
  const failure = {
    offsets: [],
    fuzz: [],
    failedHunks: [{ file: 'f', line: 3 }],
    absent: [],
    existing: [],
    conflicted: [],
    errors: [],
  };

  it('says why git refused a hunk whose lines are all there: it must sit at the end of the file, and upstream added lines after them', async () => {
    const [conflict] = await describeConflicts(async () => 'w\nx\ny\nz\nupstream-added', files, failure);
    expect(conflict).toMatchObject({ file: 'f', hunk: 1, expected: ['y', 'z'], found: { line: 3, lines: ['y', 'z'] } });
    expect(conflict!.reason).toMatch(/no context after its change, so git applies it only at the end of the file/);
    expect(
      formatCheck({
        ...REPORT,
        tags: [
          {
            tag: 'v1',
            commit: 'c',
            ok: false,
            patches: [
              { patch: '0001-a.patch', status: 'conflict', conflicts: [conflict!] },
              { patch: '0002-b.patch', status: 'clean' },
            ],
          },
        ],
      }),
    ).toContain('                      these lines are there, but the hunk has no context after its change');
  });

  it('gives no reason when the lines are not all there', async () => {
    const [conflict] = await describeConflicts(async () => 'w\nx\ny\nchanged\n', files, failure);
    expect(conflict!.reason).toBeUndefined();
  });
});

describe('alreadyUpstream', () => {
  const patch = (hunk: string[]) => {
    const count = (c: string) => hunk.filter((l) => l[0] === ' ' || l[0] === c).length;
    return parseFormatPatch(
      [
        'diff --git a/f b/f',
        'index 1..2 100644',
        '--- a/f',
        '+++ b/f',
        `@@ -1,${count('-')} +1,${count('+')} @@`,
        ...hunk,
        '',
      ].join('\n'),
    ).files;
  };
  const read = (text: string) => async () => text;
  const change = patch([
    ' [services.containerd]',
    '-restart-commands = []',
    '+restart-commands = ["restart"]',
    ' ',
    ' [other]',
  ]);

  it('is true when the added lines are there, near where the hunk fits, and the lines they replaced are not', async () => {
    expect(
      await alreadyUpstream(
        change,
        read('[services.containerd]\nconfiguration-files = ["proxy-env"]\nrestart-commands = ["restart"]\n\n[other]'),
      ),
    ).toBe(true);
  });

  it('is false when the replaced line is still beside the added one, or the added line is not there', async () => {
    expect(
      await alreadyUpstream(
        change,
        read('[services.containerd]\nrestart-commands = []\nrestart-commands = ["restart"]\n\n[other]'),
      ),
    ).toBe(false);
    expect(await alreadyUpstream(change, read('[services.containerd]\nrestart-commands = ["other"]\n\n[other]'))).toBe(
      false,
    );
  });

  it('proves nothing with a change of blank lines or punctuation only', async () => {
    expect(await alreadyUpstream(patch([' a', '+}', '+', ' b']), read('a\n}\n\nb'))).toBe(false);
  });

  it('is false for a file that is not there', async () => {
    expect(await alreadyUpstream(change, async () => undefined)).toBe(false);
  });
});

describe('slug', () => {
  it('names a patch file as git format-patch does', () => {
    expect(slug('models: add settings.cri-registry-auths for private registries')).toBe(
      'models-add-settings.cri-registry-auths-for-private-r',
    );
    expect(slug('...')).toBe('patch');
  });
});

const REPORT: CheckReport = {
  schemaVersion: 2,
  kind: 'bro.patches.check',
  source: 'bottlerocket',
  url: 'https://example.invalid/bottlerocket.git',
  series: { base: '1.0.0', baseCommit: 'c'.repeat(40), digest: 'sha256:x', patches: ['0001-a.patch', '0002-b.patch'] },
  tags: [],
  ok: false,
  warnings: [],
};

describe('formatCheck', () => {
  const report: CheckReport = {
    ...REPORT,
    tags: ['v1.0.1', 'v1.0.2', 'v1.0.3'].map((tag, i) => ({
      tag,
      commit: String(i).repeat(40),
      ok: i === 0,
      patches: [
        { patch: '0001-a.patch', status: 'offset', offsets: [{ file: 'f', hunk: 1, line: 9, offset: -2 - i }] },
        i === 0
          ? { patch: '0002-b.patch', status: 'clean' }
          : { patch: '0002-b.patch', status: 'missing', missing: ['g'] },
      ],
    })),
  };

  it('prints one row per tag and one column per patch, and each run of the same verdict once', () => {
    const text = formatCheck(report);
    expect(text).toContain('tag     0001  0002\nv1.0.1  -2    clean\nv1.0.2  -3    missing\nv1.0.3  -4    missing\n');
    expect(text).toContain(
      '  0002-b.patch\n    v1.0.1            clean or offset\n    v1.0.2..v1.0.3    missing: g no longer exists upstream\n',
    );
    expect(text).not.toContain('  0001-a.patch\n    v1.0.1');
    expect(text).toContain('1 of 3 tags take the series as it is (clean or offset); 2 need work.');
  });

  it('shows an offset as the largest shift of its hunks', () => {
    expect(
      cell({
        patch: 'p',
        status: 'offset',
        offsets: [
          { file: 'f', hunk: 1, line: 1, offset: 2 },
          { file: 'f', hunk: 2, line: 9, offset: -5 },
        ],
      }),
    ).toBe('-5');
  });
});
