import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, makePatch, makeProject, makeUpstream, removeDir, tempDir, writeSeries } from './helpers/git-fixtures.js';
import { PATH, sealedEnv } from './helpers/env.js';
import { BRO_BIN, broArgv, runCli } from './helpers/cli.js';
import { procMissing, skipsBecause } from './helpers/index.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/**
 * A `git` on PATH that runs the real git, but announces `git am` and then
 * hangs in it, so the test can interrupt bro in the middle of patching.
 */
function slowGit(dir: string): string {
  const realGit = ['/usr/bin/git', '/usr/local/bin/git', '/bin/git'].find((p) => existsSync(p)) ?? 'git';
  const script = join(dir, 'git');
  writeFileSync(
    script,
    `#!/bin/sh
if [ "$1" = "am" ] && [ "$2" = "--quiet" ]; then
  echo started > "${join(dir, 'am-started')}"
  sleep 30
fi
exec ${realGit} "$@"
`,
  );
  chmodSync(script, 0o755);
  return dir;
}

/** A project with one patch, and a bro dry run started on it that hangs in `git am`. */
async function broInGitAm() {
  const upstream = makeUpstream();
  const project = makeProject(upstream);
  const cacheDir = tempDir('bro-cache-');
  const bin = tempDir('bro-bin-');
  dirs.push(upstream.root, project, cacheDir, bin);
  const patch = makePatch(upstream.bottlerocket, 'v1.0.4', 'models: x', {
    'sources/models/src/lib.rs': 'pub struct X;\n',
  });
  writeSeries(project, 'bottlerocket', '1.0.4', { '0001-models-x.patch': patch });
  slowGit(bin);

  const child = spawn(process.execPath, [BRO_BIN, ...broArgv({ project, cacheDir }, '--dry-run')], {
    env: sealedEnv({ PATH: `${bin}:${PATH}` }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait until git am is running.
  for (let i = 0; i < 200 && !existsSync(join(bin, 'am-started')); i++) await new Promise((r) => setTimeout(r, 50));
  expect(existsSync(join(bin, 'am-started'))).toBe(true);
  return { upstream, project, cacheDir, child, stderr: () => stderr, exited };
}

describe('Ctrl-C', () => {
  it('during patching stops git, restores the checkout to the pin and records nothing', async () => {
    const { upstream, project, child, stderr, exited } = await broInGitAm();
    child.kill('SIGINT');
    const code = await exited;

    expect(code).toBe(130);
    expect(stderr()).toContain('Interrupted');
    const br = join(project, 'work/aws-k8s-1.18/bottlerocket');
    expect(git(br, 'rev-parse', 'HEAD')).toBe(upstream.tags['v1.0.4']);
    expect(git(br, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(br, '.git/rebase-apply'))).toBe(false);
    const statePath = join(project, 'work/aws-k8s-1.18/.bro/state.json');
    expect(existsSync(statePath) ? readFileSync(statePath, 'utf8') : '').not.toContain('patch:bottlerocket');
  });
});

describe.skipIf(skipsBecause(procMissing))('a bro stopped, taken over and resumed', () => {
  it('stops with exit 1 and leaves the workspace and the state file as the other bro left them', async () => {
    const { upstream, project, cacheDir, child, stderr, exited } = await broInGitAm();
    child.kill('SIGSTOP');
    const work = join(project, 'work/aws-k8s-1.18');
    // Its heartbeat stops with it: as if the stale period had passed.
    const past = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(work, '.bro/lock'), past, past);

    // Another bro stops the git am the first one left running, takes the workspace over and patches it.
    const other = await runCli(broArgv({ project, cacheDir }, '--dry-run', '--ci', '--kill-orphans'));
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toContain(`left by pid ${child.pid}`);
    const br = join(work, 'bottlerocket');
    const head = git(br, 'rev-parse', 'HEAD');
    expect(head).not.toBe(upstream.tags['v1.0.4']);
    const state = readFileSync(join(work, '.bro/state.json'), 'utf8');

    child.kill('SIGCONT');
    expect(await exited, stderr()).toBe(1);
    expect(stderr()).toContain('Another bro took over the workspace lock');
    expect(stderr()).toContain('Nothing of this run was undone');
    // No rollback to the pin, no record of its own failure.
    expect(git(br, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(br, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(work, '.bro/state.json'), 'utf8')).toBe(state);
    expect(existsSync(join(work, '.bro/lock'))).toBe(false);
  }, 60_000);
});
