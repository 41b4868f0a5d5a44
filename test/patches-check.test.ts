import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapters } from '../src/adapters/index.js';
import type { CheckReport, PatchResult } from '../src/patches/check/check-report.js';
import { runCli, BRO_BIN } from './helpers/cli.js';
import {
  commitAll,
  git,
  initRepo,
  makePatch,
  makeProject,
  makeUpstream,
  removeDir,
  scratchDirs,
  tempDir,
  writeFiles,
  writeSeries,
} from './helpers/git-fixtures.js';
import {
  baseFiles,
  FILES,
  makePatchedUpstream,
  makeSeriesProject,
  RELEASES_AFTER_BASE,
  type PatchedUpstream,
} from './helpers/patch-fixtures.js';
import { PATH, sealedEnv } from './helpers/env.js';

let upstream: PatchedUpstream;
let project: string;
let cache: string;
const env = () => ({ BRO_BOTTLEROCKET_URL: upstream.repo });
/** Temporary directories the tests make, removed after them. */
const dirs = scratchDirs();
const scratch = dirs.make;

beforeAll(() => {
  upstream = makePatchedUpstream();
  project = makeSeriesProject(upstream);
  cache = tempDir('bro-patches-cache-');
});
afterAll(() => {
  for (const dir of [upstream.root, project, cache]) removeDir(dir);
  dirs.removeAll();
});

const check = (...args: string[]) =>
  runCli(['patches', 'check', '--project-dir', project, '--cache-dir', cache, ...args], env());

async function report(...args: string[]): Promise<CheckReport> {
  const result = await check('--json', ...args);
  expect(result.stderr).not.toContain('✖');
  return JSON.parse(result.stdout) as CheckReport;
}

/** The status of every patch at one tag, by patch number. */
async function statuses(tag: string): Promise<Record<string, PatchResult>> {
  const doc = await report('--tags', tag);
  return Object.fromEntries(doc.tags[0]!.patches.map((p) => [p.patch.slice(0, 4), p]));
}

describe('bro patches check: one status per patch, per tag', () => {
  it('(a) a patch that drifts is offset, and says by how many lines; the tag passes (exit 0)', async () => {
    const at = await statuses('v1.0.1');
    expect(at['0001']).toMatchObject({ status: 'offset', offsets: [{ file: FILES.lib, hunk: 1, offset: 3 }] });
    for (const n of ['0002', '0003', '0004', '0005', '0006', '0007']) expect(at[n]!.status).toBe('clean');
    expect((await check('--tags', 'v1.0.1')).code).toBe(0);
  });

  it('applies the patches in sequence: 0006 changes lines that 0002 adds, and is clean on top of it', async () => {
    // `git apply --check 0002 0006` would check 0006 against the tag alone, where its lines are not.
    const at = await statuses('v1.0.0');
    expect(Object.values(at).map((p) => p.status)).toEqual(Array(7).fill('clean'));
  });

  it('(b) a conflict names the file, the hunk, the lines expected and what upstream has there now', async () => {
    const at = await statuses('v1.0.2');
    expect(at['0002']!.status).toBe('conflict');
    const [conflict] = at['0002']!.conflicts!;
    expect(conflict).toMatchObject({ file: FILES.kubelet, hunk: 1, hunks: 1, line: 10 });
    // Lines 10-15 of the kubelet template at v1.0.0, which 0002 edits.
    expect(conflict!.expected).toEqual(baseFiles()[FILES.kubelet]!.split('\n').slice(9, 15));
    expect(conflict!.found!.line).toBe(10);
    expect(conflict!.found!.lines).toContain('containerLogMaxSize: 10Mi');
    expect(conflict!.found!.lines).toContain('runtimeRequestTimeout: 15m');
  });

  it('(f) a patch that builds on a failed one is blocked, and names it', async () => {
    const at = await statuses('v1.0.2');
    expect(at['0006']).toMatchObject({
      status: 'blocked',
      blockedBy: ['0002-kubelet-render-containerLogMaxSize.patch'],
    });
    // The patches that do not touch the failed patch's files are unaffected.
    expect(at['0007']!.status).toBe('clean');
  });

  it('(c) a patch upstream already has is upstreamed, not "clean with a three-way merge"', async () => {
    const at = await statuses('v1.0.3');
    expect(at['0003']!.status).toBe('upstreamed');
  });

  it('(c) a backport is upstreamed even when upstream also changed the lines around it', async () => {
    const at = await statuses('v1.0.8');
    expect(at['0003']!.status).toBe('upstreamed');
  });

  it('(c) a backport is upstreamed at a tag whose history has the upstream commit it names, even after upstream reworded it', async () => {
    const commit = /^Upstream-Status: Backport \[([0-9a-f]{40})\]$/m.exec(
      upstream.series['0003-models-restart-containerd-when-its-config-changes.patch']!,
    )?.[1];
    expect(commit).toBeDefined();
    const at = await statuses('v1.0.9');
    expect(at['0003']).toMatchObject({ status: 'upstreamed', backport: commit });
    // Its content alone proves nothing there: the restart line is now a multi-line array.
    expect(git(upstream.repo, 'show', `v1.0.9:${FILES.defaults}`)).not.toContain(
      'restart-commands = ["/bin/systemctl try-restart containerd.service"]',
    );
    expect(at['0002']!.status).toBe('conflict');
    const text = (await check('--tags', 'v1.0.9')).stdout;
    expect(text).toContain(
      `upstreamed: the tag has upstream commit ${commit}, which this patch backports; drop the patch`,
    );
  });

  it('a backport whose upstream commit the repository lacks is checked by content, with a warning', async () => {
    const other = scratch('bro-patches-project-');
    const series = { ...upstream.series };
    const name = '0003-models-restart-containerd-when-its-config-changes.patch';
    series[name] = series[name]!.replace(
      /^Upstream-Status: Backport \[[0-9a-f]+\]$/m,
      'Upstream-Status: Backport [0123456789abcdef]',
    );
    writeSeries(other, 'bottlerocket', '1.0.0', series);
    const result = await runCli(
      ['patches', 'check', '--json', '--tags', 'v1.0.3,v1.0.9', '--project-dir', other, '--cache-dir', cache],
      env(),
    );
    const doc = JSON.parse(result.stdout) as CheckReport;
    expect(doc.tags.map((t) => t.patches[2]!.status)).toEqual(['upstreamed', 'conflict']);
    expect(doc.warnings).toEqual([
      `${name} says it backports upstream commit 0123456789abcdef, which ${upstream.repo} does not have: it is checked by its content only.`,
    ]);
    expect(result.stderr).toContain('! 0003-models-restart-containerd-when-its-config-changes.patch says it backports');
  });

  it('(d) a patch to a file upstream renamed is moved, and names the new path', async () => {
    const at = await statuses('v1.0.4');
    expect(at['0004']).toMatchObject({
      status: 'moved',
      via: 'clean',
      moves: [{ from: FILES.containerd, to: FILES.containerdRenamed }],
    });
  });

  it("(d) a file renamed and then rewritten is followed through the renames in the tag's history", async () => {
    // The diff from the base alone sees a file deleted and an unrelated one added.
    expect(
      git(upstream.repo, 'diff', '--find-renames', '--name-status', 'v1.0.0', 'v1.0.10', '--', 'packages/containerd'),
    ).toBe(`D\t${FILES.containerd}\nA\t${FILES.containerdRenamed}`);
    const at = await statuses('v1.0.10');
    expect(at['0004']).toMatchObject({
      status: 'moved',
      via: 'offset',
      moves: [{ from: FILES.containerd, to: FILES.containerdRenamed }],
    });
  });

  it('(e) a patch to a file upstream deleted is missing, and names the file', async () => {
    const at = await statuses('v1.0.5');
    expect(at['0005']).toMatchObject({ status: 'missing', missing: [FILES.override] });
  });

  it('a hunk whose outer context changed is fuzz; one whose inner context changed applies only with a three-way merge', async () => {
    const fuzz = await statuses('v1.0.6');
    expect(fuzz['0007']).toMatchObject({ status: 'fuzz', fuzz: [{ file: FILES.pluto, context: '2/2' }] });
    const threeWay = await statuses('v1.0.7');
    expect(threeWay['0007']!.status).toBe('3way');
  });

  it('checks every release tag newer than the base by default, in version order, and exits 1 when any patch needs work', async () => {
    const result = await check();
    expect(result.code).toBe(1);
    const rows = result.stdout.split('\n').filter((l) => /^v\d/.test(l));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual([...RELEASES_AFTER_BASE]);
    expect(rows[1]!.split(/\s+/)).toEqual([
      'v1.0.2',
      'clean',
      'CONFLICT',
      'clean',
      'clean',
      'clean',
      'blocked',
      'clean',
    ]);
    expect(rows[0]!.split(/\s+/)).toEqual(['v1.0.1', '+3', 'clean', 'clean', 'clean', 'clean', 'clean', 'clean']);
    expect(result.stdout).toContain('0002-kubelet-render-containerLogMaxSize.patch');
    expect(result.stdout).toMatch(
      /v1\.0\.4 +moved: packages\/containerd\/containerd-config-toml_aws-k8s → packages\/containerd\/containerd-config-toml_k8s/,
    );
    expect(result.stdout).toContain('1 of 11 tags take the series as it is (clean or offset); 10 need work.');
  });

  it('--since takes a tag or a commit; --tags takes exactly the tags given', async () => {
    expect((await report('--since', 'v1.0.6')).tags.map((t) => t.tag)).toEqual([
      'v1.0.7',
      'v1.0.8',
      'v1.0.9',
      'v1.0.10',
      'v1.1.0',
    ]);
    expect((await report('--since', upstream.tags['v1.0.7']!)).tags.map((t) => t.tag)).toEqual([
      'v1.0.8',
      'v1.0.9',
      'v1.0.10',
      'v1.1.0',
    ]);
    expect((await report('--tags', 'v1.0.3,v1.0.1')).tags.map((t) => t.tag)).toEqual(['v1.0.3', 'v1.0.1']);
  });

  it('writes a versioned JSON document with the series and each tag', async () => {
    const doc = await report('--tags', 'v1.0.1');
    expect(doc).toMatchObject({
      schemaVersion: 2,
      kind: 'bro.patches.check',
      source: 'bottlerocket',
      url: upstream.repo,
      series: { base: '1.0.0', baseCommit: upstream.tags['v1.0.0'] },
      ok: true,
      warnings: [],
    });
    expect(doc.series.patches).toHaveLength(7);
    expect(doc.tags).toEqual([expect.objectContaining({ tag: 'v1.0.1', commit: upstream.tags['v1.0.1'], ok: true })]);
  });

  it('usage errors exit 2 and say what to do', async () => {
    const unknown = await check('--tags', 'v9.9.9');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--tags v9.9.9: ');
    expect(unknown.stderr).toContain('has no such tag or commit');
    expect(unknown.stderr).toContain('Its release tags run from v1.0.0 to v1.1.0.');
    expect((await check('--tags', 'v1.0.1', '--since', 'v1.0.0')).code).toBe(2);
    const empty = await check('--tags', ' , ');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--tags needs at least one tag or commit');
    const future = await check('--since', 'v9.9.9');
    expect(future.code).toBe(2);
    expect(future.stderr).toContain('--since v9.9.9: newer than every release tag of');
    expect(future.stderr).toContain('Its newest release tag is v1.1.0.');
    expect((await check('--source', 'linux')).code).toBe(2);
  });

  it('a project without a series for the source is a config error (exit 2)', async () => {
    const result = await check('--source', 'admin-container');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('patches/admin-container: has no patch series');
  });

  it('never shows the credentials of an upstream URL, in the report or in errors', async () => {
    const url = `file://bro:s3cret-token@localhost${upstream.repo}`;
    const run = (...args: string[]) =>
      runCli(['patches', 'check', '--project-dir', project, '--cache-dir', scratch('bro-cache-'), '--debug', ...args], {
        BRO_BOTTLEROCKET_URL: url,
      });
    const ok = await run('--json', '--tags', 'v1.0.1');
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as CheckReport).url).toBe(`file://***@localhost${upstream.repo}`);
    const bad = await run('--tags', 'v9.9.9');
    expect(bad.code).toBe(2);
    for (const text of [ok.stdout, ok.stderr, bad.stdout, bad.stderr]) expect(text).not.toContain('s3cret-token');
  });

  it('never touches the mirror: what applying patches writes stays in a scratch object directory', async () => {
    // A mirror of its own, made as bro makes it, to which no check has ever applied a patch: the
    // shared one already holds the blobs that earlier tests' checks would have written into it.
    const fresh = scratch('bro-patches-cache-');
    const { mirrors } = createAdapters({
      projectDir: project,
      cacheDir: fresh,
      dryRun: false,
      debug: false,
      env: sealedEnv(),
      stderr: process.stderr,
    });
    const { path: mirror } = await mirrors.ensure(upstream.repo);
    const objects = () => git(mirror, 'count-objects', '-v');
    const before = objects();
    const result = await runCli(
      ['patches', 'check', '--json', '--no-fetch', '--tags', 'v1.0.7', '--project-dir', project, '--cache-dir', fresh],
      env(),
    );
    // The check did apply the series (a three-way merge even writes merged blobs)...
    const doc = JSON.parse(result.stdout) as CheckReport;
    expect(doc.tags[0]!.patches.map((p) => p.status)).toEqual([...Array(6).fill('clean'), '3way']);
    // ...and not one object of it went into the mirror.
    expect(objects()).toBe(before);
  });
});

describe('bro patches check for the admin container (an untagged base)', () => {
  it("finds the base commit through the variant's ref and checks the newer release tags", async () => {
    const admin = makeUpstream();
    const adminProject = makeProject(admin);
    const adminCache = scratch('bro-patches-cache-');
    dirs.made.push(admin.root, adminProject);
    const repo = admin.adminContainer;
    const sshd = 'PasswordAuthentication no\nAuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f\n';
    const patch = makePatch(repo, admin.adminCommit, 'sshd: use EC2 Instance Connect', { sshd_config: sshd });
    writeSeries(adminProject, 'admin-container', '0.5.2', { '0001-sshd-use-EC2-Instance-Connect.patch': patch });
    // v0.6.0 gains the same change; v0.5.0 is older than the base and is not checked.
    git(repo, 'checkout', '--quiet', admin.adminCommit);
    writeFiles(repo, { VERSION: 'v0.6.0\n', sshd_config: sshd });
    commitAll(repo, 'v0.6.0');
    git(repo, 'tag', '-a', '-m', 'v0.6.0', 'v0.6.0');
    git(repo, 'tag', '-a', '-m', 'v0.5.0', 'v0.5.0', `${admin.adminCommit}~1`);
    const result = await runCli(
      [
        'patches',
        'check',
        '--source',
        'admin-container',
        '--json',
        '--project-dir',
        adminProject,
        '--cache-dir',
        adminCache,
      ],
      { BRO_ADMIN_CONTAINER_URL: '' },
    );
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout) as CheckReport;
    expect(doc.series.baseCommit).toBe(admin.adminCommit);
    expect(doc.tags.map((t) => [t.tag, t.patches.map((p) => p.status)])).toEqual([['v0.6.0', ['upstreamed']]]);
    expect(result.code).toBe(1);
  });

  it('without a tag or a ref for the base, says how to name it', async () => {
    const repo = initRepo(join(scratch('bro-untagged-'), 'admin'));
    writeFiles(repo, { VERSION: 'v0.5.2\n', sshd_config: 'PasswordAuthentication no\n' });
    commitAll(repo, 'v0.5.2');
    const lone = scratch('bro-patches-project-');
    const patch = makePatch(repo, 'HEAD', 'sshd: x', { sshd_config: 'PasswordAuthentication yes\n' });
    writeSeries(lone, 'admin-container', '0.5.2', { '0001-sshd-x.patch': patch });
    const result = await runCli(
      ['patches', 'check', '--source', 'admin-container', '--project-dir', lone, '--cache-dir', scratch('bro-cache-')],
      {
        BRO_ADMIN_CONTAINER_URL: repo,
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('names base 0.5.2, but');
    expect(result.stderr).toContain('Pass --base <commit>');
    const withBase = await runCli(
      [
        'patches',
        'check',
        '--source',
        'admin-container',
        '--base',
        'HEAD',
        '--allow-empty',
        '--project-dir',
        lone,
        '--cache-dir',
        scratch('bro-cache-'),
      ],
      {
        BRO_ADMIN_CONTAINER_URL: repo,
      },
    );
    expect(withBase.stdout).toContain('No tags to check');
    expect(withBase.code).toBe(0);
  });
});

describe('Ctrl-C during bro patches check', () => {
  it('stops git, removes the scratch area and exits 130', async () => {
    // A git on PATH that runs the real one, but hangs in `git apply --cached` after saying so.
    const bin = scratch('bro-bin-');
    const tmp = scratch('bro-tmp-');
    const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\ncase "$*" in *"apply --cached"*) echo started > "${join(bin, 'started')}"; sleep 30;; esac\nexec ${realGit} "$@"\n`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    const child = spawn(
      process.execPath,
      [BRO_BIN, 'patches', 'check', '--project-dir', project, '--cache-dir', cache],
      {
        env: sealedEnv({ ...env(), PATH: `${bin}:${PATH}`, TMPDIR: tmp }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !existsSync(join(bin, 'started')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(tmp).filter((d) => d.startsWith('bro-patches-'))).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('Interrupted');
    expect(readdirSync(tmp)).toEqual([]);
  });
});
