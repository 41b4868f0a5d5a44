import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceRefs } from '../src/build/steps/resolve.js';
import { findAdminSourceFile, setAdminSource } from '../src/build/steps/set-admin-source.js';
import { validateVariant } from '../src/config/variant.js';
import { parseVersion } from '../src/config/version.js';
import { ConfigError, StepError } from '../src/shared/errors.js';
import { removeDir, REPO_ROOT, tempDir } from './helpers/git-fixtures.js';

/**
 * The generated admin-source commit follows the setting to the file that holds it at each tag
 * (found in the tree), and the variant file picks the admin container per Bottlerocket base.
 * The trees here are small ones in upstream's two layouts, not upstream's files.
 */

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

const SECTION = '[metadata.settings.host-containers.admin.source]';
const ADMIN = `${SECTION}\nsetting-generator = "schnauzer settings.host-containers.admin.source"\ntemplate = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.1.0"\n`;

function tree(files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = tempDir('bro-admin-source-');
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  }
  return root;
}

const variant = validateVariant(
  'variants/aws-k8s-1.18.toml',
  parse(readFileSync(join(REPO_ROOT, 'variants', 'aws-k8s-1.18.toml'), 'utf8')),
  'aws-k8s-1.18',
);

describe('the file that sets the default admin source, found in the tree', () => {
  it('v1.0.4 layout: sources/models/defaults.toml', async () => {
    const root = tree(
      {
        'sources/models/defaults.toml': `[settings.motd]\n\n${ADMIN}`,
        'sources/models/src/aws-k8s-1.15/override-defaults.toml': '[settings.kubernetes]\n',
      },
      { 'sources/models/src/aws-k8s-1.18': 'aws-k8s-1.15' },
    );
    expect(await findAdminSourceFile(root, 'aws-k8s-1.18')).toBe('sources/models/defaults.toml');
  });

  it("v1.1+ layout: the shared file the variant's defaults.d links to, whichever of several sets it; the commit rewrites it there", async () => {
    const root = tree(
      {
        'sources/models/shared-defaults/defaults.toml': '[settings.motd]\n',
        'sources/models/shared-defaults/aws-host-containers.toml': ADMIN,
        // Another variant family's file with the same table: not linked from aws-k8s-1.19's defaults.d.
        'sources/models/shared-defaults/other-host-containers.toml': ADMIN,
      },
      {
        'sources/models/src/aws-k8s-1.19/defaults.d/10-defaults.toml': '../../../shared-defaults/defaults.toml',
        'sources/models/src/aws-k8s-1.19/defaults.d/20-aws-host-containers.toml':
          '../../../shared-defaults/aws-host-containers.toml',
        'sources/models/src/aws-k8s-1.18': './aws-k8s-1.19',
      },
    );
    const file = 'sources/models/shared-defaults/aws-host-containers.toml';
    expect(await findAdminSourceFile(root, 'aws-k8s-1.18')).toBe(file);
    await setAdminSource(variant, 'v0.8.0-hc1').apply(root);
    expect(readFileSync(join(root, file), 'utf8')).toContain(
      'template = "111111111111.dkr.ecr.{{ settings.aws.region }}.amazonaws.com/bottlerocket-admin:v0.8.0-hc1"',
    );
    expect(readFileSync(join(root, 'sources/models/shared-defaults/other-host-containers.toml'), 'utf8')).toBe(ADMIN);
  });

  it('no file, or two the variant links to: a StepError naming them, telling to update set-admin-source.ts', async () => {
    const none = tree({ 'sources/models/defaults.toml': '[settings.motd]\n' });
    await expect(findAdminSourceFile(none, 'aws-k8s-1.18')).rejects.toThrow(StepError);
    await expect(findAdminSourceFile(none, 'aws-k8s-1.18')).rejects.toThrow(/No TOML file under sources\/models has/);
    const two = tree(
      { 'sources/models/shared-defaults/a.toml': ADMIN, 'sources/models/shared-defaults/b.toml': ADMIN },
      {
        'sources/models/src/v/defaults.d/1.toml': '../../../shared-defaults/a.toml',
        'sources/models/src/v/defaults.d/2.toml': '../../../shared-defaults/b.toml',
      },
    );
    await expect(findAdminSourceFile(two, 'v')).rejects.toThrow(
      /a\.toml, sources\/models\/shared-defaults\/b\.toml all set/,
    );
  });
});

describe('the admin container per Bottlerocket base ([sources.admin-container.refs])', () => {
  it('the shipped variant: v1.0.4 takes ref (9fc9090b, v0.5.2), v1.7.2 takes v0.8.0', () => {
    expect(sourceRefs(variant, parseVersion('1.0.4-hc1'), {})['admin-container'].ref).toBe(
      '9fc9090b044d237d5b112689c37cbdeec60c7d9e',
    );
    expect(sourceRefs(variant, parseVersion('1.7.2-hc1'), {})['admin-container'].ref).toBe('v0.8.0');
  });

  it('a base with neither refs."<tag>" nor ref: exit 2, naming the tag', () => {
    const bare = validateVariant(
      'f',
      {
        ...parse(readFileSync(join(REPO_ROOT, 'variants', 'aws-k8s-1.18.toml'), 'utf8')),
        sources: { 'admin-container': { refs: { 'v1.7.2': 'v0.8.0' } } },
      },
      'aws-k8s-1.18',
    );
    expect(() => sourceRefs(bare, parseVersion('1.0.4-hc1'), {})).toThrow(ConfigError);
    expect(() => sourceRefs(bare, parseVersion('1.0.4-hc1'), {})).toThrow(/no ref for v1\.0\.4/);
  });

  it('refs keys must be release tags', () => {
    expect(() =>
      validateVariant(
        'f',
        {
          ...parse(readFileSync(join(REPO_ROOT, 'variants', 'aws-k8s-1.18.toml'), 'utf8')),
          sources: { 'admin-container': { refs: { '1.7.2': 'v0.8.0' } } },
        },
        'aws-k8s-1.18',
      ),
    ).toThrow(/sources\.admin-container\.refs: "1\.7\.2" is not a Bottlerocket release tag/);
  });
});
