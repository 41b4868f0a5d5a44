import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSeriesBase, parseSeriesFile } from '../src/config/series.js';
import { ConfigError } from '../src/shared/errors.js';
import { runCli, broArgv } from './helpers/cli.js';
import { git, makePatch, makeWorld, removeDir, writeSeries } from './helpers/git-fixtures.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

function setup() {
  const world = makeWorld(dirs);
  const build = (...extra: string[]) => runCli(broArgv(world, '--dry-run', ...extra));
  return { ...world, build };
}

const log = (dir: string) => git(dir, 'log', '--format=%s', '-n', '5').split('\n');

describe('series files', () => {
  it('parses names in order, ignoring comments and blank lines', () => {
    expect(parseSeriesFile('s', '# ours\n0001-a.patch\n\n0002-b.patch # why\n')).toEqual([
      '0001-a.patch',
      '0002-b.patch',
    ]);
  });

  it('rejects a line that is not NNNN-name.patch, naming the file and line', () => {
    expect(() => parseSeriesFile('patches/bottlerocket/1.0.4/series', '0001-a.patch\nb.diff\n')).toThrow(ConfigError);
    expect(() => parseSeriesFile('patches/bottlerocket/1.0.4/series', '0001-a.patch\nb.diff\n')).toThrow(
      /series: line 2: "b\.diff"/,
    );
  });

  it('picks the exact base, else the newest lower one with a warning', () => {
    expect(chooseSeriesBase('bottlerocket', ['1.0.4', '1.0.10', '1.0.9'], '1.0.10')).toEqual({ base: '1.0.10' });
    const older = chooseSeriesBase('bottlerocket', ['1.0.4', '1.0.9', '1.1.0'], '1.0.10');
    expect(older?.base).toBe('1.0.9');
    expect(older?.warning).toContain('bro patches check');
    expect(chooseSeriesBase('bottlerocket', ['1.0.4'], '1.0.3')).toBeUndefined();
  });
});

describe('applying the series', () => {
  it('applies each patch as a commit on the pinned commit, then the generated admin source commit; the tree is clean', async () => {
    const s = setup();
    const patch = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: add cri-registry-auths', {
      'sources/models/src/aws-k8s-1.15/mod.rs':
        'pub struct Settings {\n    motd: Option<String>,\n    kubernetes: Option<KubernetesSettings>,\n    cri_registry_auths: Option<Vec<RegistryAuth>>,\n}\n',
    });
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-add-cri-registry-auths.patch': patch });
    const result = await s.build();
    expect(result.code).toBe(0);
    expect(log(s.br).slice(0, 3)).toEqual([
      'bro: default admin container source bottlerocket-admin:v0.5.2-hc1',
      'models: add cri-registry-auths',
      'Update Release.toml for v1.0.4',
    ]);
    expect(git(s.br, 'rev-parse', 'HEAD~2')).toBe(s.upstream.tags['v1.0.4']);
    expect(git(s.br, 'status', '--porcelain')).toBe('');
    // The patch edited the real file behind the symlink chain.
    expect(readFileSync(join(s.br, 'sources/models/src/aws-k8s-1.18/mod.rs'), 'utf8')).toContain('cri_registry_auths');
    expect(readFileSync(join(s.br, 'sources/models/defaults.toml'), 'utf8')).toContain(
      'template = "210987654321.dkr.ecr.{{ settings.aws.region }}.amazonaws.com/bottlerocket-admin:v0.5.2-hc1"',
    );
  });

  it('commits as bro with fixed dates, also on a host with no git identity of its own', async () => {
    const s = setup();
    const result = await runCli(broArgv(s, '--dry-run'), {
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: '',
      GIT_AUTHOR_EMAIL: '',
      GIT_COMMITTER_NAME: '',
      GIT_COMMITTER_EMAIL: '',
    });
    expect(result.stderr).not.toContain('✖');
    expect(result.code).toBe(0);
    expect(git(s.br, 'log', '-1', '--format=%an <%ae> %cn <%ce> %cI')).toBe(
      'bro <bro@localhost> bro <bro@localhost> 2000-01-01T00:00:00+00:00',
    );
  });

  it('reuses the workspace: the rerun keeps the ignored build/ cache and gives the same commits; --discard-changes drops a stray file', async () => {
    const s = setup();
    expect((await s.build()).code).toBe(0);
    const head = git(s.br, 'rev-parse', 'HEAD');
    mkdirSync(join(s.br, 'build', 'rpms'), { recursive: true });
    writeFileSync(join(s.br, 'build', 'rpms', 'kernel.rpm'), 'cached');
    writeFileSync(join(s.br, 'stray.txt'), 'left by hand');
    expect((await s.build()).code).toBe(1);
    expect(existsSync(join(s.br, 'stray.txt'))).toBe(true);
    expect((await s.build('--discard-changes')).code).toBe(0);
    expect(readFileSync(join(s.br, 'build', 'rpms', 'kernel.rpm'), 'utf8')).toBe('cached');
    expect(existsSync(join(s.br, 'stray.txt'))).toBe(false);
    expect(git(s.br, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(s.br, 'status', '--porcelain')).toBe('');
  });

  it('a failing patch names the patch, the file and the hunk, and restores the tree to the pin', async () => {
    const s = setup();
    const good = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'containerd: registry auths', {
      'packages/containerd/containerd-config-toml_aws-k8s':
        '[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "pause"\n\n# auths\n',
    });
    // Written against a tree that has a different lib.rs: its context does not match v1.0.4.
    const bad = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: kubelet settings', {
      'sources/models/src/lib.rs':
        'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n    kube_reserved: Option<String>,\n}\n',
    }).replace(
      ' pub struct KubernetesSettings {\n     cluster_name: Option<String>,',
      ' pub struct KubernetesSettings {\n     cluster_domain: Option<String>,',
    );
    writeSeries(s.project, 'bottlerocket', '1.0.4', {
      '0001-containerd-registry-auths.patch': good,
      '0002-models-kubelet-settings.patch': bad,
    });
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('0002-models-kubelet-settings.patch does not apply to v1.0.4');
    expect(result.stderr).toContain('file sources/models/src/lib.rs, hunk 1 of 1');
    expect(result.stderr).toContain('|     cluster_domain: Option<String>,');
    expect(result.stderr).toContain('|     cluster_name: Option<String>,');
    expect(result.stderr).toContain('--keep-failed');
    expect(git(s.br, 'rev-parse', 'HEAD')).toBe(s.upstream.tags['v1.0.4']);
    expect(git(s.br, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(s.br, '.git', 'rebase-apply'))).toBe(false);
  });

  it('--keep-failed leaves the conflict in place for hand resolution', async () => {
    const s = setup();
    const bad = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: kubelet settings', {
      'sources/models/src/lib.rs':
        'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n    kube_reserved: Option<String>,\n}\n',
    }).replace(
      ' pub struct KubernetesSettings {\n     cluster_name',
      ' pub struct KubernetesSettings {\n     cluster_domain',
    );
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-kubelet-settings.patch': bad });
    const result = await s.build('--keep-failed');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The conflict is left in');
    expect(existsSync(join(s.br, '.git', 'rebase-apply'))).toBe(true);
  });
});
