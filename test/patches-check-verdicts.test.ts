import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../src/patches/check/check-report.js';
import { runCli } from './helpers/cli.js';
import {
  commitAll,
  git,
  initRepo,
  makePatch,
  makeProject,
  makeUpstream,
  scratchDirs,
  writeFiles,
  writeSeries,
} from './helpers/git-fixtures.js';

/**
 * Verdicts read from upstream's own files, through the CLI, on small
 * upstreams with upstream's layout: each release tag is the base plus the
 * changes given (as Bottlerocket tags releases on release branches).
 */

const dirs = scratchDirs();
afterAll(() => dirs.removeAll());

/** A repository with `base` tagged `baseTag`, and each release tag its own commit on it. */
function upstreamWith(
  base: Record<string, string>,
  baseTag: string,
  releases: Record<string, Record<string, string | null>>,
) {
  const repo = initRepo(join(dirs.make('bro-verdicts-'), 'upstream'));
  writeFiles(repo, base);
  commitAll(repo, baseTag);
  git(repo, 'tag', '-a', '-m', baseTag, baseTag);
  for (const [tag, files] of Object.entries(releases)) {
    git(repo, 'checkout', '--quiet', '--detach', baseTag);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) git(repo, 'rm', '--quiet', path);
      else writeFiles(repo, { [path]: content });
    }
    commitAll(repo, tag);
    git(repo, 'tag', '-a', '-m', tag, tag);
  }
  return repo;
}

/** A series of commits on `base`, each on top of the one before, as format-patch files named NNNN-<slug>.patch. */
function seriesOf(repo: string, base: string, commits: { slug: string; files: Record<string, string> }[]) {
  const out: Record<string, string> = {};
  const work = join(dirs.make('bro-verdicts-work-'), 'w');
  git(join(work, '..'), 'clone', '--quiet', repo, 'w');
  git(work, 'checkout', '--quiet', '--detach', base);
  commits.forEach((c, i) => {
    const name = `${String(i + 1).padStart(4, '0')}-${c.slug}.patch`;
    out[name] = makePatch(work, 'HEAD', c.slug, c.files);
    writeFiles(work, c.files);
    commitAll(work, c.slug);
  });
  return out;
}

function projectWith(source: string, base: string, patches: Record<string, string>, variant = false): string {
  const project = variant
    ? makeProject(makeUpstream(dirs.make('bro-verdicts-up-')))
    : dirs.make('bro-verdicts-project-');
  writeSeries(project, source, base, patches);
  return project;
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

async function check(project: string, env: Record<string, string>, ...args: string[]) {
  return runCli(
    ['patches', 'check', '--project-dir', project, '--cache-dir', dirs.make('bro-verdicts-cache-'), ...args],
    env,
  );
}

describe('earlier patches count, at the base and at every tag', () => {
  const base = { 'a.txt': lines('one', 'two', 'three'), 'c.txt': lines('c1', 'c2'), 'd.txt': lines('d1', 'd2') };
  const repo = upstreamWith(base, 'v1.0.0', {
    'v1.0.1': { 'a.txt': lines('one', 'TWO', 'three') },
    'v1.0.2': { 'c.txt': null },
    'v1.0.3': { 'c.txt': null, 'd.txt': null },
  });
  const patches = seriesOf(repo, 'v1.0.0', [
    {
      slug: 'create-new',
      files: { 'a.txt': lines('one', 'two', 'two and a half', 'three'), 'src/new.rs': lines('fn new() {}') },
    },
    { slug: 'edit-new', files: { 'src/new.rs': lines('fn new() {}', 'fn newer() {}') } },
    { slug: 'edit-c-and-d', files: { 'c.txt': lines('c1', 'c1.5', 'c2'), 'd.txt': lines('d1', 'd1.5', 'd2') } },
  ]);
  const project = projectWith('bottlerocket', '1.0.0', patches);
  const env = { BRO_BOTTLEROCKET_URL: repo };

  it('checks a patch on a file an earlier patch creates on top of it: clean at the base, with no warning, blocked where that one fails', async () => {
    const result = await check(project, env, '--tags', 'v1.0.0,v1.0.1', '--json');
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report.tags.map((t) => [t.tag, t.patches.map((p) => p.status)])).toEqual([
      ['v1.0.0', ['clean', 'clean', 'clean']],
      ['v1.0.1', ['conflict', 'blocked', 'clean']],
    ]);
    expect(report.warnings).toEqual([]);
    expect(result.stderr).not.toContain('at its own base');
    // A file the failed patch creates is not one upstream lacks.
    expect(report.tags[1]!.patches[1]!.missing).toBeUndefined();
  });

  it('names each file gone with the tag it went at', async () => {
    const report = JSON.parse((await check(project, env, '--json')).stdout) as CheckReport;
    expect(report.advice![2]!.text).toContain('`c.txt` gone from v1.0.2 and `d.txt` gone from v1.0.3');
  });

  it('a check with no tag to check exits 2 and says why, unless --allow-empty', async () => {
    const empty = await check(project, env, '--since', 'v1.0.3');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('No bottlerocket tags to check');
    expect(empty.stderr).toContain('no release tag newer than --since v1.0.3 (its newest is v1.0.3)');
    expect(empty.stderr).toContain('--allow-empty');
    const allowed = await check(project, env, '--since', 'v1.0.3', '--allow-empty');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('No tags to check');
  });
});

describe('bro patches rebase, stopped at a conflict after a patch it left out', () => {
  it("names the series' patch, not git am's count", async () => {
    const base = { 'a.txt': lines('one', 'two', 'three'), 'b.txt': lines('b') };
    const repo = upstreamWith(base, 'v1.0.0', {
      'v1.0.1': { 'b.txt': lines('b', 'bb'), 'a.txt': lines('one', 'TWO', 'three') },
    });
    const patches = seriesOf(repo, 'v1.0.0', [
      { slug: 'edit-b', files: { 'b.txt': lines('b', 'bb') } },
      { slug: 'edit-a', files: { 'a.txt': lines('one', 'two', 'two and a half', 'three') } },
    ]);
    const project = projectWith('bottlerocket', '1.0.0', patches);
    const result = await runCli(
      [
        'patches',
        'rebase',
        '--onto',
        'v1.0.1',
        '--project-dir',
        project,
        '--work-dir',
        dirs.make('bro-verdicts-rb-'),
        '--cache-dir',
        dirs.make('bro-verdicts-cache-'),
      ],
      { BRO_BOTTLEROCKET_URL: repo },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('0002-edit-a.patch does not apply to v1.0.1');
    expect(result.stderr).toContain('The rebase stopped at 0002 (the 1st of the 1 patches git am applies)');
    expect(result.stderr).toContain('Patch failed at 0002 edit-a');
    expect(result.stderr).not.toContain('Patch failed at 0001');
  });
});

describe('a patch upstreamed in another form', () => {
  it('admin container: a package the Dockerfile installs, an sshd option the start script writes from user data', async () => {
    const dockerfile = (packages: string) =>
      lines(
        'FROM amazonlinux:2',
        'RUN yum update -y \\',
        `    && yum install -y ${packages} \\`,
        '    && yum clean all',
      );
    const base = {
      VERSION: 'v0.5.2\n',
      Dockerfile: dockerfile('openssh-server sudo'),
      sshd_config: lines('PasswordAuthentication no'),
      'start_admin_sshd.sh': lines('#!/usr/bin/env bash', 'exec /usr/sbin/sshd -e -D'),
    };
    const repo = upstreamWith(base, 'v0.5.2', {
      'v0.6.0': {
        VERSION: 'v0.6.0\n',
        Dockerfile: dockerfile('openssh-server sudo procps-ng jq'),
        'start_admin_sshd.sh': lines(
          '#!/usr/bin/env bash',
          `if authorized_keys_command=$(jq -e -r '.["ssh"]["authorized-keys-command"]?' "\${USER_DATA}"); then`,
          '  echo "AuthorizedKeysCommand ${authorized_keys_command}" >> "${SSHD_CONFIG_FILE}"',
          'fi',
          'exec /usr/sbin/sshd -e -D',
        ),
      },
    });
    const patches = seriesOf(repo, 'v0.5.2', [
      {
        slug: 'install-ps-and-netstat',
        files: { Dockerfile: dockerfile('openssh-server sudo \\\n        procps-ng net-tools') },
      },
      {
        slug: 'eic',
        files: {
          sshd_config: lines(
            'PasswordAuthentication no',
            'AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f',
          ),
        },
      },
    ]);
    const project = projectWith('admin-container', '0.5.2', patches);
    const result = await check(project, { BRO_ADMIN_CONTAINER_URL: repo }, '--source', 'admin-container', '--json');
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report.schemaVersion).toBe(2);
    expect(report.tags[0]!.patches.map((p) => p.status)).toEqual(['conflict', 'replaced']);
    expect(report.tags[0]!.patches[1]!.applies).toBe('clean');
    const [ps, eic] = report.advice!;
    expect(ps!.kind).toBe('port');
    expect(ps!.text).toContain("package `procps-ng` (v0.6.0): upstream's `Dockerfile` installs it");
    expect(ps!.text).toContain('Upstream has no equivalent of package `net-tools`');
    expect(eic!.kind).toBe('drop');
    expect(eic!.text).toContain('upstreamed in another form by v0.6.0');
    expect(eic!.text).toContain('set `ssh.authorized-keys-command = "/opt/aws/bin/eic_run_authorized_keys %u %f"`');
  });

  it("bottlerocket: a setting under another key, found by its fields; a template rendering the same lines, which lacks our escaping; the variant's last tag and the way forward", async () => {
    const model = (extra: string, settings: string) =>
      lines(
        '#[model]',
        'struct Settings {',
        '    kubernetes: KubernetesSettings,',
        settings,
        '}',
        '#[model]',
        'struct KubernetesSettings {',
        '    max_pods: u32,',
        '}',
        extra,
      );
    const containerd = (extra: string) =>
      lines('version = 2', '[plugins."io.containerd.grpc.v1.cri"]', 'enable_selinux = true', extra);
    const credentials = lines(
      '#[model]',
      'struct RegistryCredential {',
      '    registry: SingleLineString,',
      '    username: SingleLineString,',
      '    password: SingleLineString,',
      '    auth: ValidBase64,',
      '    identitytoken: SingleLineString,',
      '}',
      '#[model]',
      'struct RegistrySettings {',
      '    credentials: Vec<RegistryCredential>,',
      '}',
    );
    const upstreamTemplate = lines(
      '{{#each settings.container-registry.credentials}}',
      '[plugins."io.containerd.grpc.v1.cri".registry.configs."{{registry}}".auth]',
      '{{#if password}}',
      'password = "{{{password}}}"',
      '{{/if}}',
      '{{/each}}',
    );
    const variant = (v: string) => ({ [`variants/${v}/Cargo.toml`]: `[package]\nname = "${v}"\n` });
    const base = {
      'Release.toml': 'version = "1.0.0"\n',
      'sources/models/src/lib.rs': model('', ''),
      'packages/containerd/containerd-config-toml_aws-k8s': containerd(''),
      ...variant('aws-k8s-1.18'),
    };
    const repo = upstreamWith(base, 'v1.0.0', {
      'v1.1.0': {
        'sources/models/src/lib.rs': model(credentials, '    container_registry: RegistrySettings,'),
        'packages/containerd/containerd-config-toml_aws-k8s': containerd(upstreamTemplate),
      },
      'v1.2.0': {
        'sources/models/src/lib.rs': model(credentials, '    container_registry: RegistrySettings,'),
        'packages/containerd/containerd-config-toml_aws-k8s': containerd(upstreamTemplate),
        'variants/aws-k8s-1.18/Cargo.toml': null,
        ...variant('aws-k8s-1.19'),
        ...variant('aws-k8s-1.20'),
      },
    });
    const auth = lines(
      '#[model]',
      'struct RegistryAuth {',
      '    name: RegistryHost,',
      '    username: Option<RegistryAuthValue>,',
      '    password: Option<RegistryAuthValue>,',
      '    auth: Option<ValidBase64>,',
      '}',
    );
    const ours = lines(
      '{{#each settings.cri-registry-auths}}',
      '[plugins."io.containerd.grpc.v1.cri".registry.configs.{{toml_encode name}}.auth]',
      '{{#if password}}',
      'password = {{toml_encode password}}',
      '{{/if}}',
      '{{/each}}',
    );
    const patches = seriesOf(repo, 'v1.0.0', [
      {
        slug: 'models-registry-auths',
        files: { 'sources/models/src/lib.rs': model(auth, '    cri_registry_auths: Vec<RegistryAuth>,') },
      },
      {
        slug: 'containerd-registry-auths',
        files: { 'packages/containerd/containerd-config-toml_aws-k8s': containerd(ours) },
      },
    ]);
    const project = projectWith('bottlerocket', '1.0.0', patches, true);
    const result = await check(project, { BRO_BOTTLEROCKET_URL: repo }, '--source', 'bottlerocket', '--json');
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report.tags.map((t) => [t.tag, t.patches[0]!.status])).toEqual([
      ['v1.1.0', 'replaced'],
      ['v1.2.0', 'replaced'],
    ]);
    const [model0, template] = report.advice!;
    expect(model0!.text).toContain(
      "`settings.cri-registry-auths` (v1.1.0): upstream's `settings.container-registry.credentials` (our `name` is its `registry`)",
    );
    expect(template!.kind).toBe('port');
    expect(template!.text).toContain('renders the same lines from `settings.container-registry.credentials`');
    expect(template!.text).toContain(
      'Upstream has no equivalent of escaping: upstream writes `password` as they are (`password = "{{{password}}}"`)',
    );
    expect(report.forward).toMatchObject({
      tag: 'v1.1.0',
      variant: 'aws-k8s-1.18',
      leaves: { tag: 'v1.2.0', successor: 'aws-k8s-1.19' },
      command: 'bro upgrade aws-k8s-1.18 --to v1.1.0',
      carries: 1,
    });
    expect(report.forward!.patches.map((p) => p.action)).toEqual(['drop', 'port']);

    const markdown = await check(
      project,
      { BRO_BOTTLEROCKET_URL: repo },
      '--source',
      'bottlerocket',
      '--format',
      'markdown',
    );
    expect(markdown.stdout).toContain('### The way forward');
    expect(markdown.stdout).toContain(
      '**v1.1.0 is the newest release that still ships `aws-k8s-1.18`.** v1.2.0 drops `aws-k8s-1.18`; its successor there is `aws-k8s-1.19`. There the series carries 1 of its 2 patches (1 dropped). `bro upgrade aws-k8s-1.18 --to v1.1.0` would:',
    );
    expect(markdown.stdout).toContain('| **0001** | drop |');
    const html = await check(project, { BRO_BOTTLEROCKET_URL: repo }, '--source', 'bottlerocket', '--format', 'html');
    expect(html.stdout).toContain('<h3 id="bottlerocket-forward">The way forward</h3>');
    expect(html.stdout).toContain('<span class="kind k-port">port</span><b>0002</b>');

    // A series on the variant's last release already: nothing newer ships it, and the report says what follows it.
    const onLast = seriesOf(repo, 'v1.1.0', [
      {
        slug: 'containerd-selinux',
        files: { 'packages/containerd/containerd-config-toml_aws-k8s': containerd(`${upstreamTemplate}# ours\n`) },
      },
    ]);
    writeSeries(project, 'bottlerocket', '1.1.0', onLast);
    const last = JSON.parse(
      (await check(project, { BRO_BOTTLEROCKET_URL: repo }, '--source', 'bottlerocket', '--json')).stdout,
    ) as CheckReport;
    expect(last.series.base).toBe('1.1.0');
    expect(last.forward).toMatchObject({
      tag: 'v1.1.0',
      leaves: { tag: 'v1.2.0', successor: 'aws-k8s-1.19' },
      carries: 1,
    });
    expect(last.forward!.patches.map((p) => p.action)).toEqual(['keep']);
  });
});
