import { existsSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, makePatch, makeProject, makeUpstream, removeDir, tempDir, writeSeries } from './helpers/git-fixtures.js';
import { broArgv, runCli } from './helpers/cli.js';
import { procMissing, skipsBecause } from './helpers/index.js';
import { interruptInGitAm, startInGitAm } from './helpers/processes.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** A project whose series has one patch, and its cache. */
function project() {
  const upstream = makeUpstream();
  const project = makeProject(upstream);
  const cacheDir = tempDir('bro-cache-');
  dirs.push(upstream.root, project, cacheDir);
  const patch = makePatch(upstream.bottlerocket, 'v1.0.4', 'models: x', {
    'sources/models/src/lib.rs': 'pub struct X;\n',
  });
  writeSeries(project, 'bottlerocket', '1.0.4', { '0001-models-x.patch': patch });
  return { upstream, project, cacheDir, work: join(project, 'work/aws-k8s-1.18') };
}

describe('Ctrl-C', () => {
  it('during patching stops git, restores the checkout to the pin and records nothing', async () => {
    const s = project();
    const { code, stderr } = await interruptInGitAm(broArgv(s, '--dry-run'));

    expect(code).toBe(130);
    expect(stderr).toContain('Interrupted');
    const br = join(s.work, 'bottlerocket');
    expect(git(br, 'rev-parse', 'HEAD')).toBe(s.upstream.tags['v1.0.4']);
    expect(git(br, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(br, '.git/rebase-apply'))).toBe(false);
    const statePath = join(s.work, '.bro/state.json');
    expect(existsSync(statePath) ? readFileSync(statePath, 'utf8') : '').not.toContain('patch:bottlerocket');
  });
});

describe.skipIf(skipsBecause(procMissing))('a bro stopped, taken over and resumed', () => {
  it('stops with exit 1 and leaves the workspace and the state file as the other bro left them', async () => {
    const s = project();
    const first = await startInGitAm(broArgv(s, '--dry-run'));
    try {
      first.child.kill('SIGSTOP');
      // Its heartbeat stops with it: as if the stale period had passed.
      const past = new Date(Date.now() - 10 * 60_000);
      utimesSync(join(s.work, '.bro/lock'), past, past);

      // Another bro stops the git am the first one left running, takes the workspace over and patches it.
      const other = await runCli(broArgv(s, '--dry-run', '--ci', '--kill-orphans'));
      expect(other.code, other.stderr).toBe(0);
      expect(other.stderr).toContain(`left by pid ${first.child.pid}`);
      const br = join(s.work, 'bottlerocket');
      const head = git(br, 'rev-parse', 'HEAD');
      expect(head).not.toBe(s.upstream.tags['v1.0.4']);
      const state = readFileSync(join(s.work, '.bro/state.json'), 'utf8');

      first.child.kill('SIGCONT');
      expect(await first.exited, first.stderr()).toBe(1);
      expect(first.stderr()).toContain('Another bro took over the workspace lock');
      expect(first.stderr()).toContain('Nothing of this run was undone');
      // No rollback to the pin, no record of its own failure.
      expect(git(br, 'rev-parse', 'HEAD')).toBe(head);
      expect(git(br, 'status', '--porcelain')).toBe('');
      expect(readFileSync(join(s.work, '.bro/state.json'), 'utf8')).toBe(state);
      expect(existsSync(join(s.work, '.bro/lock'))).toBe(false);
    } finally {
      first.child.kill('SIGKILL');
      first.cleanup();
    }
  });
});
