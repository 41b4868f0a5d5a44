import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { makeProject, makeUpstream, removeDir, writeFiles } from './helpers/git-fixtures.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

describe('bro matrix', () => {
  it('prints every variant × arch as versioned JSON, and the include list GitHub Actions takes', async () => {
    const upstream = makeUpstream();
    const project = makeProject(upstream);
    dirs.push(upstream.root, project);
    writeFiles(project, {
      'variants/aws-k8s-1.19.toml': [
        'name = "aws-k8s-1.19"',
        'arch = "aarch64"',
        'regions = ["us-east-1"]',
        '[sources.admin-container]',
        `ref = "${upstream.adminCommit}"`,
        '[admin-image]',
        'repository = "bottlerocket-admin"',
        'registry-account = "111111111111"',
      ].join('\n'),
    });
    const include = [
      { variant: 'aws-k8s-1.18', arch: 'x86_64', regions: ['ap-northeast-1', 'us-west-1', 'us-east-1'] },
      { variant: 'aws-k8s-1.19', arch: 'aarch64', regions: ['us-east-1'] },
    ];
    const matrix = await runCli(['matrix', '--project-dir', project]);
    expect(matrix.code).toBe(0);
    expect(JSON.parse(matrix.stdout)).toEqual({ schemaVersion: 1, kind: 'bro.matrix', include });
    const github = await runCli(['matrix', '--project-dir', project, '--github']);
    expect(JSON.parse(github.stdout)).toEqual({ include });
  });

  it('reports an invalid variant file as a config error', async () => {
    const upstream = makeUpstream();
    const project = makeProject(upstream);
    dirs.push(upstream.root, project);
    writeFiles(project, { 'variants/broken.toml': 'name = "broken"\n' });
    const result = await runCli(['matrix', '--project-dir', project]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('variants/broken.toml');
  });
});
