import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { createProject } from '../src/adapters/project.js';
import { validateVariant } from '../src/config/variant.js';
import { ConfigError } from '../src/shared/errors.js';
import { adminSourceTemplate } from '../src/build/steps/set-admin-source.js';
import { runCli } from './helpers/cli.js';
import { REPO_ROOT, removeDir, tempDir, writeFiles } from './helpers/git-fixtures.js';
import { problems } from './helpers/variant-problems.js';

const valid = `
name = "aws-k8s-1.18"
regions = ["ap-northeast-1", "us-west-1"]
share-with = ["111111111111"]
[sources.admin-container]
ref = "v0.5.2"
[admin-image]
repository = "bottlerocket-admin"
registry-account = "111111111111"
`;

describe('variant files', () => {
  it('fills in defaults: arch, the public upstream URLs, empty tags', () => {
    const v = validateVariant('f', parse(valid), 'aws-k8s-1.18');
    expect(v.arch).toBe('x86_64');
    expect(v.sources.bottlerocket.url).toBe('https://github.com/bottlerocket-os/bottlerocket.git');
    expect(v.sources.bottlerocket.ref).toBeUndefined();
    expect(v.ami.tags).toEqual({});
  });

  it('names the file, the key, the value and the expected form of an account ID', () => {
    const message = problems(valid.replace('share-with = ["111111111111"]', 'share-with = ["111111111111", "12345"]'));
    expect(message).toContain('variants/aws-k8s-1.18.toml');
    expect(message).toContain('share-with[1]');
    expect(message).toContain('"12345"');
    expect(message).toContain('12-digit');
  });

  it('rejects a region that does not have the AWS shape', () => {
    const message = problems(valid.replace('"us-west-1"', '"us-west"'));
    expect(message).toContain('regions[1]');
    expect(message).toContain('AWS region');
  });

  it('rejects an AMI name with characters AWS does not allow', () => {
    const message = problems(`${valid}\n[ami]\nname = "bottlerocket-{{version}}"\n`);
    expect(message).toContain('ami.name');
    expect(message).toContain('"bottlerocket-{{version}}"');
  });

  it('rejects an unknown key instead of ignoring it', () => {
    const message = problems(`${valid}\n[ami]\ndata-volume = 30\n`);
    expect(message).toContain('ami.data-volume: unknown key');
  });

  it('rejects a name that does not match the file', () => {
    expect(problems(valid.replace('name = "aws-k8s-1.18"', 'name = "aws-k8s-1.17"'))).toContain(
      'name = "aws-k8s-1.17"',
    );
  });

  it('rejects per-region infra settings for a region that is not built', () => {
    const message = problems(`${valid}\n[infra.region.eu-west-1]\nrole = "arn:aws:iam::111111111111:role/x"\n`);
    expect(message).toContain('infra.region.eu-west-1');
  });

  it('reports invalid TOML with the file name', async () => {
    const root = tempDir();
    writeFiles(root, { 'variants/broken.toml': 'name = "broken\n' });
    await expect(createProject(root).readVariant('broken')).rejects.toThrow(
      /variants\/broken\.toml: is not valid TOML/,
    );
  });

  it('lists known variants when the requested one does not exist', async () => {
    const error = await createProject(REPO_ROOT)
      .readVariant('aws-k8s-9.99')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).hint).toContain('aws-k8s-1.18');
  });

  it('bro variants and bro variants show read the --project-dir given after the subcommand', async () => {
    const root = tempDir();
    try {
      writeFiles(root, { 'variants/aws-k8s-1.18.toml': valid });
      const listed = await runCli(['variants', '--project-dir', root]);
      expect(listed.stdout).toBe('aws-k8s-1.18\tx86_64\tap-northeast-1,us-west-1\n');
      const shown = await runCli(['variants', 'show', 'aws-k8s-1.18', '--project-dir', root]);
      expect(shown.code).toBe(0);
      // The resolved config: defaults filled in.
      expect(parse(shown.stdout)).toMatchObject({
        regions: ['ap-northeast-1', 'us-west-1'],
        arch: 'x86_64',
        sources: { bottlerocket: { url: 'https://github.com/bottlerocket-os/bottlerocket.git' } },
      });
    } finally {
      removeDir(root);
    }
  });

  it('the shipped aws-k8s-1.18 variant is valid and describes the source document setup', async () => {
    const v = await createProject(REPO_ROOT).readVariant('aws-k8s-1.18');
    expect(v.regions).toEqual(['ap-northeast-1', 'us-west-1', 'us-east-1']);
    expect(v.sources['admin-container'].ref).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('partitions', () => {
  it('rejects regions that span AWS partitions: one account and registry cannot serve both', () => {
    const message = problems(
      valid.replace('regions = ["ap-northeast-1", "us-west-1"]', 'regions = ["ap-northeast-1", "cn-north-1"]'),
    );
    expect(message).toContain('span the AWS partitions aws, aws-cn');
  });

  it('points the generated admin source at the partition of the variant regions', () => {
    const china = validateVariant(
      'f',
      parse(valid.replace('regions = ["ap-northeast-1", "us-west-1"]', 'regions = ["cn-north-1", "cn-northwest-1"]')),
      'aws-k8s-1.18',
    );
    expect(adminSourceTemplate(china, 'v0.5.2-hc1')).toBe(
      '111111111111.dkr.ecr.{{ settings.aws.region }}.amazonaws.com.cn/bottlerocket-admin:v0.5.2-hc1',
    );
    const commercial = validateVariant('f', parse(valid), 'aws-k8s-1.18');
    expect(adminSourceTemplate(commercial, 'v0.5.2-hc1')).toBe(
      '111111111111.dkr.ecr.{{ settings.aws.region }}.amazonaws.com/bottlerocket-admin:v0.5.2-hc1',
    );
  });
});
