/**
 * Benchmark: `bro patches check` (each patch at every tag at once: a few git
 * processes per patch, whatever the number of tags) against the naive way
 * (check out each tag in a work tree, then `git apply` each patch in order),
 * over the same series and tags, in this process run, through the same
 * runner: every tag since the base, and the first 12 of them. Then the whole
 * command as a user runs it (node started, warm mirror, --no-fetch), and
 * `bro --help`. Targets (2 cores): all tags ≥ 15× the naive way and the
 * command under 1 s; 12 tags ≥ 5×; --help under 150 ms.
 *
 *   node dist/bench/patches-check.js                  # synthetic upstream: 75 tags (no network)
 *   BRO_BOTTLEROCKET_URL=<local clone or mirror> node dist/bench/patches-check.js
 *                                                     # the real upstream and patches/bottlerocket/<newest>
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGitPlumbing } from '../src/adapters/git-plumbing.js';
import { createProject } from '../src/adapters/project.js';
import { Redactor } from '../src/adapters/redactor.js';
import { createRunner, type Runner } from '../src/adapters/runner.js';
import { seriesDigest, type Series } from '../src/config/series.js';
import { compareVersions } from '../src/config/version.js';
import { checkSeries } from '../src/patches/check/check-series.js';
import type { Target } from '../src/patches/check/check-report.js';
import { loadNewestSeries } from '../src/patches/load-series.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

interface Workload {
  what: string;
  gitDir: string;
  series: Series;
  base: Target;
  targets: Target[];
  /** The variant the project builds, for the way forward. */
  variant?: string;
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@x',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@x',
  GIT_CONFIG_NOSYSTEM: '1',
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();

function releaseTags(gitDir: string, newerThan: string): Target[] {
  return git(gitDir, 'for-each-ref', '--format=%(refname:strip=2) %(objectname) %(*objectname)', 'refs/tags')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([tag]) => /^v\d+\.\d+\.\d+$/.test(tag ?? '') && compareVersions(tag!, newerThan) > 0)
    .sort(([a], [b]) => compareVersions(a!, b!))
    .map(([tag, object, peeled]) => ({ tag: tag!, commit: peeled || object! }));
}

/**
 * The real upstream with this repository's oldest Bottlerocket series (the one with the most tags after it:
 * v1.0.4's, 70 tags), and its variant, so that the way forward is worked out as the nightly check does.
 */
async function realWorkload(url: string): Promise<Workload> {
  const project = createProject(root);
  const oldest = (await project.listSeriesBases('bottlerocket')).sort(compareVersions)[0];
  const series = await loadNewestSeries(project, 'bottlerocket', oldest);
  const variant = (await project.listVariants())[0];
  const gitDir = git(url, 'rev-parse', '--absolute-git-dir');
  const base = { tag: `v${series.base}`, commit: git(gitDir, 'rev-parse', `v${series.base}^{commit}`) };
  return {
    what: `${url} with patches/bottlerocket/${series.base}/`,
    gitDir,
    series,
    base,
    targets: releaseTags(gitDir, series.base),
    ...(variant ? { variant: (await project.readVariant(variant)).name } : {}),
  };
}

/**
 * 75 tags on top of a tree of 2000 files, drifting the way upstream does: each
 * release moves the patched files' lines; some change a patched line, rename
 * or delete a patched file, or take a patch upstream.
 */
function syntheticWorkload(dir: string): Workload {
  const repo = join(dir, 'upstream');
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q', '--initial-branch=develop');
  for (let i = 0; i < 2000; i++) {
    mkdirSync(join(repo, 'packages', `p${i % 100}`), { recursive: true });
    writeFileSync(join(repo, 'packages', `p${i % 100}`, `f${i}.spec`), `Name: p${i}\n`.repeat(20));
  }
  const file = (k: number) => join(repo, 'sources', `file${k}.rs`);
  mkdirSync(join(repo, 'sources'), { recursive: true });
  for (let k = 0; k < 6; k++)
    writeFileSync(file(k), Array.from({ length: 80 }, (_, i) => `line ${i} of file ${k}`).join('\n') + '\n');
  const edit = (path: string, from: string, to: string) =>
    writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'v1.0.0');
  git(repo, 'tag', '-a', '-m', 'v1.0.0', 'v1.0.0');

  // The series: one patch per file, and a seventh that builds on the first.
  git(repo, 'checkout', '-q', '-b', 'series');
  for (let k = 0; k < 6; k++) {
    edit(file(k), `line 40 of file ${k}\n`, `line 40 of file ${k}\npatched ${k}\n`);
    git(repo, 'commit', '-qam', `patch file ${k}`);
  }
  edit(file(0), `patched 0\n`, `patched 0\npatched again\n`);
  git(repo, 'commit', '-qam', 'build on patch 0');
  const out = join(dir, 'series');
  git(repo, 'format-patch', '-q', '--zero-commit', '--no-signature', '-o', out, 'v1.0.0');
  const patches = readdirSync(out)
    .sort()
    .map((name) => ({ name, path: join(out, name), content: readFileSync(join(out, name), 'utf8') }));
  git(repo, 'checkout', '-q', 'develop');

  for (let t = 1; t <= 75; t++) {
    edit(file(0), 'line 0 of file 0\n', `line 0 of file 0\nupstream line ${t}\n`);
    if (t === 15) edit(file(1), 'line 40 of file 1\n', 'line 40 of file 1 (upstream)\n');
    if (t === 20) edit(file(4), 'line 40 of file 4\n', 'line 40 of file 4\npatched 4\n');
    if (t === 40) git(repo, 'mv', 'sources/file2.rs', 'sources/file2-renamed.rs');
    if (t === 60) git(repo, 'rm', '-q', 'sources/file3.rs');
    writeFileSync(join(repo, 'packages', 'p0', 'f0.spec'), `Release: ${t}\n`);
    git(repo, 'commit', '-qam', `v1.0.${t}`);
    git(repo, 'tag', '-a', '-m', `v1.0.${t}`, `v1.0.${t}`);
  }
  const gitDir = join(repo, '.git');
  const series: Series = { source: 'bottlerocket', base: '1.0.0', dir: out, patches, digest: seriesDigest(patches) };
  return {
    what: 'a synthetic upstream: 2000 files, 75 tags, 7 patches',
    gitDir,
    series,
    base: { tag: 'v1.0.0', commit: git(gitDir, 'rev-parse', 'v1.0.0^{commit}') },
    targets: releaseTags(gitDir, '1.0.0'),
  };
}

/** The naive way: a work tree checked out at each tag, then `git apply` of each patch in order. */
async function naiveCheck(runner: Runner, load: Workload, dir: string): Promise<number> {
  const tree = join(dir, 'naive');
  const run = (args: string[], ok: number[] = []) =>
    runner.run({ argv: ['git', ...args], cwd: tree, mode: 'read', env: GIT_ENV, okExitCodes: ok });
  await runner.run({ argv: ['git', 'clone', '-q', '--shared', '--no-checkout', load.gitDir, tree], mode: 'read' });
  let applied = 0;
  for (const target of load.targets) {
    await run(['checkout', '-q', '-f', '--detach', target.commit]);
    await run(['clean', '-q', '-fd']);
    for (const patch of load.series.patches) {
      if ((await run(['apply', patch.path], [1, 128])).exitCode === 0) applied++;
    }
  }
  return applied;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [performance.now() - start, result];
}

/** The fast check (best of 5: the machine is shared) and the naive one, over the same tags, and their ratio. */
async function compare(runner: Runner, load: Workload, dir: string, label: string, target: number): Promise<void> {
  const plumbing = createGitPlumbing(runner);
  const input = {
    source: 'bottlerocket' as const,
    url: load.gitDir,
    gitDir: load.gitDir,
    series: load.series,
    base: load.base,
    targets: load.targets,
    ...(load.variant ? { variant: load.variant } : {}),
  };
  const fast: number[] = [];
  let needWork = 0;
  for (let i = 0; i < 5; i++) {
    const [ms, report] = await timed(() => checkSeries(plumbing, input));
    fast.push(ms);
    needWork = report.tags.filter((t) => !t.ok).length;
  }
  const [naive] = await timed(() => naiveCheck(runner, load, dir));
  rmSync(join(dir, 'naive'), { recursive: true, force: true });
  const best = Math.min(...fast);
  const ratio = naive / best;
  console.log(`  ${label}: ${load.targets.length} tags (${needWork} need work)`);
  console.log(`    bro patches check, in process (best of 5):  ${seconds(best)}`);
  console.log(`    naive: check out each tag, git apply:        ${seconds(naive)}`);
  console.log(`    ratio: ${ratio.toFixed(1)}x  (target ≥ ${target}x: ${ratio >= target ? 'met' : 'MISSED'})`);
}

/** Wall time of the bro command, node started and all, best of `runs`. */
function wall(argv: string[], env: NodeJS.ProcessEnv, runs: number): number {
  const bin = join(root, 'dist', 'src', 'bin', 'bro.js');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = spawnSync(process.execPath, [bin, ...argv], { env, encoding: 'utf8' });
    times.push(performance.now() - start);
    if (result.status !== 0 && result.status !== 1)
      throw new Error(`bro ${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return Math.min(...times);
}

export async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'bro-bench-patches-'));
  try {
    const url = process.env.BRO_BOTTLEROCKET_URL;
    const load = url ? await realWorkload(url) : syntheticWorkload(scratch);
    const runner = createRunner({ dryRun: false, env: process.env, redactor: new Redactor() });
    console.log(
      `bro patches check benchmark: ${load.series.patches.length} patches of ${load.what}; ${availableParallelism()} cores`,
    );
    await compare(runner, load, scratch, 'every tag since the base', 15);
    await compare(runner, { ...load, targets: load.targets.slice(0, 12) }, scratch, 'the first 12 tags', 5);

    if (url) {
      // The command as a user runs it: a mirror already in the cache (the first run makes it), no fetch.
      const cache = join(scratch, 'cache');
      const env = { ...process.env, BRO_BOTTLEROCKET_URL: url };
      const argv = [
        'patches',
        'check',
        '--source',
        'bottlerocket',
        '--project-dir',
        root,
        '--cache-dir',
        cache,
        '--format',
        'json',
        '--series',
        load.series.base,
      ];
      wall(argv, env, 1);
      const command = wall([...argv, '--no-fetch'], env, 3);
      console.log(
        `  bro patches check --source bottlerocket --no-fetch (${load.targets.length} tags, node included, best of 3): ${seconds(command)}  (target < 1 s: ${command < 1000 ? 'met' : 'MISSED'})`,
      );
    }
    const help = wall(['--help'], process.env, 5);
    console.log(`  bro --help (best of 5): ${help.toFixed(0)} ms  (target < 150 ms: ${help < 150 ? 'met' : 'MISSED'})`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
