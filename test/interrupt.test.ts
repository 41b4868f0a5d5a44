import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, makePatch, makeProject, makeUpstream, removeDir, tempDir, writeSeries } from './helpers/git-fixtures.js';
import { interruptInGitAm } from './helpers/processes.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

describe('Ctrl-C', () => {
  it('during patching stops git, restores the checkout to the pin and records nothing', async () => {
    const upstream = makeUpstream();
    const project = makeProject(upstream);
    const cacheDir = tempDir('bro-cache-');
    dirs.push(upstream.root, project, cacheDir);
    const patch = makePatch(upstream.bottlerocket, 'v1.0.4', 'models: x', {
      'sources/models/src/lib.rs': 'pub struct X;\n',
    });
    writeSeries(project, 'bottlerocket', '1.0.4', { '0001-models-x.patch': patch });

    // Interrupted while git am runs.
    const dryRun = ['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run'];
    const { code, stderr } = await interruptInGitAm([...dryRun, '--project-dir', project, '--cache-dir', cacheDir]);

    expect(code).toBe(130);
    expect(stderr).toContain('Interrupted');
    const br = join(project, 'work/aws-k8s-1.18/bottlerocket');
    expect(git(br, 'rev-parse', 'HEAD')).toBe(upstream.tags['v1.0.4']);
    expect(git(br, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(br, '.git/rebase-apply'))).toBe(false);
    const statePath = join(project, 'work/aws-k8s-1.18/.bro/state.json');
    expect(existsSync(statePath) ? readFileSync(statePath, 'utf8') : '').not.toContain('patch:bottlerocket');
  });
});
