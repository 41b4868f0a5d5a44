import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { makeWorld, removeDir, tempDir } from './helpers/git-fixtures.js';

/** Errors point at the user's own input: the setting as they gave it, the project they are in. */

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** Runs bro with `dir` as the working directory, as a user who cd'ed there. */
async function runIn(dir: string, args: string[], env: Record<string, string> = {}) {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await runCli(args, env);
  } finally {
    process.chdir(before);
  }
}

const build = ['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--ci'];

describe('the project', () => {
  it('is found from any folder in it, as git and npm find theirs', async () => {
    const world = makeWorld(dirs);
    const deep = join(world.project, 'patches', 'notes');
    mkdirSync(deep, { recursive: true });
    const listed = await runIn(deep, ['variants']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('aws-k8s-1.18');
    const built = await runIn(join(world.project, 'variants'), [...build, '--cache-dir', world.cacheDir]);
    expect(built.code, built.stderr).toBe(0);
  }, 30_000);

  it('outside one, every command says the same thing, with exit 2', async () => {
    const outside = tempDir('bro-not-a-project-');
    dirs.push(outside);
    const commands = [
      ['variants'],
      ['variants', 'show', 'aws-k8s-1.18'],
      ['matrix'],
      build,
      ['preview', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--user-data', join(outside, 'u.toml')],
      ['doctor'],
      ['patches', 'check'],
      ['patches', 'rebase', '--onto', 'v1.0.5'],
      ['patches', 'refresh'],
      ['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1'],
      ['manifest', 'show', 'aws-k8s-1.18'],
    ];
    for (const args of commands) {
      const result = await runIn(outside, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(
        `${outside} is not in a bro project: neither it nor any folder above it has variants/ or patches/`,
      );
      expect(result.stderr, args.join(' ')).toContain('--project-dir <dir>');
      expect(result.stdout).toBe('');
    }
    // A directory the user named is not searched above: they meant that one.
    const named = await runIn(outside, ['patches', 'check', '--project-dir', outside]);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain(`--project-dir ${outside} is not a bro project: it has no variants/ or patches/`);
  });
});

describe('a directory setting is named by where it came from', () => {
  it('BRO_CACHE_DIR, XDG_CACHE_HOME and the default are not called --cache-dir; an empty --cache-dir is refused', async () => {
    const world = makeWorld(dirs);
    const file = join(world.project, 'a-file');
    writeFileSync(file, 'x');
    const run = (env: Record<string, string>, ...more: string[]) =>
      runCli([...build, '--project-dir', world.project, ...more], env);

    expect((await run({}, '--cache-dir', file)).stderr).toContain(`--cache-dir ${file}: is a file`);
    const fromBro = await run({ BRO_CACHE_DIR: file });
    expect(fromBro.code).toBe(2);
    expect(fromBro.stderr).toContain(`BRO_CACHE_DIR=${file}: is a file, not a directory`);
    expect(fromBro.stderr).toContain('Set BRO_CACHE_DIR to a directory you can write, or pass --cache-dir.');
    expect(fromBro.stderr).not.toContain(`--cache-dir ${file}`);

    const fromXdg = await run({ XDG_CACHE_HOME: file });
    expect(fromXdg.code).toBe(2);
    expect(fromXdg.stderr).toContain(
      `${join(file, 'bro')} (the cache directory under XDG_CACHE_HOME) has a file where a directory should be`,
    );
    expect(fromXdg.stderr).toContain('Set XDG_CACHE_HOME to a directory you can write');

    const fromDefault = await run({ HOME: file });
    expect(fromDefault.code).toBe(2);
    expect(fromDefault.stderr).toContain(`${join(file, '.cache', 'bro')} (the default --cache-dir) has a file`);
    expect(fromDefault.stderr).toContain('Pass --cache-dir a directory you can write');

    const empty = await run({}, '--cache-dir', '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--cache-dir is empty');
  });
});

describe('the sources named by the user', () => {
  it('a --version whose tag upstream does not have is a usage error naming it', async () => {
    const world = makeWorld(dirs);
    const result = await runCli([
      ...build.map((a) => (a === '1.0.4-hc1' ? '1.0.99-hc1' : a)),
      '--project-dir',
      world.project,
      '--cache-dir',
      world.cacheDir,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no tag or branch "v1.0.99" (from --version 1.0.99-hc1)');
  });

  it('swapped BRO_*_URLs: the URL that serves the other repository is named, not --version', async () => {
    const world = makeWorld(dirs);
    const result = await runCli([...build, '--project-dir', world.project, '--cache-dir', world.cacheDir], {
      BRO_BOTTLEROCKET_URL: world.upstream.adminContainer,
      BRO_ADMIN_CONTAINER_URL: world.upstream.bottlerocket,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `BRO_BOTTLEROCKET_URL=${world.upstream.adminContainer} serves the bottlerocket-admin-container repository|BRO_ADMIN_CONTAINER_URL=${world.upstream.bottlerocket} serves the Bottlerocket repository`,
      ),
    );
    expect(result.stderr).toContain('swapped');
    expect(result.stderr).not.toContain('--version');
  });
});
