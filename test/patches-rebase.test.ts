import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitPlumbing } from '../src/adapters/git-plumbing.js';
import { Redactor } from '../src/adapters/redactor.js';
import { createRunner } from '../src/adapters/runner.js';
import type { CheckReport } from '../src/patches/check/check-report.js';
import { parseFormatPatch } from '../src/config/patch-file.js';
import { parseSeriesFile } from '../src/config/series.js';
import { runCli } from './helpers/cli.js';
import { git, removeDir, tempDir, writeFiles } from './helpers/git-fixtures.js';
import {
  FILES,
  makePatchedUpstream,
  makeSeriesProject,
  replaceLine,
  type PatchedUpstream,
} from './helpers/patch-fixtures.js';
import { sealedEnv } from './helpers/env.js';

let upstream: PatchedUpstream;
let project: string;
let cache: string;
let work: string;
beforeEach(() => {
  upstream = makePatchedUpstream();
  project = makeSeriesProject(upstream);
  cache = tempDir('bro-patches-cache-');
  work = tempDir('bro-patches-work-');
});
afterEach(() => {
  for (const dir of [upstream.root, project, cache, work]) removeDir(dir);
});

const env = () => ({ BRO_BOTTLEROCKET_URL: upstream.repo });
const dirs = () => ['--project-dir', project, '--work-dir', work];
const rebase = (...args: string[]) => runCli(['patches', 'rebase', ...dirs(), '--cache-dir', cache, ...args], env());
const refresh = (...args: string[]) => runCli(['patches', 'refresh', ...dirs(), ...args], env());
const check = (...args: string[]) =>
  runCli(['patches', 'check', '--project-dir', project, '--cache-dir', cache, ...args], env());
const workspace = () => join(work, 'rebase', 'bottlerocket');

function series(base: string): Record<string, string> {
  const dir = join(project, 'patches', 'bottlerocket', base);
  const names = parseSeriesFile('series', readFileSync(join(dir, 'series'), 'utf8'));
  return Object.fromEntries(names.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
}

async function statusesAt(tag: string): Promise<string[]> {
  const result = await check('--json', '--tags', tag);
  return (JSON.parse(result.stdout) as CheckReport).tags[0]!.patches.map((p) => p.status);
}

describe('bro patches rebase --onto, when no patch needs a hand', () => {
  it('writes the new series: upstreamed patches dropped, renamed files followed, unchanged patches byte-identical, headers kept', async () => {
    const result = await rebase('--onto', 'v1.1.0');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Wrote patches/bottlerocket/1.1.0/ (6 patches):');
    expect(result.stdout).toMatch(
      /0003-models-restart-containerd-when-its-config-changes\.patch +dropped: already upstream in v1\.1\.0/,
    );
    expect(result.stdout).toMatch(
      /0004-containerd-render-registry-auths\.patch +refreshed \(moved: packages\/containerd\/containerd-config-toml_aws-k8s → packages\/containerd\/containerd-config-toml_k8s\)/,
    );
    expect(result.stdout).toContain('Check it: bro patches check --source bottlerocket --tags v1.1.0');

    const before = upstream.series;
    const after = series('1.1.0');
    expect(Object.keys(after)).toEqual(Object.keys(before).filter((n) => !n.startsWith('0003')));
    // Files v1.1.0 did not touch: the very same bytes.
    for (const n of ['0002', '0005', '0006', '0007']) {
      const name = Object.keys(before).find((k) => k.startsWith(n))!;
      expect(after[name]).toBe(before[name]);
    }
    // Refreshed: new context and paths, same author, date, subject and message (Upstream-Status included).
    const name = Object.keys(before).find((k) => k.startsWith('0004'))!;
    expect(after[name]).not.toBe(before[name]);
    expect(after[name]).toContain(`diff --git a/${FILES.containerdRenamed} b/${FILES.containerdRenamed}`);
    const [old, now] = [parseFormatPatch(before[name]!), parseFormatPatch(after[name]!)];
    expect({ ...now, files: undefined }).toEqual({ ...old, files: undefined });
    expect(now.upstreamStatus).toBe('Inappropriate [test]');
    // No timestamps or signatures of this run.
    expect(after[name]).toMatch(/^From 0{40} Mon Sep 17 00:00:00 2001$/m);
    expect(after[name]).not.toMatch(/^-- $/m);
    // The series it came from is left as it was.
    expect(series('1.0.0')).toEqual(before);
  });

  it('after it, the check calls the new series clean at that tag', async () => {
    expect((await rebase('--onto', 'v1.1.0')).code).toBe(0);
    expect(await statusesAt('v1.1.0')).toEqual(['clean', 'clean', 'clean', 'clean', 'clean', 'clean']);
    expect((await check('--tags', 'v1.1.0')).code).toBe(0);
  });

  it('is deterministic: rebasing again gives the same bytes', async () => {
    await rebase('--onto', 'v1.1.0');
    const first = series('1.1.0');
    expect((await rebase('--onto', 'v1.1.0')).code).toBe(0);
    expect(series('1.1.0')).toEqual(first);
  });

  it('exports commits exactly as the series was written: onto its own base, every patch is unchanged', async () => {
    const result = await rebase('--onto', 'v1.0.0');
    expect(result.code).toBe(0);
    expect(result.stdout.match(/ unchanged$/gm)).toHaveLength(7);
    // And not just because the original bytes were kept: a fresh export gives them too.
    const plumbing = createGitPlumbing(createRunner({ dryRun: false, env: sealedEnv(), redactor: new Redactor() }));
    const exported = await plumbing.formatPatches(workspace(), upstream.tags['v1.0.0']!, {
      abbrev: 12,
      numbered: true,
    });
    expect(exported).toEqual(Object.values(upstream.series));
  });
});

describe('rebase → resolve → refresh → check', () => {
  it('stops at a real conflict with exact instructions, and the resolved rebase refreshes into a series the check calls clean', async () => {
    const stopped = await rebase('--onto', 'v1.0.2');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(
      `0002-kubelet-render-containerLogMaxSize.patch does not apply to v1.0.2: conflict in ${FILES.kubelet}.`,
    );
    expect(stopped.stderr).toContain(
      `The rebase stopped at 0002 (the 2nd of the 7 patches git am applies), in ${workspace()}. To finish it:`,
    );
    expect(stopped.stderr).toContain(`  cd ${workspace()}`);
    expect(stopped.stderr).toContain(`  git add ${FILES.kubelet}`);
    expect(stopped.stderr).toContain('  git am --continue');
    expect(stopped.stderr).toContain(
      `  bro patches refresh --source bottlerocket --work-dir ${work} --project-dir ${project}`,
    );
    // The workspace is at the conflict, with git's markers in the file.
    const conflicted = readFileSync(join(workspace(), FILES.kubelet), 'utf8');
    expect(conflicted).toContain('<<<<<<<');
    expect(git(workspace(), 'diff', '--name-only', '--diff-filter=U')).toBe(FILES.kubelet);
    // Nothing is written until the rebase is finished.
    expect(existsSync(join(project, 'patches', 'bottlerocket', '1.0.2'))).toBe(false);

    const early = await refresh();
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('is still stopped at patch 2 of 7');
    expect(early.stderr).toContain(`Resolve ${FILES.kubelet}, \`git add\` it and run \`git am --continue\` there`);
    const again = await rebase('--onto', 'v1.0.2');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('pass --restart to throw it away');

    // The user resolves: upstream's new line and the patch's block, both.
    const upstreamFile = git(upstream.repo, 'show', `v1.0.2:${FILES.kubelet}`);
    writeFiles(workspace(), {
      [FILES.kubelet]: `${replaceLine(upstreamFile, 'containerLogMaxSize: 10Mi', [
        'containerLogMaxSize: 10Mi',
        '{{#if settings.kubernetes.container-log-max-size}}',
        'containerLogMaxSize: {{settings.kubernetes.container-log-max-size}}',
        '{{/if}}',
      ])}\n`,
    });
    git(workspace(), 'add', FILES.kubelet);
    git(workspace(), 'am', '--continue');

    const refreshed = await refresh();
    expect(refreshed.stderr).toBe('');
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toMatch(/0002-kubelet-render-containerLogMaxSize\.patch +refreshed/);
    expect(refreshed.stdout).toContain('Check it: bro patches check --source bottlerocket --tags v1.0.2');
    expect(Object.keys(series('1.0.2'))).toHaveLength(7);

    expect(await statusesAt('v1.0.2')).toEqual(['clean', 'clean', 'clean', 'clean', 'clean', 'clean', 'clean']);
    expect((await check('--tags', 'v1.0.2')).code).toBe(0);
  });

  it('a patch to a file upstream deleted stops with what to run; `git am --skip` drops it and refresh says so', async () => {
    const stopped = await rebase('--onto', 'v1.0.5');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(
      `0005-models-wire-the-kube-reserved-generators.patch does not apply to v1.0.5: v1.0.5 deleted ${FILES.override}, which it changes.`,
    );
    expect(stopped.stderr).toContain(
      `  git rm ${FILES.override}    # leave it deleted; or \`git add\` it to keep the patch's version`,
    );
    expect(stopped.stderr).toContain('  git am --continue          # or `git am --skip` to drop the patch');
    git(workspace(), 'am', '--skip');
    const refreshed = await refresh();
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toMatch(
      /0005-models-wire-the-kube-reserved-generators\.patch +dropped: no commit in the rebase workspace has its subject/,
    );
    expect(Object.keys(series('1.0.5'))).toHaveLength(6);
    expect((await check('--tags', 'v1.0.5')).code).toBe(0);
  });

  it('names the patches it left out as already upstream (here a backport) when it stops at a conflict', async () => {
    const stopped = await rebase('--onto', 'v1.0.9');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(
      `0002-kubelet-render-containerLogMaxSize.patch does not apply to v1.0.9: conflict in ${FILES.kubelet}.`,
    );
    expect(stopped.stderr).toContain(
      `The rebase stopped at 0002 (the 2nd of the 6 patches git am applies), in ${workspace()}. Left out: 0003-models-restart-containerd-when-its-config-changes.patch (already upstream in v1.0.9). To finish it:`,
    );
  });

  it('--restart throws a stopped rebase away and starts again', async () => {
    expect((await rebase('--onto', 'v1.0.2')).code).toBe(1);
    const restarted = await rebase('--onto', 'v1.1.0', '--restart');
    expect(restarted.code).toBe(0);
    expect(readdirSync(join(project, 'patches', 'bottlerocket')).sort()).toEqual(['1.0.0', '1.1.0']);
  });

  it('refresh refuses to overwrite the series where it differs from what bro wrote (a comment in series, a Subject: edited by hand) unless --force', async () => {
    expect((await rebase('--onto', 'v1.1.0')).code).toBe(0);
    const dir = join(project, 'patches', 'bottlerocket', '1.1.0');
    const name = Object.keys(series('1.1.0'))[0]!;
    writeFileSync(join(dir, 'series'), `${readFileSync(join(dir, 'series'), 'utf8')}# reviewed by ops\n`);
    const edited = readFileSync(join(dir, name), 'utf8').replace(/^Subject: (.*)$/m, 'Subject: $1 (edited)');
    writeFileSync(join(dir, name), edited);

    const refused = await refresh();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('patches/bottlerocket/1.1.0/: was edited since bro patches refresh wrote it');
    expect(refused.stderr).toContain(`would overwrite ${name}, series`);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(join(dir, 'series'), 'utf8')).toContain('# reviewed by ops');
    expect(readFileSync(join(dir, name), 'utf8')).toBe(edited);

    // Unchanged since bro wrote it: refreshed again without a word.
    const forced = await refresh('--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(dir, 'series'), 'utf8')).not.toContain('# reviewed by ops');
    expect((await refresh()).code).toBe(0);
  });

  it('refresh refuses a series directory it did not write, unless it already holds the same patches', async () => {
    expect((await rebase('--onto', 'v1.1.0')).code).toBe(0);
    const dir = join(project, 'patches', 'bottlerocket', '1.1.0');
    const names = Object.keys(series('1.1.0'));
    writeFileSync(join(dir, 'series'), names.map((n) => `${n}\n`).join(''));
    expect((await refresh()).code).toBe(0);
    writeFileSync(
      join(dir, 'series'),
      names
        .slice(1)
        .map((n) => `${n}\n`)
        .join('') + `# ${names[0]}\n`,
    );
    const refused = await refresh();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('patches/bottlerocket/1.1.0/: was not written by bro patches refresh');
  });

  it('refresh without a rebase says how to start one', async () => {
    const result = await refresh();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No bottlerocket rebase to refresh');
    expect(result.stderr).toContain('bro patches rebase --source bottlerocket --onto <tag>');
  });

  it('--onto an unknown tag is a usage error', async () => {
    const result = await rebase('--onto', 'v7.0.0');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--onto v7.0.0:');
  });
});
