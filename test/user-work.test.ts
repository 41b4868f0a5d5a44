import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, broArgv } from './helpers/cli.js';
import { git, makePatch, makeWorld, removeDir, writeSeries } from './helpers/git-fixtures.js';

/** The user's own work in the workspace and in the patch series is never lost, and never trapped. */

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

function setup() {
  const world = makeWorld(dirs);
  const work = join(world.project, 'work', 'aws-k8s-1.18');
  const dryRun = (...more: string[]) => runCli(broArgv(world, '--dry-run', '--ci', ...more));
  const seriesDir = join(world.project, 'patches', 'bottlerocket', '1.0.4');
  return { ...world, work, dryRun, seriesDir };
}

const firstPatch = (s: ReturnType<typeof setup>) =>
  makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: first', { 'sources/first.txt': 'first\n' });

describe('a commit of the user, put into the series', () => {
  it('the advice gives the next patch number; doing what it says makes the rerun take the commit', async () => {
    const s = setup();
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-first.patch': firstPatch(s) });
    expect((await s.dryRun()).code).toBe(0);
    writeFileSync(join(s.br, 'Release.toml'), 'version = "1.0.4"\n# my fix\n');
    git(s.br, 'commit', '--quiet', '-am', 'my fix');

    const refused = await s.dryRun();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/commit not made by bro: [0-9a-f]{12} my fix/);
    const advice = /`git -C (\S+) format-patch -1 --start-number 2 -o (\S+)`/.exec(refused.stderr);
    expect(advice, refused.stderr).not.toBeNull();
    expect(advice?.[2]).toBe(s.seriesDir);

    // As the advice says: format-patch into the series, and list the new file.
    git(s.br, 'format-patch', '--quiet', '-1', '--start-number', '2', '-o', s.seriesDir);
    const made = readdirSync(s.seriesDir).filter((f) => f.startsWith('0002-'));
    expect(made).toEqual(['0002-my-fix.patch']);
    writeFileSync(join(s.seriesDir, 'series'), `0001-models-first.patch\n0002-my-fix.patch\n`);
    const taken = await s.dryRun();
    expect(taken.code, taken.stderr).toBe(0);
    expect(git(s.br, 'log', '--format=%s', '-n', '3').split('\n')).toContain('my fix');
    expect(readFileSync(join(s.br, 'Release.toml'), 'utf8')).toContain('# my fix');
  });
});

describe('the series file and its directory agree', () => {
  it('two patches with one number are refused, naming both', async () => {
    const s = setup();
    writeSeries(s.project, 'bottlerocket', '1.0.4', {
      '0001-models-first.patch': firstPatch(s),
      '0001-my-fix.patch': makePatch(s.upstream.bottlerocket, 'v1.0.4', 'my fix', { 'sources/fix.txt': 'fix\n' }),
    });
    const result = await s.dryRun();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"0001-my-fix.patch" has the number 0001 of "0001-models-first.patch"');
  });

  it('a patch file the series does not list is refused, unless a comment names it; listed files that are missing are named', async () => {
    const s = setup();
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-first.patch': firstPatch(s) });
    writeFileSync(join(s.seriesDir, '0002-forgotten.patch'), firstPatch(s));
    const unlisted = await s.dryRun();
    expect(unlisted.code).toBe(2);
    expect(unlisted.stderr).toContain('does not list 0002-forgotten.patch');

    writeFileSync(join(s.seriesDir, 'series'), '0001-models-first.patch\n# 0002-forgotten.patch: not yet\n');
    expect((await s.dryRun()).code).toBe(0);

    writeFileSync(join(s.seriesDir, 'series'), '0001-models-first.patch\n0003-a.patch\n0004-b.patch\n');
    const missing = await s.dryRun();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('lists 0003-a.patch, 0004-b.patch, which are not in its directory');
  });
});

describe('--discard-changes', () => {
  it('lists what it discards, saves it as a patch first, and says how to get it back', async () => {
    const s = setup();
    expect((await s.dryRun()).code).toBe(0);
    writeFileSync(join(s.br, 'Release.toml'), 'version = "1.0.4"\n# my commit\n');
    git(s.br, 'commit', '--quiet', '-am', 'my commit');
    writeFileSync(join(s.br, 'notes.txt'), 'keep me\n');

    const discarded = await s.dryRun('--discard-changes');
    expect(discarded.code, discarded.stderr).toBe(0);
    const output = discarded.stdout + discarded.stderr;
    expect(output).toContain('changed: notes.txt (untracked)');
    expect(output).toMatch(/commit not made by bro: [0-9a-f]{12} my commit/);
    const saved = /Saved first as (\S+);/.exec(output)?.[1];
    expect(saved, output).toMatch(/\.bro\/discarded\/[^/]+-bottlerocket\.patch$/);
    expect(existsSync(join(s.br, 'notes.txt'))).toBe(false);

    // The way back the message gives.
    const back = /to get it back after the build: (git -C \S+ am --3way \S+)/.exec(output)?.[1];
    expect(back).toBe(`git -C ${s.br} am --3way ${saved}`);
    git(s.br, 'am', '--quiet', '--3way', saved!);
    expect(readFileSync(join(s.br, 'notes.txt'), 'utf8')).toBe('keep me\n');
    expect(readFileSync(join(s.br, 'Release.toml'), 'utf8')).toContain('# my commit');
  });
});
