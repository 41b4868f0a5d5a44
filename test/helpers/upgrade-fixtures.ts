import { readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  adminContainerDefaults,
  commitAll,
  git,
  initRepo,
  makeProject,
  removeDir,
  tempDir,
  writeFiles,
  writeSeries,
  type UpstreamFixture,
} from './git-fixtures.js';
import { formatSeries } from './patch-fixtures.js';

/**
 * Upstreams for `bro upgrade` (upstream's layout, synthetic contents, no
 * upstream file copied), and a project whose series are written against
 * Bottlerocket v1.0.4 and the admin container's untagged v0.5.2:
 *
 *   bottlerocket
 *     v1.0.2  older than the series                          (refused: older than the base)
 *     v1.0.4  the base: sources/models/defaults.toml names admin v0.5.2
 *     v1.4.0  a field renamed on the line 0002 inserts after   0002 conflicts (a person decides)
 *     v1.5.0  0001's setting upstream; container-registry.credentials
 *             ({registry, username, password, auth, identitytoken}), 0002's
 *             setting in upstream's form; the defaults moved to
 *             shared-defaults/ through the variant's defaults.d/,
 *             naming admin v0.6.0                             0001 and 0002 dropped, 0003/0004 carried
 *     v1.6.0  aws-k8s-1.18 removed                            (refused: the variant is gone; last v1.5.0)
 *   admin container
 *     v0.5.2  (untagged) sshd_config lets root in
 *     v0.6.0  root refused (our 0002), a start script that takes sshd's
 *             AuthorizedKeysCommand(User) from the host container's user data
 *
 * Series: bottlerocket 0001 container-log-max-size, 0002 cri-registry-auths,
 * 0003 feature-gates (on 0001's lines), 0004 the kubelet renders them (upstream
 * never has 0003 or 0004: they are what the upgrade carries); admin 0001 EC2
 * Instance Connect in sshd_config, 0002 PermitRootLogin no.
 */

const lines = (...l: string[]) => `${l.join('\n')}\n`;

const KUBERNETES = (...extra: string[]) =>
  lines(
    'use std::collections::HashMap;',
    '',
    '// Kubernetes settings.',
    '#[model]',
    'struct KubernetesSettings {',
    '    cluster_name: String,',
    '    api_server: String,',
    ...extra,
    '    node_labels: HashMap<String, String>,',
    '    max_pods: u32,',
    '}',
    '',
    '// A host container.',
    '#[model]',
    'struct HostContainer {',
    '    source: String,',
    '    enabled: bool,',
    '    superpowered: bool,',
    '    user_data: String,',
    '}',
  );

const SETTINGS = (...extra: string[]) =>
  lines(
    'use std::collections::HashMap;',
    '',
    '#[model]',
    'struct Settings {',
    '    motd: String,',
    ...extra,
    '    kubernetes: KubernetesSettings,',
    '    host_containers: HashMap<String, HostContainer>,',
    '    ntp: NtpSettings,',
    '    updates: UpdatesSettings,',
    '    network: NetworkSettings,',
    '}',
  );

const REGISTRY = lines(
  '',
  '// Registry credentials.',
  '#[model]',
  'struct RegistryCredential {',
  '    registry: String,',
  '    username: String,',
  '    password: String,',
  '    auth: String,',
  '    identitytoken: String,',
  '}',
  '',
  '#[model]',
  'struct RegistrySettings {',
  '    credentials: Vec<RegistryCredential>,',
  '}',
);

const adminDefaults = (version: string) => lines(adminContainerDefaults(version));

const MODEL_DIR = 'sources/models/src/aws-k8s-1.15';

function bottlerocketBase(): Record<string, string> {
  return {
    'Release.toml': lines('version = "1.0.4"', '', '[migrations]'),
    'sources/models/defaults.toml': adminDefaults('v0.5.2'),
    'sources/models/src/lib.rs': KUBERNETES(),
    [`${MODEL_DIR}/mod.rs`]: SETTINGS(),
    [`${MODEL_DIR}/override-defaults.toml`]: lines('[settings.kubernetes]', 'max-pods = 110'),
    'packages/kubernetes-1.18/kubelet-config': lines(
      'kind: KubeletConfiguration',
      'maxPods: {{settings.kubernetes.max-pods}}',
    ),
  };
}

function linkVariants(repo: string, through = 'aws-k8s-1.18'): void {
  const src = join(repo, 'sources/models/src');
  const chain = [
    ['aws-k8s-1.16', 'aws-k8s-1.15'],
    ['aws-k8s-1.17', 'aws-k8s-1.16'],
    ['aws-k8s-1.18', 'aws-k8s-1.17'],
  ];
  for (const [link, target] of chain) {
    rmSync(join(src, link!), { force: true });
    if (link! <= through) symlinkSync(target!, join(src, link!));
  }
}

function release(repo: string, from: string, tag: string, change: () => void): string {
  git(repo, 'checkout', '--quiet', '--detach', from);
  change();
  writeFiles(repo, { 'Release.toml': lines(`version = "${tag.slice(1)}"`, '', '[migrations]') });
  const commit = commitAll(repo, `Release ${tag}`);
  git(repo, 'tag', '-a', '-m', tag, tag);
  return commit;
}

const SSHD = (rootLogin: string) =>
  lines(
    '# sshd for the admin container',
    `PermitRootLogin ${rootLogin}`,
    'PasswordAuthentication no',
    'ChallengeResponseAuthentication no',
    'UsePAM yes',
    'PrintMotd no',
    'Subsystem sftp internal-sftp',
  );

/** A start script in the shape of the admin container's: sshd settings from the user data, EIC when they name it. */
const START_EIC = lines(
  '#!/usr/bin/env bash',
  'set -e',
  'declare -r USER_DATA="/.bottlerocket/host-containers/current/user-data"',
  'if command=$(jq -e -r \'.["ssh"]["authorized-keys-command"]?\' "${USER_DATA}"); then',
  '  echo "AuthorizedKeysCommand ${command}" >> /etc/ssh/sshd_config',
  'fi',
  'if command_user=$(jq -e -r \'.["ssh"]["authorized-keys-command-user"]?\' "${USER_DATA}"); then',
  '  echo "AuthorizedKeysCommandUser ${command_user}" >> /etc/ssh/sshd_config',
  'fi',
  'if [[ $command == /opt/aws/bin/eic_run_authorized_keys* ]] \\',
  '&& [[ $command_user == "ec2-instance-connect" ]]; then',
  '  /opt/aws/bin/eic_harvest_hostkeys || true',
  'fi',
  'exec /usr/sbin/sshd -e -D',
);

export interface UpgradeWorld extends UpstreamFixture {
  project: string;
  cache: string;
  work: string;
}

export function makeUpgradeWorld(): UpgradeWorld {
  const root = tempDir('bro-upgrade-upstream-');
  const bottlerocket = initRepo(join(root, 'bottlerocket'));
  writeFiles(bottlerocket, {
    'Release.toml': lines('version = "1.0.2"', '', '[migrations]'),
    'README.md': 'Bottlerocket\n',
  });
  const tags: Record<string, string> = { 'v1.0.2': commitAll(bottlerocket, 'Release v1.0.2') };
  git(bottlerocket, 'tag', '-a', '-m', 'v1.0.2', 'v1.0.2');
  writeFiles(bottlerocket, bottlerocketBase());
  linkVariants(bottlerocket);
  tags['v1.0.4'] = commitAll(bottlerocket, 'Release v1.0.4');
  git(bottlerocket, 'tag', '-a', '-m', 'v1.0.4', 'v1.0.4');

  tags['v1.4.0'] = release(bottlerocket, 'v1.0.4', 'v1.4.0', () =>
    writeFiles(bottlerocket, {
      [`${MODEL_DIR}/mod.rs`]: SETTINGS().replace('network: NetworkSettings', 'network: NetworkConfig'),
    }),
  );
  const v150 = () => {
    rmSync(join(bottlerocket, 'sources/models/defaults.toml'));
    writeFiles(bottlerocket, {
      'sources/models/shared-defaults/aws-host-containers.toml': adminDefaults('v0.6.0'),
      'sources/models/shared-defaults/kubernetes.toml': lines('[settings.kubernetes]', 'max-pods = 110'),
      'sources/models/src/lib.rs': KUBERNETES('    container_log_max_size: String,') + REGISTRY,
      [`${MODEL_DIR}/mod.rs`]: SETTINGS('    container_registry: RegistrySettings,'),
    });
    rmSync(join(bottlerocket, `${MODEL_DIR}/override-defaults.toml`));
    const dropIns = join(bottlerocket, MODEL_DIR, 'defaults.d');
    writeFiles(bottlerocket, { [`${MODEL_DIR}/defaults.d/.keep`]: '' });
    symlinkSync('../../../shared-defaults/aws-host-containers.toml', join(dropIns, '20-aws-host-containers.toml'));
    symlinkSync('../../../shared-defaults/kubernetes.toml', join(dropIns, '50-kubernetes.toml'));
  };
  tags['v1.5.0'] = release(bottlerocket, 'v1.0.4', 'v1.5.0', v150);
  tags['v1.6.0'] = release(bottlerocket, 'v1.5.0', 'v1.6.0', () => linkVariants(bottlerocket, 'aws-k8s-1.17'));
  git(bottlerocket, 'checkout', '--quiet', 'develop');

  const adminContainer = initRepo(join(root, 'admin-container'));
  writeFiles(adminContainer, {
    VERSION: 'v0.5.2\n',
    Dockerfile: lines('FROM amazonlinux:2', 'RUN yum install -y openssh-server sudo'),
    sshd_config: SSHD('yes'),
    'start_admin_sshd.sh': lines('#!/usr/bin/env bash', 'set -e', 'exec /usr/sbin/sshd -e -D'),
  });
  const adminCommit = commitAll(adminContainer, 'build the static bash binary with musl');
  writeFiles(adminContainer, {
    VERSION: 'v0.6.0\n',
    Dockerfile: lines('FROM amazonlinux:2', 'RUN yum install -y openssh-server sudo jq ec2-instance-connect'),
    sshd_config: SSHD('no'),
    'start_admin_sshd.sh': START_EIC,
  });
  commitAll(adminContainer, 'Version v0.6.0');
  git(adminContainer, 'tag', '-a', '-m', 'v0.6.0', 'v0.6.0');

  const upstream: UpstreamFixture = { root, bottlerocket, adminContainer, tags, adminCommit };
  const project = makeProject(upstream, {
    variant: [
      '# The fixture variant; comments must survive an upgrade.',
      'name = "aws-k8s-1.18"',
      'regions = ["us-west-2"]',
      'share-with = ["210987654321"]',
      '',
      '[sources.bottlerocket]',
      `url = ${JSON.stringify(bottlerocket)}`,
      '',
      '[sources.admin-container]',
      `url = ${JSON.stringify(adminContainer)}`,
      '# v0.5.2 is untagged.',
      `ref = "${adminCommit}"`,
      '',
      '[admin-image]',
      'repository = "bottlerocket-admin"',
      'registry-account = "210987654321"',
      '',
    ].join('\n'),
  });
  const base = bottlerocketBase();
  writeSeries(
    project,
    'bottlerocket',
    '1.0.4',
    formatSeries(bottlerocket, 'v1.0.4', [
      {
        subject: 'models: add settings.kubernetes.container-log-max-size',
        files: { 'sources/models/src/lib.rs': KUBERNETES('    container_log_max_size: String,') },
      },
      {
        subject: 'models: add settings.cri-registry-auths',
        files: {
          [`${MODEL_DIR}/mod.rs`]:
            base[`${MODEL_DIR}/mod.rs`]!.replace(
              '    network: NetworkSettings,\n',
              '    network: NetworkSettings,\n    cri_registry_auths: Vec<RegistryAuth>,\n',
            ) +
            lines(
              '',
              '#[model]',
              'struct RegistryAuth {',
              '    name: String,',
              '    username: String,',
              '    password: String,',
              '    auth: String,',
              '}',
            ),
        },
      },
      {
        subject: 'models: add settings.kubernetes.feature-gates',
        files: {
          'sources/models/src/lib.rs': KUBERNETES(
            '    container_log_max_size: String,',
            '    feature_gates: HashMap<String, bool>,',
          ),
        },
      },
      {
        subject: 'kubelet: render settings.kubernetes.feature-gates',
        files: {
          'packages/kubernetes-1.18/kubelet-config': lines(
            'kind: KubeletConfiguration',
            'maxPods: {{settings.kubernetes.max-pods}}',
            '{{#if settings.kubernetes.feature-gates}}',
            'featureGates:',
            '{{#each settings.kubernetes.feature-gates}}',
            '  {{@key}}: {{this}}',
            '{{/each}}',
            '{{/if}}',
          ),
        },
      },
    ]),
  );
  writeSeries(
    project,
    'admin-container',
    '0.5.2',
    formatSeries(adminContainer, adminCommit, [
      {
        subject: 'Support EC2 Instance Connect',
        files: {
          sshd_config:
            SSHD('yes') +
            lines(
              'AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f',
              'AuthorizedKeysCommandUser ec2-instance-connect',
            ),
        },
      },
      {
        subject: 'sshd: refuse root logins',
        files: {
          sshd_config:
            SSHD('no') +
            lines(
              'AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f',
              'AuthorizedKeysCommandUser ec2-instance-connect',
            ),
        },
      },
    ]),
  );
  return { ...upstream, project, cache: tempDir('bro-upgrade-cache-'), work: tempDir('bro-upgrade-work-') };
}

/** The names of the fixture's Bottlerocket patches. */
export const PATCH = {
  logSize: '0001-models-add-settings.kubernetes.container-log-max-siz.patch',
  registryAuths: '0002-models-add-settings.cri-registry-auths.patch',
  featureGates: '0003-models-add-settings.kubernetes.feature-gates.patch',
  renderGates: '0004-kubelet-render-settings.kubernetes.feature-gates.patch',
} as const;

/** The `bro upgrade aws-k8s-1.18` command line for the world's project, cache and work directories, then `args`. */
export const upgradeArgs = (world: UpgradeWorld, ...args: string[]): string[] => [
  'upgrade',
  'aws-k8s-1.18',
  ...args,
  '--project-dir',
  world.project,
  '--cache-dir',
  world.cache,
  '--work-dir',
  world.work,
];

/** Every directory the world made. */
export const removeWorld = (world: UpgradeWorld): void => {
  for (const dir of [world.root, world.project, world.cache, world.work]) removeDir(dir);
};

/** User data for the old base: the series' settings, hostile credentials, the admin container on. */
export const OLD_USER_DATA = lines(
  '# A node on v1.0.4.',
  '[settings.host-containers.admin]',
  'enabled = true',
  '',
  '[settings.kubernetes]',
  'cluster-name = "example"',
  'container-log-max-size = "50Mi"',
  '',
  '[settings.kubernetes.feature-gates]',
  'TopologyManager = true',
  '',
  '[[settings.cri-registry-auths]]',
  'name = "harbor.example.com:8443"',
  'username = "robot$pull"',
  `password = 'SECRET-"quoted"-\\back\\slash-{{ x }}-é'`,
  '',
  '[[settings.cri-registry-auths]]',
  'name = "10.0.0.1:5000"',
  'auth = "cm9ib3Q6U0VDUkVULUFVVEg="',
);

/** Every file under the project's patches/ and variants/, path → contents: what an upgrade may write. */
export function snapshotProject(project: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(project, path)] = readFileSync(path, 'utf8');
    }
  };
  for (const dir of ['patches', 'variants']) walk(join(project, dir));
  return out;
}
