import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWorld } from './helpers/build-world.js';
import { lockIdentity } from './helpers/processes.js';
import { runCli, BRO_BIN, broArgv } from './helpers/cli.js';
import { PATH, sealedEnv } from './helpers/env.js';
import {
  FIXTURE_ACCOUNTS,
  git,
  initRepo,
  makePatch,
  makeWorld,
  removeDir,
  REPO_ROOT,
  tempDir,
  writeSeries,
} from './helpers/git-fixtures.js';

/** Issue 9: bro at the edges — the developer's shell, concurrent runs, user work, user errors. */

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

function setup(extraToml = '') {
  const world = makeWorld(dirs, { extraToml });
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '--project-dir', world.project, '--cache-dir', world.cacheDir], env);
  const dryRun = (env: Record<string, string> = {}, ...more: string[]) =>
    run(['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--ci', ...more], env);
  return { ...world, run, dryRun };
}

describe('sealed from the shell', () => {
  it("the tests' bro does not see BRO_* exported in the developer's shell", async () => {
    const s = setup();
    const saved = { ...process.env };
    process.env.BRO_BOTTLEROCKET_URL = join(s.project, 'no-such-repo.git');
    process.env.BRO_ADMIN_CONTAINER_URL = join(s.project, 'no-such-repo.git');
    try {
      const result = await s.dryRun();
      expect(result.code, result.stderr).toBe(0);
    } finally {
      for (const name of ['BRO_BOTTLEROCKET_URL', 'BRO_ADMIN_CONTAINER_URL']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });

  it("run from a git hook (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE set) bro works on its own repositories, not the hook's", async () => {
    const s = setup();
    const other = initRepo(tempDir('bro-hook-repo-'));
    dirs.push(other);
    git(other, 'commit', '--quiet', '--allow-empty', '-m', 'the repository the hook runs in');
    const before = git(other, 'rev-parse', 'HEAD');
    const result = await s.dryRun({
      GIT_DIR: join(other, '.git'),
      GIT_WORK_TREE: other,
      GIT_INDEX_FILE: join(other, '.git', 'index'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(git(s.br, 'rev-parse', 'HEAD')).not.toBe(before);
    expect(git(other, 'rev-parse', 'HEAD')).toBe(before);
    expect(git(other, 'status', '--porcelain')).toBe('');
  });
});

/** Runs the built bro as its own process (as a CI matrix job does); resolves with its exit code and output. */
function spawnBro(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BRO_BIN, ...args], {
    env: sealedEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A `git` on PATH that runs the real one, then lingers after `clone --mirror` of a URL containing `slow`. */
function lingeringGit(bin: string, slow: string): string {
  const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
  writeFileSync(
    join(bin, 'git'),
    `#!/bin/sh\n${realGit} "$@"\nstatus=$?\ncase "$*" in *"clone --mirror"*${slow}*) sleep 1;; esac\nexit $status\n`,
  );
  chmodSync(join(bin, 'git'), 0o755);
  return bin;
}

describe('one mirror cache, many bros', () => {
  it('three first runs at once, each with its own --work-dir and one --cache-dir, all succeed and share one mirror per upstream', async () => {
    const s = setup();
    const works = [1, 2, 3].map((i) => join(s.project, `work-${i}`));
    const results = await Promise.all(
      works.map((work) => spawnBro(broArgv(s, '--dry-run', '--ci', '--work-dir', work))),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const entries = readdirSync(join(s.cacheDir, 'mirrors')).sort();
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.endsWith('.git'))).toBe(true);
    const alternates = works.map((work) =>
      readFileSync(join(work, 'bottlerocket', '.git', 'objects', 'info', 'alternates'), 'utf8').trim(),
    );
    expect(new Set(alternates).size).toBe(1);
    expect(alternates[0]).toBe(
      join(
        s.cacheDir,
        'mirrors',
        entries.find((e) => e.startsWith('bottlerocket-'))!,
        'objects',
      ),
    );
  });

  it("when one source fails, the other source's clone finishes before bro exits: nothing half-made is left in the cache", async () => {
    const s = setup();
    const bin = lingeringGit(tempDir('bro-bin-'), 'admin-container');
    dirs.push(bin);
    const result = await s.run(['build', 'aws-k8s-1.18', '--version', '1.0.9-hc1', '--dry-run', '--ci'], {
      PATH: `${bin}:${PATH}`,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no tag or branch "v1.0.9"');
    const left = readdirSync(join(s.cacheDir, 'mirrors'));
    expect(left.filter((e) => !e.endsWith('.git'))).toEqual([]);
  });

  it('a lock left by a bro that died is taken over', async () => {
    const s = setup();
    const mirror = (await import('../src/adapters/mirrors.js'))
      .createMirrors(s.cacheDir, {} as never)
      .pathFor(s.upstream.bottlerocket);
    mkdirSync(join(s.cacheDir, 'mirrors'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(`${mirror}.lock`, JSON.stringify({ owner: { ...lockIdentity(process.pid), pid: dead }, groups: [] }));
    mkdirSync(`${mirror}.partial-${dead}-0000`);
    const result = await s.dryRun();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      `Took over the lock ${mirror}.lock left by pid ${dead}, which is no longer running`,
    );
    expect(readdirSync(join(s.cacheDir, 'mirrors')).filter((e) => !e.endsWith('.git'))).toEqual([]);
  });
});

describe("never discards the user's work in silence", () => {
  it('a rerun over local edits and untracked files refuses, naming them and the way out; --discard-changes throws them away', async () => {
    const s = setup();
    expect((await s.dryRun()).code).toBe(0);
    const admin = join(s.project, 'work', 'aws-k8s-1.18', 'admin-container');
    writeFileSync(join(s.br, 'Release.toml'), 'version = "1.0.4"\n# my fix\n');
    writeFileSync(join(admin, 'notes.txt'), 'keep me\n');
    const refused = await s.dryRun();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('changed: Release.toml');
    expect(refused.stderr).toContain('--discard-changes');
    expect(readFileSync(join(s.br, 'Release.toml'), 'utf8')).toContain('# my fix');
    expect(readFileSync(join(admin, 'notes.txt'), 'utf8')).toBe('keep me\n');

    writeFileSync(join(s.br, 'Release.toml'), 'version = "1.0.4"\n\n[migrations]\n');
    const adminRefused = await s.dryRun();
    expect(adminRefused.code).toBe(1);
    expect(adminRefused.stderr).toContain('changed: notes.txt (untracked)');

    const discarded = await s.dryRun({}, '--discard-changes');
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(existsSync(join(admin, 'notes.txt'))).toBe(false);
  });

  it('the conflict --keep-failed leaves is still there after the next run, which says how to go on', async () => {
    const s = setup();
    const bad = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: kubelet settings', {
      'sources/models/src/lib.rs':
        'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n    kube_reserved: Option<String>,\n}\n',
    }).replace(
      ' pub struct KubernetesSettings {\n     cluster_name',
      ' pub struct KubernetesSettings {\n     cluster_domain',
    );
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-kubelet-settings.patch': bad });
    expect((await s.dryRun({}, '--keep-failed')).code).toBe(1);
    expect(existsSync(join(s.br, '.git', 'rebase-apply'))).toBe(true);
    const rerun = await s.dryRun();
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain('a `git am` stopped at a conflict');
    expect(rerun.stderr).toContain('--discard-changes');
    expect(existsSync(join(s.br, '.git', 'rebase-apply'))).toBe(true);
  });
});

describe('a path the user gave is a usage error naming the option', () => {
  it('--work-dir that is a file, or inside the mirror cache; a cache dir that is a file or cannot be written', async () => {
    const s = setup();
    const file = join(s.project, 'a-file');
    writeFileSync(file, 'x');
    const asFile = await s.dryRun({}, '--work-dir', file);
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toContain(`--work-dir ${file}: is a file, not a directory`);
    expect(asFile.stderr).not.toContain('bug in bro');

    const inCache = await s.dryRun({}, '--work-dir', join(s.cacheDir, 'mirrors', 'w'));
    expect(inCache.code).toBe(2);
    expect(inCache.stderr).toContain(`is inside --cache-dir ${s.cacheDir}`);

    const cacheFile = await runCli(broArgv({ project: s.project, cacheDir: file }, '--dry-run', '--ci'));
    expect(cacheFile.code).toBe(2);
    expect(cacheFile.stderr).toContain(`--cache-dir ${file}: is a file`);

    // sysfs refuses new directories, even to root (a chmod 0555 directory does not stop root).
    const readOnly = await runCli(broArgv({ project: s.project, cacheDir: '/sys/bro-cache' }, '--dry-run', '--ci'));
    expect(readOnly.code).toBe(2);
    expect(readOnly.stderr).toMatch(/--cache-dir \/sys\/bro-cache (is not writable|is on a read-only file system)/);
  });

  it('--out that is a file, or under /proc (which hung), is refused at once', async () => {
    const s = setup();
    const file = join(s.project, 'a-file');
    writeFileSync(file, 'x');
    const preview = (out: string) =>
      runCli(
        broArgv(
          { ...s, command: 'preview' },
          '--ci',
          '--user-data',
          join(REPO_ROOT, 'examples', 'user-data.toml'),
          '--out',
          out,
        ),
      );
    const asFile = await preview(file);
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toContain(`--out ${file}: is a file`);
    const proc = await preview('/proc/x');
    expect(proc.code).toBe(2);
    expect(proc.stderr).toContain('--out /proc/x cannot be created there');
  });

  it('variants/sources.lock.json that cannot be written or read is named, exit 2', async () => {
    const s = setup();
    const lock = join(s.project, 'variants', 'sources.lock.json');
    // bro writes the lock beside it, then renames: a directory in the way fails that write, even as root.
    mkdirSync(`${lock}.${process.pid}.tmp`);
    const unwritable = await s.dryRun();
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toContain('variants/sources.lock.json: cannot be written');
    removeDir(`${lock}.${process.pid}.tmp`);
    removeDir(lock);
    mkdirSync(lock);
    const unreadable = await s.dryRun();
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('variants/sources.lock.json: cannot be read (EISDIR)');
  });
});

describe('sources with a problem name what to do', () => {
  it('only BRO_BOTTLEROCKET_URL set: one message naming both variables', async () => {
    const s = setup();
    const toml = join(s.project, 'variants', 'aws-k8s-1.18.toml');
    writeFileSync(
      toml,
      readFileSync(toml, 'utf8').replace(
        JSON.stringify(s.upstream.adminContainer),
        JSON.stringify(join(s.project, 'nowhere.git')),
      ),
    );
    const result = await s.dryRun({ BRO_BOTTLEROCKET_URL: s.upstream.bottlerocket });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('BRO_BOTTLEROCKET_URL is set but BRO_ADMIN_CONTAINER_URL is not');
    // The task list's line, then the error once: git's reason, the hint, no repeated cause.
    const final = result.stderr.slice(result.stderr.indexOf('✖'));
    expect(final.match(/fatal: repository/g) ?? []).toHaveLength(1);
  });

  it("git's own reason is shown: a repository owned by another user", async () => {
    const s = setup();
    // git's test switch: every repository looks owned by someone else (no chown needed).
    const result = await s.dryRun({ GIT_TEST_ASSUME_DIFFERENT_OWNER: '1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('detected dubious ownership');
    expect(result.stderr).toContain('safe.directory');
  });

  it('a git bundle as BRO_BOTTLEROCKET_URL: its annotated tags are peeled, the pin does not "move"', async () => {
    const s = setup();
    expect((await s.dryRun()).code).toBe(0);
    const bundle = join(s.upstream.root, 'bottlerocket.bundle');
    git(s.upstream.bottlerocket, 'bundle', 'create', '--quiet', bundle, '--all');
    const result = await runCli(
      broArgv({ project: s.project, cacheDir: join(s.cacheDir, 'other') }, '--dry-run', '--ci'),
      {
        BRO_BOTTLEROCKET_URL: bundle,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(git(join(s.project, 'work', 'aws-k8s-1.18', 'bottlerocket'), 'rev-parse', 'HEAD~1')).toBe(
      s.upstream.tags['v1.0.4'],
    );
  });
});

describe('variant files', () => {
  /** A dry run of the fixture variant file after `edit`. */
  async function withVariant(edit: (toml: string) => string) {
    const s = setup();
    const toml = join(s.project, 'variants', 'aws-k8s-1.18.toml');
    const before = readFileSync(toml, 'utf8');
    const after = edit(before);
    expect(after, 'the edit changed nothing').not.toBe(before);
    writeFileSync(toml, after);
    return s.dryRun();
  }

  it('rejects a share-with account listed twice', async () => {
    const result = await withVariant((t) =>
      t.replace(/^share-with = .*$/m, `share-with = ["${FIXTURE_ACCOUNTS[0]}", "${FIXTURE_ACCOUNTS[0]}"]`),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`share-with: "${FIXTURE_ACCOUNTS[0]}" is listed twice`);
  });

  it('rejects a region AWS does not have', async () => {
    const result = await withVariant((t) => t.replace('"us-east-1"]', '"us-east-9"]'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('regions: "us-east-9" is not an AWS region');
    expect(result.stderr).toContain('src/config/aws-regions.ts');
  });

  it('warns about an empty share-with', async () => {
    const result = await withVariant((t) => t.replace(/^share-with = .*$/m, 'share-with = []'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('share-with is empty');
  });

  it("refuses ami.tags in bro's own bro: namespace", async () => {
    const result = await withVariant((t) => `${t}\n[ami.tags]\n"bro:version" = "mine"\nteam = "infra"\n`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ami.tags.bro:version');
    expect(result.stderr).toContain('namespace');
  });

  it('a TOML syntax error carries the line and column', async () => {
    const result = await withVariant((t) => t.replace('arch = "x86_64"', 'arch = "x86_64'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/variants\/aws-k8s-1\.18\.toml: is not valid TOML \(line 2, column \d+\)/);
  });

  it('a variant is a name, not a path: ../../etc/passwd opens nothing outside variants/', async () => {
    const s = setup();
    writeFileSync(join(s.project, 'outside.toml'), 'name = "outside"\n');
    for (const name of ['../../etc/passwd', '../outside']) {
      const result = await s.run(['build', name, '--version', '1.0.4-hc1', '--dry-run', '--ci']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`"${name}" is not a variant name`);
    }
  });
});

describe('outside a project', () => {
  it('bro variants, bro matrix and bro build exit 2: the --project-dir named is not a bro project', async () => {
    const s = setup();
    const elsewhere = tempDir('bro-not-a-project-');
    dirs.push(elsewhere);
    const sub = join(s.project, 'variants-not-here');
    mkdirSync(sub);
    for (const args of [
      ['variants', '--project-dir', elsewhere],
      ['matrix', '--project-dir', elsewhere],
      ['matrix', '--github', '--project-dir', elsewhere],
      broArgv({ project: sub, cacheDir: s.cacheDir }, '--dry-run', '--ci'),
    ]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(
        /--project-dir \S+ is not a bro project: it has no variants\/ or patches\/ directory/,
      );
      expect(result.stderr).toContain('--project-dir <dir>');
      expect(result.stdout).toBe('');
    }
  });
});

describe('messages that point the right way', () => {
  it('manifest show: a file holding [] is not a manifest; an unknown variant is named', async () => {
    const s = setup();
    const file = join(s.project, 'm.json');
    writeFileSync(file, '[]\n');
    const array = await s.run(['manifest', 'show', '--manifest', file]);
    expect(array.code).toBe(2);
    expect(array.stderr).toContain('is not a bro release manifest (it holds a JSON array)');
    expect(array.stderr).not.toContain('schemaVersion undefined');
    const unknown = await s.run(['manifest', 'show', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no such variant "nosuch"');
  });

  it('share --revoke with no build says there is nothing to revoke, not that cargo make ami failed', async () => {
    const w = buildWorld();
    try {
      const result = await w.cli(['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--revoke']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Nothing to revoke: no build of aws-k8s-1.18 1.0.4-hc1 registered AMIs');
      expect(result.stderr).not.toContain('cargo make ami');
    } finally {
      w.cleanup();
    }
  });

  it('a build suffix over 32 characters is told so; --region-concurrency 2.5 is refused', async () => {
    const s = setup();
    const long = await s.run(['build', 'aws-k8s-1.18', '--version', `1.0.4-${'a'.repeat(33)}`, '--dry-run', '--ci']);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('is 33 characters; at most 32');
    const fraction = await s.dryRun({}, '--region-concurrency', '2.5');
    expect(fraction.code).toBe(2);
    expect(fraction.stderr).toContain('--region-concurrency must be a whole number');
  });

  it('--from patch redoes the patch step instead of calling it up to date', async () => {
    const s = setup();
    expect((await s.dryRun()).code).toBe(0);
    const again = await s.dryRun();
    expect(again.stderr).toContain('bottlerocket: up to date');
    const redo = await s.dryRun({}, '--from', 'patch');
    expect(redo.code, redo.stderr).toBe(0);
    expect(redo.stderr).not.toContain('up to date');
    expect(redo.stderr).toContain('Apply the patch series: bottlerocket: 0 patches + 1 generated');
  });
});

describe('help and README agree', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  it("bro --version prints the version; bro help patches check prints that command's help", async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
    expect(readme).toContain('`bro --version`');
    const help = await runCli(['help', 'patches', 'check']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: bro patches check');
    // --version after a command is still that command's own option.
    const build = await runCli(['build', 'aws-k8s-1.18', '--version', 'nonsense']);
    expect(build.stderr).toContain('Invalid --version "nonsense"');
  });

  it("the default --work-dir and each patches command's directory options are the README's", async () => {
    const defaultWork = /\| `--work-dir <dir>` \| the workspace \(default `([^`]+)`\) \|/.exec(readme)?.[1];
    expect(defaultWork).toBe('<project-dir>/work/<variant>');
    const buildHelp = (await runCli(['build', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(buildHelp).toContain(`(default: ${defaultWork})`);
    const options = async (command: string) => (await runCli(['patches', command, '--help'])).stdout;
    expect(readme).toContain('`--cache-dir` (check and rebase');
    expect(readme).toContain('`--work-dir` (rebase and refresh');
    expect(await options('check')).toContain('--cache-dir');
    expect(await options('rebase')).toContain('--cache-dir');
    expect(await options('refresh')).not.toContain('--cache-dir');
    expect(await options('check')).not.toContain('--work-dir');
    for (const command of ['rebase', 'refresh'])
      expect((await options(command)).replace(/\s+/g, ' ')).toContain('(default: <project-dir>/work)');
  });
});

describe('one rollback', () => {
  /** A `git` on PATH that runs the real one, but announces a clone into the workspace's admin-container and hangs there. */
  function hangingCheckout(bin: string): string {
    const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\ncase "$*" in *"clone --quiet --shared"*admin-container.partial*) ${realGit} "$@"; echo started > "${join(bin, 'started')}"; sleep 30;; esac\nexec ${realGit} "$@"\n`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    return bin;
  }

  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    it(`${signal} during the first checkout leaves no checkout on upstream's default branch, and says what it did`, async () => {
      const s = setup();
      const bin = hangingCheckout(tempDir('bro-bin-'));
      dirs.push(bin);
      const child = spawn(process.execPath, [BRO_BIN, ...broArgv(s, '--dry-run', '--ci')], {
        env: sealedEnv({ PATH: `${bin}:${PATH}` }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 400 && !existsSync(join(bin, 'started')); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(join(bin, 'started'))).toBe(true);
      child.kill(signal);
      expect(await exited).toBe(130);
      expect(stderr).toContain(`Interrupted by ${signal}`);
      expect(stderr).toContain('↺ admin-container/ not made: its first checkout was cut short');
      const work = join(s.project, 'work', 'aws-k8s-1.18');
      expect(readdirSync(work).filter((e) => e.startsWith('admin-container'))).toEqual([]);
      // A checkout that exists is at its pin, clean.
      if (existsSync(s.br)) {
        expect(git(s.br, 'rev-parse', 'HEAD')).toBe(s.upstream.tags['v1.0.4']);
        expect(git(s.br, 'status', '--porcelain')).toBe('');
      }
      const rerun = await s.dryRun();
      expect(rerun.code, rerun.stderr).toBe(0);
    });
  }
});

describe("never discards the user's commits in silence", () => {
  it("a commit of their own on the checkout (a kept conflict resolved with git am --continue) is refused, bro's own are not", async () => {
    const s = setup();
    expect((await s.dryRun()).code).toBe(0);
    // A fresh state file (another CI run on the same host): bro's own commits are recognised as bro's.
    removeDir(join(s.project, 'work', 'aws-k8s-1.18', '.bro', 'state.json'));
    expect((await s.dryRun()).code).toBe(0);
    writeFileSync(join(s.br, 'Release.toml'), 'version = "1.0.4"\n# mine\n');
    git(s.br, 'commit', '--quiet', '-am', 'my fix');
    const refused = await s.dryRun();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/commit not made by bro: [0-9a-f]+ my fix/);
    expect(git(s.br, 'log', '-1', '--format=%s')).toBe('my fix');
  });
});

describe('the mirror lock does not trust a pid alone', () => {
  it('a lock whose pid runs (reused by another process) but that nobody touches is taken over; a touched one is waited for', async () => {
    const { withMirrorLock } = await import('../src/adapters/locks/mirror-lock.js');
    const dir = tempDir('bro-lock-');
    dirs.push(dir);
    const path = join(dir, 'm.git.lock');
    // pid 1 always runs; the lock is old and untouched.
    writeFileSync(path, JSON.stringify({ host: hostname(), pid: 1, token: 'old' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(await withMirrorLock(path, async () => 'ran', { staleAfterMs: 1000, pollMs: 10 })).toBe('ran');
    expect(existsSync(path)).toBe(false);

    // Held and touched by a live holder: the second waits until the first releases.
    const order: string[] = [];
    let release!: () => void;
    const first = withMirrorLock(
      path,
      () => new Promise<void>((r) => (release = () => (order.push('first done'), r()))),
      { staleAfterMs: 300, pollMs: 10 },
    );
    await new Promise((r) => setTimeout(r, 50));
    const second = withMirrorLock(path, async () => void order.push('second ran'), { staleAfterMs: 300, pollMs: 10 });
    // Longer than staleAfterMs: the holder's heartbeat keeps the lock fresh.
    await new Promise((r) => setTimeout(r, 700));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first done', 'second ran']);
  });
});

describe('the state file after a successful rerun', () => {
  it('does not say interrupted for a step without inputs that an earlier run left interrupted', async () => {
    const s = setup();
    const broDir = join(s.project, 'work', 'aws-k8s-1.18', '.bro');
    mkdirSync(broDir, { recursive: true });
    // What an interrupt during the resolve step leaves (the step has no inputs to record).
    const at = new Date().toISOString();
    const record = { status: 'interrupted', inputs: '', outputs: {}, startedAt: at, finishedAt: at, durationMs: 1 };
    writeFileSync(join(broDir, 'state.json'), JSON.stringify({ schemaVersion: 1, steps: { resolve: record } }));
    const result = await s.dryRun();
    expect(result.code, result.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(broDir, 'state.json'), 'utf8')) as {
      steps: Record<string, { status: string }>;
    };
    expect(Object.entries(state.steps).filter(([, r]) => r.status !== 'done')).toEqual([]);
    expect(state.steps.resolve?.status).toBe('done');
  });
});

describe('the two series digests', () => {
  it("the plan shows each series' digest as the check reports it, and labels the digest of both", async () => {
    const s = setup();
    const patch = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: first', { 'sources/first.txt': 'first\n' });
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-first.patch': patch });
    const plan = await s.dryRun();
    expect(plan.code, plan.stderr).toBe(0);
    const check = await s.run(['patches', 'check', '--json', '--tags', 'v1.0.4']);
    const digest = (JSON.parse(check.stdout) as { series: { digest: string } }).series.digest;
    expect(plan.stdout).toContain(`series 1.0.4 (1 patch, digest ${digest.slice(0, 19)})`);
    expect(plan.stdout).toMatch(/Series digest +sha256:[0-9a-f]{64} \(of both series: the bro:patch-series tag\)/);
  });
});
