import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { PATH, sealedEnv } from './helpers/env.js';
import { REPO_ROOT, removeDir, tempDir } from './helpers/git-fixtures.js';
import { makeUpgradeWorld, snapshotProject } from './helpers/upgrade-fixtures.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** A `git` on PATH that runs the real git, but announces `git am` and then hangs in it. */
function slowGit(dir: string): void {
  const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
  writeFileSync(
    join(dir, 'git'),
    `#!/bin/sh
if [ "$1" = "am" ] && [ "$2" = "--quiet" ] && [ "$3" = "--committer-date-is-author-date" ]; then
  echo started > "${join(dir, 'am-started')}"
  sleep 30
fi
exec ${realGit} "$@"
`,
  );
  chmodSync(join(dir, 'git'), 0o755);
}

describe('Ctrl-C during bro upgrade', { timeout: 120_000 }, () => {
  it('writes nothing to patches/ or variants/, and the rerun starts the cut rebase again and finishes', async () => {
    const world = makeUpgradeWorld();
    const bin = tempDir('bro-bin-');
    dirs.push(world.root, world.project, world.cache, world.work, bin);
    slowGit(bin);
    const args = [
      'upgrade',
      'aws-k8s-1.18',
      '--to',
      'v1.5.0',
      '--project-dir',
      world.project,
      '--cache-dir',
      world.cache,
      '--work-dir',
      world.work,
    ];
    const before = snapshotProject(world.project);

    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/src/bin/bro.js'), ...args], {
      env: sealedEnv({ PATH: `${bin}:${PATH}` }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !existsSync(join(bin, 'am-started')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(bin, 'am-started'))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('Interrupted');
    expect(snapshotProject(world.project)).toEqual(before);

    const rerun = await runCli(args);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(
      readFileSync(join(world.project, 'patches/bottlerocket/1.5.0/series'), 'utf8').split('\n').filter(Boolean),
    ).toHaveLength(2);
    expect(readFileSync(join(world.project, 'variants/aws-k8s-1.18.toml'), 'utf8')).toContain('"v1.5.0" = "v0.6.0"');
  });
});
