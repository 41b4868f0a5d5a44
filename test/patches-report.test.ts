import MarkdownIt from 'markdown-it';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport, Equivalent, TagResult } from '../src/patches/check/check-report.js';
import { addedSettings, findUpstreamSettings } from '../src/patches/check/find-upstream-settings.js';
import { formatHtml } from '../src/patches/report/format-html.js';
import { formatMarkdown, SYMBOL } from '../src/patches/report/format-markdown.js';
import { toSeriesPatch } from '../src/patches/load-series.js';
import { recommend } from '../src/patches/check/recommend.js';
import { runCli } from './helpers/cli.js';
import {
  commitAll,
  git,
  initRepo,
  makePatch,
  makeProject,
  makeUpstream,
  removeDir,
  scratchDirs,
  writeFiles,
  writeSeries,
} from './helpers/git-fixtures.js';
import { makePatchedUpstream, RELEASES_AFTER_BASE, type PatchedUpstream } from './helpers/patch-fixtures.js';

let upstream: PatchedUpstream;
let admin: ReturnType<typeof makeUpstream>;
/** A project with a series for both sources. */
let project: string;
const dirs = scratchDirs();
const scratch = dirs.make;

beforeAll(() => {
  upstream = makePatchedUpstream();
  admin = makeUpstream();
  project = makeProject(admin);
  writeSeries(project, 'bottlerocket', '1.0.0', upstream.series);
  const repo = admin.adminContainer;
  const sshd = 'PasswordAuthentication no\nAuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f\n';
  writeSeries(project, 'admin-container', '0.5.2', {
    '0001-sshd-use-EC2-Instance-Connect.patch': makePatch(repo, admin.adminCommit, 'sshd: use EC2 Instance Connect', {
      sshd_config: sshd,
    }),
  });
  git(repo, 'checkout', '--quiet', admin.adminCommit);
  writeFiles(repo, { VERSION: 'v0.6.0\n', sshd_config: sshd });
  commitAll(repo, 'v0.6.0');
  git(repo, 'tag', '-a', '-m', 'v0.6.0', 'v0.6.0');
});
afterAll(() => {
  for (const dir of [upstream.root, admin.root, project]) removeDir(dir);
  dirs.removeAll();
});

// The admin container's URL is the variant's; BRO_* from the developer's shell must not change it.
const env = () => ({ BRO_BOTTLEROCKET_URL: upstream.repo, BRO_ADMIN_CONTAINER_URL: '' });
const check = (...args: string[]) =>
  runCli(['patches', 'check', '--project-dir', project, '--cache-dir', scratch('bro-cache-'), ...args], env());

describe('bro patches check with no --source', () => {
  it('checks every source with a series: one JSON document per source, one per line, each of schema 2; the exit code is the worst', async () => {
    const result = await check('--json');
    const docs = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as CheckReport);
    expect(docs.map((d) => [d.schemaVersion, d.kind, d.source])).toEqual([
      [2, 'bro.patches.check', 'bottlerocket'],
      [2, 'bro.patches.check', 'admin-container'],
    ]);
    expect(docs[1]!.tags.map((t) => [t.tag, t.patches.map((p) => p.status)])).toEqual([['v0.6.0', ['upstreamed']]]);
    expect(result.code).toBe(1);
    const text = await check();
    expect(text.stdout).toContain('bottlerocket series 1.0.0 (7 patches) against 11 tags');
    expect(text.stdout).toContain('admin-container series 0.5.2 (1 patches) against 1 tag');
  });

  it('a source that cannot be checked is an error (exit 2), and the other source is still reported', async () => {
    // An admin container without the base commit the variant names.
    const other = initRepo(`${scratch('bro-admin-')}/admin`);
    writeFiles(other, { VERSION: 'v0.5.2\n', sshd_config: 'x\n' });
    commitAll(other, 'v0.5.2');
    const result = await runCli(
      ['patches', 'check', '--json', '--project-dir', project, '--cache-dir', scratch('bro-cache-')],
      { BRO_BOTTLEROCKET_URL: upstream.repo, BRO_ADMIN_CONTAINER_URL: other },
    );
    expect(result.code).toBe(2);
    expect((JSON.parse(result.stdout) as CheckReport).source).toBe('bottlerocket');
    expect(result.stderr).toContain('admin-container: ');
  });

  it("options that name one upstream's refs need --source", async () => {
    const result = await check('--tags', 'v1.0.1');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--tags names refs of one upstream');
    expect(result.stderr).toContain('Add --source bottlerocket');
    expect((await check('--tags', 'v1.0.1', '--source', 'bottlerocket')).code).toBe(0);
  });
});

describe('the Markdown report', () => {
  it('renders, in a CommonMark/GFM renderer, a table per source: a row per tag, a column per patch, a symbol per status, and a legend', async () => {
    const result = await check('--format', 'markdown');
    const tokens = new MarkdownIt().parse(result.stdout, {});
    const tables = tokens.filter((t) => t.type === 'table_open');
    expect(tables).toHaveLength(2);
    const html = new MarkdownIt().render(result.stdout);
    const first = html.slice(html.indexOf('<table>'), html.indexOf('</table>'));
    const headers = [...first.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(headers).toEqual(['tag', '0001', '0002', '0003', '0004', '0005', '0006', '0007']);
    const rows = [...first.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
      .slice(1)
      .map((m) => [...m[1]!.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1]));
    expect(rows.map((r) => r[0])).toEqual([...RELEASES_AFTER_BASE]);
    expect(rows[0]).toEqual(['v1.0.1', `${SYMBOL.offset} +3`, ...Array(6).fill(`${SYMBOL.clean} clean`)]);
    expect(rows[1]![2]).toBe(`${SYMBOL.conflict} conflict`);
    expect(html).toContain(`${SYMBOL.blocked} blocked (an earlier patch failed)`);
    // What to do next, per patch, and the details of a conflict in a code block.
    expect(html).toContain('<h3>What to do next</h3>');
    expect(html).toContain('<li><strong>0001</strong> upstreamed in v0.6.0: drop it</li>');
    expect(html).toMatch(/<pre><code class="language-text">packages\/kubernetes-1\.18\/kubelet-config, hunk 1 of 1/);
  });

  it('escapes what Markdown would read as markup', () => {
    const report = fakeReport([
      {
        tag: 'v1.0.1',
        commit: 'c',
        ok: false,
        patches: [{ patch: '0001-a_b*c.patch', status: 'conflict', conflicts: [] }],
      },
    ]);
    report.warnings = ['a <b>bold</b> | pipe'];
    const html = new MarkdownIt().render(formatMarkdown([report]));
    expect(html).toContain('a &lt;b&gt;bold&lt;/b&gt; | pipe');
    expect(html).toContain('<code>0001-a_b*c.patch</code>');
  });
});

describe('the HTML report', () => {
  it('is one self-contained page: inline style, no script, nothing fetched; a row per tag with a class per status', async () => {
    const result = await check('--format', 'html');
    const html = result.stdout;
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|\ssrc=|url\(|@import/i);
    const first = html.slice(html.indexOf('<table class="matrix">'), html.indexOf('</table>'));
    const rows = [...first.matchAll(/<tr><th class="tag">([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(rows).toEqual(['tag', ...RELEASES_AFTER_BASE]);
    expect(first).toContain('<td class="s-conflict"');
    expect(html).toContain('<h2 id="admin-container">admin-container: 0 of 1 tags take the series as it is</h2>');
  });

  it('escapes text', () => {
    const report = fakeReport([
      {
        tag: 'v1.0.1',
        commit: 'c',
        ok: false,
        patches: [
          {
            patch: '0001-x.patch',
            status: 'conflict',
            conflicts: [
              { file: 'a', hunk: 1, hunks: 1, line: 1, expected: ['<script>alert(1)</script>'], found: null },
            ],
          },
        ],
      },
    ]);
    const html = formatHtml([report]);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('what to do next', () => {
  type Verdict = Omit<TagResult['patches'][number], 'patch'>;
  const tags = (...rows: [string, ...Verdict[]][]): TagResult[] => rows.map(([tag, ...patches]) => row(tag, patches));
  const row = (tag: string, patches: Verdict[]): TagResult => ({
    tag,
    commit: tag,
    ok: false,
    patches: patches.map((p, i) => ({ patch: `000${i + 1}-p.patch`, ...p })),
  });

  it('names the tag from which the newest verdict holds: upstreamed → drop, moved → rebase, conflict → by hand, blocked → the other first', () => {
    const advice = recommend(
      ['0001-p.patch', '0002-p.patch', '0003-p.patch', '0004-p.patch', '0005-p.patch'],
      tags(
        [
          'v1.0.1',
          { status: 'clean' },
          { status: 'clean' },
          { status: 'clean' },
          { status: 'conflict' },
          { status: 'clean' },
        ],
        [
          'v1.0.2',
          { status: 'upstreamed' },
          { status: 'moved', via: 'clean', moves: [{ from: 'a', to: 'b' }] },
          { status: 'conflict' },
          { status: 'conflict' },
          { status: 'offset' },
        ],
        [
          'v1.0.3',
          { status: 'upstreamed' },
          { status: 'moved', via: 'clean', moves: [{ from: 'a', to: 'b' }] },
          { status: 'conflict' },
          { status: 'blocked', blockedBy: ['0003-p.patch'] },
          { status: 'clean' },
        ],
      ),
    );
    expect(advice.map((a) => [a.kind, a.text])).toEqual([
      ['drop', 'upstreamed in v1.0.2: drop it'],
      ['rebase', 'moved in v1.0.2 to `b`: `bro patches rebase` handles it'],
      ['hand', 'conflicts from v1.0.2: needs a hand rebase'],
      ['first', 'blocked from v1.0.3 by `0003-p.patch`: rebase that one first'],
      ['keep', 'applies as it is to v1.0.3: nothing to do'],
    ]);
  });

  it("says drop, naming upstream's setting and the tag that added it, when upstream has every part of the patch; port, naming what it lacks, when it has some", () => {
    const t = tags(['v1.0.1', { status: 'conflict' }], ['v1.0.2', { status: 'replaced', applies: 'conflict' }]);
    const found: Equivalent = {
      kind: 'setting',
      ours: '`settings.kubernetes.eviction-hard`',
      upstream: {
        tag: 'v1.0.2',
        what: 'upstream has its own, under the same key',
        key: 'settings.kubernetes.eviction-hard',
      },
    };
    expect(recommend(['0001-p.patch'], t, [[found]])[0]).toMatchObject({
      kind: 'drop',
      text: 'upstreamed in another form by v1.0.2: drop it. `settings.kubernetes.eviction-hard` (v1.0.2): upstream has its own, under the same key',
    });
    const partly = tags(['v1.0.1', { status: 'conflict' }], ['v1.0.2', { status: 'conflict' }]);
    const advice = recommend(['0001-p.patch'], partly, [
      [found, { kind: 'setting', ours: '`settings.kubernetes.feature-gates`' }],
    ])[0]!;
    expect(advice.kind).toBe('port');
    expect(advice.text).toContain('Upstream has no equivalent of `settings.kubernetes.feature-gates`');
  });
});

describe("settings a patch adds, and upstream's own", () => {
  const patch = toSeriesPatch(
    '0001-models-add.patch',
    [
      'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
      'Subject: [PATCH] models: add',
      '',
      '---',
      'diff --git a/sources/models/src/lib.rs b/sources/models/src/lib.rs',
      'index 1111111..2222222 100644',
      '--- a/sources/models/src/lib.rs',
      '+++ b/sources/models/src/lib.rs',
      '@@ -10,2 +10,9 @@ struct KubernetesSettings {',
      '     cluster_name: KubernetesClusterName,',
      '+    eviction_hard: HashMap<SingleLineString, SingleLineString>,',
      '+    pod_pids_limit: i64,',
      ' }',
      '+',
      '+#[model]',
      '+struct RegistryAuth {',
      '+    username: SingleLineString,',
      '+}',
      '',
    ].join('\n'),
  );

  it('reads the fields the patch adds to structs upstream has, not those of structs it adds', () => {
    expect(addedSettings(patch)).toEqual([
      {
        struct: 'KubernetesSettings',
        field: 'eviction_hard',
        file: 'sources/models/src/lib.rs',
        types: ['HashMap', 'SingleLineString', 'SingleLineString'],
      },
      { struct: 'KubernetesSettings', field: 'pod_pids_limit', file: 'sources/models/src/lib.rs', types: ['i64'] },
    ]);
  });

  it('finds the first tag whose model has each, with its key under Settings', async () => {
    const model = (fields: string) =>
      `#[model]\nstruct Settings {\n    kubernetes: KubernetesSettings,\n}\n#[model]\nstruct KubernetesSettings {\n    cluster_name: SingleLineString,\n${fields}}\n`;
    const blobs: Record<string, string> = {
      a: model(''),
      b: model('    eviction_hard: HashMap<SingleLineString, SingleLineString>,\n'),
    };
    const found = await findUpstreamSettings(
      addedSettings(patch),
      [
        { tag: 'v1.0.1', files: new Map([['sources/models/src/lib.rs', 'a']]) },
        { tag: 'v1.0.2', files: new Map([['sources/models/src/lib.rs', 'b']]) },
      ],
      async (blob) => blobs[blob],
    );
    expect(found).toEqual([{ field: 'eviction_hard', key: 'settings.kubernetes.eviction-hard', tag: 'v1.0.2' }]);
  });
});

function fakeReport(tags: TagResult[]): CheckReport {
  return {
    schemaVersion: 2,
    kind: 'bro.patches.check',
    source: 'bottlerocket',
    url: 'https://example.invalid/x.git',
    series: { base: '1.0.0', baseCommit: 'b', digest: 'd', patches: tags[0]!.patches.map((p) => p.patch) },
    tags,
    ok: false,
    warnings: [],
  };
}

describe('the history the check reads once', () => {
  it("without the base's own history, answers exactly for later commits and says when it cannot (a commit the base reaches)", async () => {
    const { createGitPlumbing } = await import('../src/adapters/git-plumbing.js');
    const { createRunner } = await import('../src/adapters/runner.js');
    const { Redactor } = await import('../src/adapters/redactor.js');
    const repo = initRepo(`${scratch('bro-history-')}/r`);
    const commit = (name: string) => {
      writeFiles(repo, { f: `${name}\n` });
      return commitAll(repo, name);
    };
    const old = commit('old');
    const base = commit('base');
    const fix = commit('fix');
    const tip = commit('tip');
    git(repo, 'checkout', '--quiet', '-b', 'release', base);
    const branch = commit('release');
    const plumbing = createGitPlumbing(createRunner({ dryRun: false, env: process.env, redactor: new Redactor() }));
    const area = await plumbing.open(`${repo}/.git`);
    try {
      const since = await area.history([tip, branch], { except: base });
      expect(since.containing(fix, [tip, branch])).toEqual(new Set([tip]));
      expect(since.containing(old, [tip, branch])).toBeUndefined();
      const whole = await area.history([tip, branch]);
      expect(whole.containing(old, [tip, branch])).toEqual(new Set([tip, branch]));
    } finally {
      await area.dispose();
    }
  });
});
