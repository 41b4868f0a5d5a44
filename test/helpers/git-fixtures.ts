import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sealedEnv } from './env.js';

/**
 * Small git repositories with upstream's layout, built by the tests (no
 * upstream file is copied): a Bottlerocket-like tree with Release.toml, the
 * model's symlinked variant directories and the templates bro patches, and an
 * admin-container-like tree with VERSION. Fixed identity, dates and branch,
 * so commits are reproducible (changesets' gitdir()).
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const GIT_ENV = {
  ...sealedEnv(),
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.invalid',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.invalid',
  GIT_AUTHOR_DATE: '2020-12-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2020-12-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export function tempDir(prefix = 'bro-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The temporary directories a test file makes: `make(prefix)` as it goes, `removeAll()` after them. */
export function scratchDirs() {
  const made: string[] = [];
  return {
    made,
    make(prefix: string): string {
      const dir = tempDir(prefix);
      made.push(dir);
      return dir;
    },
    removeAll(): void {
      for (const dir of made.splice(0)) removeDir(dir);
    },
  };
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

export function initRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=develop');
  return dir;
}

export function commitAll(dir: string, message: string): string {
  git(dir, 'add', '--all');
  git(dir, 'commit', '--quiet', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

export const ADMIN_SOURCE_TEMPLATE = '{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.5.2';

/** The variables every `cargo make` of the fixture's build (aws-k8s-1.18, x86_64, 1.0.4-hc1) gets, as Makefile.toml takes them. */
export const BUILDSYS_ARGS = [
  '-e',
  'BUILDSYS_VARIANT=aws-k8s-1.18',
  '-e',
  'BUILDSYS_ARCH=x86_64',
  '-e',
  'BUILDSYS_VERSION_BUILD=hc1',
] as const;

/** The admin host container's defaults as upstream writes them, its image at admin container `version`. */
export const adminContainerDefaults = (version: string) =>
  [
    '[settings.host-containers.admin]',
    'enabled = false',
    'superpowered = true',
    '',
    '[metadata.settings.host-containers.admin.source]',
    'setting-generator = "schnauzer settings.host-containers.admin.source"',
    `template = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:${version}"`,
  ].join('\n');

/** Files of a Bottlerocket-like tree at `version` (written from scratch, upstream's layout). */
export function bottlerocketFiles(version: string): Record<string, string> {
  return {
    'Release.toml': `version = "${version}"\n\n[migrations]\n`,
    'Makefile.toml': '[config]\nskip_core_tasks = true\n\n[tasks.default]\nalias = "build"\n',
    '.gitignore': '/build\n**/target/\n/.cargo\n/Infra.toml\n',
    'sources/models/defaults.toml': [
      adminContainerDefaults('v0.5.2'),
      '',
      '[settings.host-containers.control]',
      'enabled = true',
      '',
    ].join('\n'),
    'sources/models/src/lib.rs': 'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n}\n',
    'sources/models/src/aws-k8s-1.15/mod.rs':
      'pub struct Settings {\n    motd: Option<String>,\n    kubernetes: Option<KubernetesSettings>,\n}\n',
    'sources/models/src/aws-k8s-1.15/override-defaults.toml': '[settings.kubernetes]\nmax-pods = 110\n',
    'packages/containerd/containerd-config-toml_aws-k8s':
      '[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "pause"\n',
    'packages/kubernetes-1.18/kubelet-config':
      'kind: KubeletConfiguration\nclusterDomain: {{settings.kubernetes.cluster-domain}}\n',
  };
}

/** The model's variant directories are a chain of symlinks upstream: 1.18 → 1.17 → 1.16 → 1.15. */
export function linkModelVariants(dir: string): void {
  const src = join(dir, 'sources/models/src');
  for (const [link, target] of [
    ['aws-k8s-1.16', 'aws-k8s-1.15'],
    ['aws-k8s-1.17', 'aws-k8s-1.16'],
    ['aws-k8s-1.18', 'aws-k8s-1.17'],
  ] as const) {
    rmSync(join(src, link), { force: true });
    symlinkSync(target, join(src, link));
  }
}

export interface UpstreamFixture {
  root: string;
  bottlerocket: string;
  adminContainer: string;
  /** Commit of each Bottlerocket tag. */
  tags: Record<string, string>;
  adminCommit: string;
}

/**
 * A Bottlerocket-like repo with tags v1.0.4 and v1.0.5 (annotated, like
 * upstream's) and an admin-container-like repo whose v0.5.2 commit is untagged.
 */
export function makeUpstream(root = tempDir('bro-upstream-')): UpstreamFixture {
  const bottlerocket = initRepo(join(root, 'bottlerocket'));
  writeFiles(bottlerocket, bottlerocketFiles('1.0.4'));
  linkModelVariants(bottlerocket);
  const tags: Record<string, string> = {};
  tags['v1.0.4'] = commitAll(bottlerocket, 'Update Release.toml for v1.0.4');
  git(bottlerocket, 'tag', '-a', '-m', 'v1.0.4', 'v1.0.4');
  writeFiles(bottlerocket, { 'Release.toml': 'version = "1.0.5"\n\n[migrations]\n' });
  tags['v1.0.5'] = commitAll(bottlerocket, 'Update Release.toml for v1.0.5');
  git(bottlerocket, 'tag', '-a', '-m', 'v1.0.5', 'v1.0.5');

  const adminContainer = initRepo(join(root, 'admin-container'));
  writeFiles(adminContainer, {
    VERSION: 'v0.5.1\n',
    Dockerfile: 'ARG DOCKER_ARCH\nFROM $DOCKER_ARCH/amazonlinux:2\nRUN yum install -y openssh-server sudo\n',
    Makefile: 'build:\n\tdocker build --tag x .\n',
    sshd_config: 'PasswordAuthentication no\n',
    'start_admin_sshd.sh': '#!/bin/bash\nset -e\nexec /usr/sbin/sshd -D\n',
  });
  commitAll(adminContainer, 'Version v0.5.1');
  writeFiles(adminContainer, { VERSION: 'v0.5.2\n' });
  const adminCommit = commitAll(adminContainer, 'build the static bash binary with musl');
  return { root, bottlerocket, adminContainer, tags, adminCommit };
}

/** Moves tag `tag` to a new commit, as an upstream force-push would. */
export function moveTag(repo: string, tag: string, change: Record<string, string>): string {
  git(repo, 'checkout', '--quiet', tag);
  writeFiles(repo, change);
  const commit = commitAll(repo, `retag ${tag}`);
  git(repo, 'tag', '-f', '-a', '-m', tag, tag);
  git(repo, 'checkout', '--quiet', 'develop');
  return commit;
}

/**
 * The fixture variant's accounts: real-looking IDs, not the example IDs the
 * preflight refuses (a real build's tests must pass it as a real build would).
 * The first is also the registry account and the caller's account (aws-world.ts).
 */
export const FIXTURE_ACCOUNTS = ['210987654321', '345678901234'] as const;
export const FIXTURE_REGISTRY_ACCOUNT = FIXTURE_ACCOUNTS[0];

/**
 * A bro project (variants/, patches/, Infra.toml.tpl) in a temporary directory,
 * pointing at the fixture upstream. Infra.toml.tpl is this repository's own.
 */
export function makeProject(upstream: UpstreamFixture, options: { variant?: string; extraToml?: string } = {}): string {
  const root = tempDir('bro-project-');
  cpSync(join(REPO_ROOT, 'Infra.toml.tpl'), join(root, 'Infra.toml.tpl'));
  writeFiles(root, {
    'variants/aws-k8s-1.18.toml':
      options.variant ??
      [
        'name = "aws-k8s-1.18"',
        'arch = "x86_64"',
        'regions = ["ap-northeast-1", "us-west-1", "us-east-1"]',
        `share-with = [${FIXTURE_ACCOUNTS.map((a) => `"${a}"`).join(', ')}]`,
        '',
        '[sources.bottlerocket]',
        `url = ${JSON.stringify(upstream.bottlerocket)}`,
        '',
        '[sources.admin-container]',
        `url = ${JSON.stringify(upstream.adminContainer)}`,
        `ref = "${upstream.adminCommit}"`,
        '',
        '[admin-image]',
        'repository = "bottlerocket-admin"',
        `registry-account = "${FIXTURE_REGISTRY_ACCOUNT}"`,
        '',
        options.extraToml ?? '',
      ].join('\n'),
  });
  return root;
}

/** A format-patch file made by committing `files` on top of `base` in a scratch clone. */
export function makePatch(
  repo: string,
  base: string,
  subject: string,
  files: Record<string, string>,
  body = 'Why: tests.\n\nUpstream-Status: Inappropriate [test]',
): string {
  const scratch = tempDir('bro-patch-');
  try {
    git(scratch, 'clone', '--quiet', repo, 'w');
    const work = join(scratch, 'w');
    git(work, 'checkout', '--quiet', '--detach', base);
    writeFiles(work, files);
    git(work, 'add', '--all');
    git(work, 'commit', '--quiet', '-m', `${subject}\n\n${body}`);
    return execFileSync('git', ['format-patch', '--stdout', '--no-signature', '--zero-commit', '-1', 'HEAD'], {
      cwd: work,
      env: GIT_ENV,
      encoding: 'utf8',
    });
  } finally {
    removeDir(scratch);
  }
}

/** Writes a series into a project: patches/<source>/<base>/{series, NNNN-*.patch}. */
export function writeSeries(project: string, source: string, base: string, patches: Record<string, string>): void {
  writeFiles(project, {
    [`patches/${source}/${base}/series`]: Object.keys(patches)
      .map((n) => `${n}\n`)
      .join(''),
    ...Object.fromEntries(Object.entries(patches).map(([n, c]) => [`patches/${source}/${base}/${n}`, c])),
  });
}

/**
 * An upstream, a project pointing at it and an empty mirror cache, with the
 * directories recorded in `cleanup` for the test's afterEach to remove.
 */
export function makeWorld(cleanup: string[], options: { extraToml?: string } = {}) {
  const upstream = makeUpstream();
  const project = makeProject(upstream, options);
  const cacheDir = tempDir('bro-cache-');
  cleanup.push(upstream.root, project, cacheDir);
  return { upstream, project, cacheDir, br: join(project, 'work', 'aws-k8s-1.18', 'bottlerocket') };
}
