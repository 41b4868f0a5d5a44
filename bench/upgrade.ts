/**
 * Benchmark: `bro upgrade aws-k8s-1.18 --to <tag>` as a user runs it (node
 * started, warm mirror cache, a fresh work directory: the first upgrade a
 * team makes), against the slow way over the same series (for each source:
 * a checkout of the target tag, then `git am --3way` of each patch on its
 * own, then `git format-patch`), in this process run. Target (2 cores): the
 * upgrade with no human stop under 10 s.
 *
 * The workload is the real upstream (BRO_BOTTLEROCKET_URL and
 * BRO_ADMIN_CONTAINER_URL: local mirrors) with a series that needs no person
 * at v1.7.2: today's patches that upstream took (bottlerocket 0001, admin
 * 0003), which the upgrade drops, and patches that insert a line into real
 * files that upstream changed between the two tags, which it rebases.
 *
 *   BRO_BOTTLEROCKET_URL=… BRO_ADMIN_CONTAINER_URL=… node dist/bench/upgrade.js
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const TO = 'v1.7.2';
const FROM = 'v1.0.4';
const ADMIN_TO = 'v0.8.0';
const ADMIN_FROM = '9fc9090b044d237d5b112689c37cbdeec60c7d9e';

const GIT_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: tmpdir(),
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@x',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@x',
  GIT_AUTHOR_DATE: '2021-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2021-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();

/** Files present at both tags, changed between them, whose first 8 lines did not change: a line inserted there rebases with no person. */
function rebasableFiles(mirror: string, from: string, to: string, under: string, count: number): string[] {
  const changed = git(mirror, 'diff', '--name-only', '--diff-filter=M', from, to, '--', under)
    .split('\n')
    .filter(Boolean);
  const head = (tag: string, path: string) => git(mirror, 'show', `${tag}:${path}`).split('\n').slice(0, 8).join('\n');
  return changed.filter((p) => !p.endsWith('.patch') && head(from, p) === head(to, p)).slice(0, count);
}

/** A series of format-patch files on `base`: each inserts a line after line 3 of one file. */
function makeSeries(mirror: string, base: string, files: string[], scratch: string): Record<string, string> {
  const work = join(scratch, 'w');
  rmSync(work, { recursive: true, force: true });
  git(scratch, 'clone', '--quiet', '--shared', '--no-checkout', mirror, 'w');
  git(work, 'checkout', '--quiet', '--detach', base);
  for (const file of files) {
    const lines = readFileSync(join(work, file), 'utf8').split('\n');
    lines.splice(3, 0, `# bench: a downstream line in ${file}`);
    writeFileSync(join(work, file), lines.join('\n'));
    git(work, 'commit', '--quiet', '-am', `bench: change ${file}\n\nUpstream-Status: Inappropriate [bench]`);
  }
  const out = join(scratch, 'out');
  rmSync(out, { recursive: true, force: true });
  git(work, 'format-patch', '--quiet', '--zero-commit', '--no-signature', '--abbrev=12', '-o', out, base);
  return Object.fromEntries(readdirSync(out).map((n) => [n, readFileSync(join(out, n), 'utf8')]));
}

function writeSeries(project: string, source: string, base: string, patches: Record<string, string>): void {
  const dir = join(project, 'patches', source, base);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(patches).sort();
  for (const name of names) writeFileSync(join(dir, name), patches[name]!);
  writeFileSync(join(dir, 'series'), names.map((n) => `${n}\n`).join(''));
}

/** Renumbers a series so that patches from two lists keep one order. */
const numbered = (patches: [string, string][]) =>
  Object.fromEntries(patches.map(([name, text], i) => [`${String(i + 1).padStart(4, '0')}${name.slice(4)}`, text]));

/** The slow way for one source: a checkout of the target, `git am --3way` of each patch on its own, format-patch. */
function slowWay(mirror: string, to: string, patches: Record<string, string>, scratch: string): void {
  const work = join(scratch, 'slow');
  rmSync(work, { recursive: true, force: true });
  git(scratch, 'clone', '--quiet', '--shared', '--no-checkout', mirror, 'slow');
  git(work, 'checkout', '--quiet', '--detach', to);
  const files = join(scratch, 'slow-patches');
  rmSync(files, { recursive: true, force: true });
  mkdirSync(files, { recursive: true });
  for (const [name, text] of Object.entries(patches).sort()) {
    writeFileSync(join(files, name), text);
    const am = spawnSync('git', ['am', '--quiet', '--3way', join(files, name)], { cwd: work, env: GIT_ENV });
    // A patch upstream already has stops `git am` with nothing to apply: the slow way finds out and skips it.
    if (am.status !== 0) git(work, 'am', '--skip');
  }
  git(work, 'format-patch', '--quiet', '--zero-commit', '--no-signature', '-o', join(scratch, 'slow-out'), to);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function main(): Promise<void> {
  const br = process.env.BRO_BOTTLEROCKET_URL;
  const admin = process.env.BRO_ADMIN_CONTAINER_URL;
  if (!br || !admin) {
    console.log(
      '  SKIPPED: needs the real upstream as local mirrors: set BRO_BOTTLEROCKET_URL and BRO_ADMIN_CONTAINER_URL.',
    );
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'bro-bench-upgrade-'));
  try {
    const brMirror = git(br, 'rev-parse', '--absolute-git-dir');
    const adminMirror = git(admin, 'rev-parse', '--absolute-git-dir');
    const upstreamed = (source: string, base: string, prefix: string): [string, string] => {
      const name = readdirSync(join(root, 'patches', source, base)).find((n) => n.startsWith(prefix))!;
      return [name, readFileSync(join(root, 'patches', source, base, name), 'utf8')];
    };
    const brPatches = numbered([
      upstreamed('bottlerocket', '1.0.4', '0001'),
      ...Object.entries(makeSeries(brMirror, FROM, rebasableFiles(brMirror, FROM, TO, 'packages', 10), scratch)),
    ]);
    const adminPatches = numbered([
      upstreamed('admin-container', '0.5.2', '0003'),
      ...Object.entries(
        makeSeries(adminMirror, ADMIN_FROM, rebasableFiles(adminMirror, ADMIN_FROM, ADMIN_TO, '.', 2), scratch),
      ),
    ]);

    const project = join(scratch, 'project');
    const fresh = () => {
      rmSync(project, { recursive: true, force: true });
      for (const entry of ['variants', 'Infra.toml.tpl', 'examples'])
        cpSync(join(root, entry), join(project, entry), { recursive: true });
      writeSeries(project, 'bottlerocket', '1.0.4', brPatches);
      writeSeries(project, 'admin-container', '0.5.2', adminPatches);
    };
    const cache = join(scratch, 'cache');
    // Settings both bases know without the series (the series here adds none).
    const userData = join(scratch, 'user-data.toml');
    writeFileSync(
      userData,
      '[settings.host-containers.admin]\nenabled = true\n\n[settings.kubernetes]\ncluster-name = "bench"\napi-server = "https://example.invalid"\n',
    );
    const env = { ...GIT_ENV, BRO_BOTTLEROCKET_URL: br, BRO_ADMIN_CONTAINER_URL: admin };
    const bro = (work: string) => {
      const start = performance.now();
      const run = spawnSync(
        process.execPath,
        [
          join(root, 'dist/src/bin/bro.js'),
          'upgrade',
          'aws-k8s-1.18',
          '--to',
          TO,
          '--project-dir',
          project,
          '--cache-dir',
          cache,
          '--work-dir',
          work,
          '--no-fetch',
          '--user-data',
          userData,
        ],
        { env, encoding: 'utf8' },
      );
      const ms = performance.now() - start;
      if (run.status !== 0) throw new Error(`bro upgrade failed (${run.status}):\n${run.stderr}`);
      return { ms, stdout: run.stdout };
    };
    // Warm the mirror cache (a clone of each mirror), as a team's CI cache or laptop has it.
    fresh();
    const first = bro(join(scratch, 'warm'));
    const dropped = (first.stdout.match(/ dropped: /g) ?? []).length;
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      fresh();
      times.push(bro(join(scratch, `work-${i}`)).ms);
    }
    const best = Math.min(...times);
    const slow: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      slowWay(brMirror, TO, brPatches, scratch);
      slowWay(adminMirror, ADMIN_TO, adminPatches, scratch);
      slow.push(performance.now() - start);
    }
    const slowBest = Math.min(...slow);
    console.log(
      `  ${FROM} → ${TO}: ${Object.keys(brPatches).length} bottlerocket + ${Object.keys(adminPatches).length} admin patches, ${dropped} dropped as upstream, the rest rebased; user data migrated`,
    );
    console.log(
      `    bro upgrade, fresh work dir, warm mirrors (best of 3): ${seconds(best)}  (target < 10 s: ${best < 10_000 ? 'met' : 'MISSED'})`,
    );
    console.log(`    slow way: checkout + git am --3way per patch + format-patch (best of 3): ${seconds(slowBest)}`);
    console.log(
      `    ratio: ${(slowBest / best).toFixed(2)}x (bro also checks every patch, drops what upstream has, reads three model trees and diffs the user data)`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
