import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { commitAll, git, GIT_ENV, initRepo, removeDir, tempDir, writeFiles, writeSeries } from './git-fixtures.js';

/**
 * A Bottlerocket-like upstream (upstream's layout, synthetic contents) whose
 * release tags each make one change that matters to a patch series written
 * against v1.0.0, the way Bottlerocket tags releases on release branches:
 *
 *   v1.0.1  lines inserted at the top of lib.rs            0001 offset
 *   v1.0.2  a line inserted where 0002 inserts             0002 conflict, 0006 blocked
 *   v1.0.3  the same restart-commands change as 0003       0003 upstreamed (reverse applies)
 *   v1.0.4  containerd template renamed (same content)     0004 moved
 *   v1.0.5  aws-k8s-1.15/override-defaults.toml deleted    0005 missing
 *   v1.0.6  an outer context line of 0007 changed          0007 fuzz
 *   v1.0.7  an inner context line of 0007 changed          0007 3way
 *   v1.0.8  0003's change plus a change on the line above  0003 upstreamed (reverse does not apply)
 *   v1.0.9  0003's change as its own commit, which 0003      0003 upstreamed (Upstream-Status: Backport
 *           says it backports, then reworded; and v1.0.2's        of that commit), 0002 conflict
 *           kubelet line
 *   v1.0.10 containerd template renamed in one commit, then  0004 moved (followed through history: the
 *           mostly rewritten in the next                          diff from v1.0.0 does not pair the files)
 *   v1.1.0  v1.0.1 + v1.0.3 + v1.0.4 together: a rebase that needs no hand work
 *
 * The series (0001-0007, `git format-patch` of commits on v1.0.0, fixed
 * dates) is clean at v1.0.0; 0006 changes lines that 0002 adds.
 */

export const FILES = {
  lib: 'sources/models/src/lib.rs',
  kubelet: 'packages/kubernetes-1.18/kubelet-config',
  defaults: 'sources/models/defaults.toml',
  containerd: 'packages/containerd/containerd-config-toml_aws-k8s',
  containerdRenamed: 'packages/containerd/containerd-config-toml_k8s',
  override: 'sources/models/src/aws-k8s-1.15/override-defaults.toml',
  pluto: 'sources/api/pluto/src/main.rs',
} as const;

const lines = (...l: string[]) => `${l.join('\n')}\n`;

export function baseFiles(): Record<string, string> {
  return {
    'Release.toml': lines('version = "1.0.0"', '', '[migrations]'),
    [FILES.lib]: lines(
      'use std::collections::HashMap;',
      '',
      '// Kubernetes settings.',
      '#[model]',
      'struct KubernetesSettings {',
      '    cluster_name: KubernetesClusterName,',
      '    api_server: Url,',
      '    node_labels: HashMap<KubernetesLabelKey, KubernetesLabelValue>,',
      '    max_pods: u32,',
      '    cluster_domain: DNSDomain,',
      '}',
      '',
      '// ECS settings.',
      '#[model]',
      'struct ECSSettings {',
      '    cluster: String,',
      '    loglevel: ECSAgentLogLevel,',
      '}',
    ),
    [FILES.kubelet]: lines(
      '---',
      'kind: KubeletConfiguration',
      'apiVersion: kubelet.config.k8s.io/v1beta1',
      'address: 0.0.0.0',
      'authentication:',
      '  anonymous:',
      '    enabled: false',
      'clusterDomain: {{settings.kubernetes.cluster-domain}}',
      'resolvConf: "/etc/resolv.conf"',
      'hairpinMode: hairpin-veth',
      'cgroupDriver: systemd',
      'runtimeRequestTimeout: 15m',
      'serializeImagePulls: false',
      'serverTLSBootstrap: true',
      'configMapAndSecretChangeDetectionStrategy: Cache',
      'maxPods: {{default 110 settings.kubernetes.max-pods}}',
    ),
    [FILES.defaults]: lines(
      '[settings.host-containers.admin]',
      'enabled = false',
      'superpowered = true',
      '',
      '[services.containerd]',
      'configuration-files = ["containerd-config-toml"]',
      'restart-commands = []',
      '',
      '[configuration-files.containerd-config-toml]',
      'path = "/etc/containerd/config.toml"',
      'template-path = "/usr/share/templates/containerd-config-toml"',
      '',
      '[services.host-containers]',
      'restart-commands = ["/usr/bin/host-containers"]',
    ),
    [FILES.containerd]: lines(
      'version = 2',
      'root = "/var/lib/containerd"',
      'state = "/run/containerd"',
      '',
      '[grpc]',
      'address = "/run/containerd/containerd.sock"',
      '',
      '[plugins."io.containerd.grpc.v1.cri"]',
      'enable_selinux = true',
      'sandbox_image = "{{settings.kubernetes.pod-infra-container-image}}"',
    ),
    [FILES.override]: lines(
      '[configuration-files.containerd-config-toml]',
      'template-path = "/usr/share/templates/containerd-config-toml_aws-k8s"',
      '',
      '[services.kubernetes]',
      'configuration-files = ["kubelet-env", "kubelet-config"]',
      '',
      '[metadata.settings.kubernetes.max-pods]',
      'setting-generator = "pluto max-pods"',
    ),
    'sources/models/src/aws-k8s-1.15/mod.rs': lines(
      'pub struct Settings {',
      '    kubernetes: Option<KubernetesSettings>,',
      '}',
    ),
    [FILES.pluto]: lines(
      'fn main() {',
      '    let args: Vec<String> = env::args().collect();',
      '    let setting_name = args.get(1).unwrap_or_else(|| usage());',
      '    let client = Client::new();',
      '    let token = imds_session_token(&client);',
      '    let setting = match setting_name.as_ref() {',
      '        "cluster-dns-ip" => get_cluster_dns_ip(&client, &token),',
      '        "node-ip" => get_node_ip(&client, &token),',
      '        "pod-infra-container-image" => get_pod_infra_container_image(&client, &token),',
      '        "max-pods" => get_max_pods(&client, &token),',
      '        "provider-id" => get_provider_id(&client, &token),',
      '        "hostname" => get_hostname(&client, &token),',
      '        "private-dns-name" => get_private_dns_name(&client, &token),',
      '        _ => usage(),',
      '    };',
      '    println!("{}", setting);',
      '}',
    ),
  };
}

/** Replaces one line (which must exist) of a file's text. */
export function replaceLine(text: string, line: string, by: string | string[]): string {
  const all = text.split('\n');
  const at = all.indexOf(line);
  if (at < 0) throw new Error(`fixture: no line ${JSON.stringify(line)}`);
  all.splice(at, 1, ...(Array.isArray(by) ? by : [by]));
  return all.join('\n');
}

const RESTART = 'restart-commands = ["/bin/systemctl try-restart containerd.service"]';

/** Each upstream change, as a function of the file contents at v1.0.0. */
function upstreamChanges(files: Record<string, string>): Record<string, Record<string, string | null>> {
  const edit = (path: string, line: string, by: string | string[]) => ({ [path]: replaceLine(files[path]!, line, by) });
  return {
    'v1.0.1': {
      [FILES.lib]: `// Copyright Amazon.com, Inc.\n// SPDX-License-Identifier: MIT OR Apache-2.0\n\n${files[FILES.lib]}`,
    },
    'v1.0.2': edit(FILES.kubelet, 'runtimeRequestTimeout: 15m', [
      'runtimeRequestTimeout: 15m',
      'containerLogMaxSize: 10Mi',
    ]),
    'v1.0.3': edit(FILES.defaults, 'restart-commands = []', RESTART),
    'v1.0.4': { [FILES.containerd]: null, [FILES.containerdRenamed]: files[FILES.containerd]! },
    'v1.0.5': { [FILES.override]: null },
    'v1.0.6': edit(
      FILES.pluto,
      '    let setting = match setting_name.as_ref() {',
      '    let setting = match setting_name.as_str() {',
    ),
    'v1.0.7': edit(
      FILES.pluto,
      '        "max-pods" => get_max_pods(&client, &token),',
      '        "max-pods" => get_max_pods(&client, &token).await,',
    ),
    'v1.0.8': {
      [FILES.defaults]: replaceLine(
        replaceLine(files[FILES.defaults]!, 'restart-commands = []', RESTART),
        'configuration-files = ["containerd-config-toml"]',
        'configuration-files = ["containerd-config-toml", "proxy-env"]',
      ),
    },
  };
}

/** The series, as the commits that `git format-patch` turns into it; 0003 backports upstream commit `restartCommit`. */
function seriesCommits(files: Record<string, string>, restartCommit: string): SeriesCommit[] {
  const kubeletWith0002 = replaceLine(files[FILES.kubelet]!, 'runtimeRequestTimeout: 15m', [
    'runtimeRequestTimeout: 15m',
    '{{#if settings.kubernetes.container-log-max-size}}',
    'containerLogMaxSize: {{settings.kubernetes.container-log-max-size}}',
    '{{/if}}',
  ]);
  return [
    {
      subject: 'models: add container log settings',
      files: {
        [FILES.lib]: replaceLine(files[FILES.lib]!, '    cluster_domain: DNSDomain,', [
          '    cluster_domain: DNSDomain,',
          '    container_log_max_size: SingleLineString,',
        ]),
      },
    },
    { subject: 'kubelet: render containerLogMaxSize', files: { [FILES.kubelet]: kubeletWith0002 } },
    {
      subject: 'models: restart containerd when its config changes',
      files: { [FILES.defaults]: replaceLine(files[FILES.defaults]!, 'restart-commands = []', RESTART) },
      status: `Backport [${restartCommit}]`,
    },
    {
      subject: 'containerd: render registry auths',
      files: {
        [FILES.containerd]: `${files[FILES.containerd]}\n{{#each settings.cri-registry-auths}}\n[plugins."io.containerd.grpc.v1.cri".registry.auths."{{@key}}"]\nauth = "{{this.auth}}"\n{{/each}}\n`,
      },
    },
    {
      subject: 'models: wire the kube-reserved generators',
      files: {
        [FILES.override]: `${files[FILES.override]}\n[metadata.settings.kubernetes.kube-reserved]\nmemory.setting-generator = "pluto kube-reserved-memory"\n`,
      },
    },
    {
      subject: 'kubelet: render containerLogMaxFiles',
      files: {
        [FILES.kubelet]: replaceLine(
          kubeletWith0002,
          'containerLogMaxSize: {{settings.kubernetes.container-log-max-size}}',
          [
            'containerLogMaxSize: {{settings.kubernetes.container-log-max-size}}',
            'containerLogMaxFiles: {{default 5 settings.kubernetes.container-log-max-files}}',
          ],
        ),
      },
    },
    {
      subject: 'pluto: generate kube-reserved',
      files: {
        [FILES.pluto]: replaceLine(
          replaceLine(files[FILES.pluto]!, '        "node-ip" => get_node_ip(&client, &token),', [
            '        "node-ip" => get_node_ip(&client, &token),',
            '        "kube-reserved-cpu" => get_kube_reserved_cpu(),',
          ]),
          '        "hostname" => get_hostname(&client, &token),',
          [
            '        "hostname" => get_hostname(&client, &token),',
            '        "kube-reserved-memory" => get_kube_reserved_memory(&client, &token),',
          ],
        ),
      },
    },
  ];
}

export interface PatchedUpstream {
  root: string;
  repo: string;
  /** Tag → commit. */
  tags: Record<string, string>;
  /** Series file name → format-patch text. */
  series: Record<string, string>;
}

function writeOrDelete(repo: string, files: Record<string, string | null>): void {
  for (const [path, content] of Object.entries(files)) {
    if (content === null) rmSync(join(repo, path));
    else writeFiles(repo, { [path]: content });
  }
}

/** A release tag on v1.0.0: one commit per change, the last one also bumps Release.toml. Returns the commits. */
function release(repo: string, tag: string, ...changes: Record<string, string | null>[]): string[] {
  git(repo, 'checkout', '--quiet', '--detach', 'v1.0.0');
  const commits = changes.map((change, i) => {
    const last = i === changes.length - 1;
    writeOrDelete(
      repo,
      last ? { ...change, 'Release.toml': lines(`version = "${tag.slice(1)}"`, '', '[migrations]') } : change,
    );
    return commitAll(repo, last ? `Release ${tag}` : `Change ${i + 1} for ${tag}`);
  });
  git(repo, 'tag', '-a', '-m', tag, tag);
  return commits;
}

/** The release tags `makePatchedUpstream` makes after its base v1.0.0, in version order. */
export const RELEASES_AFTER_BASE = [
  'v1.0.1',
  'v1.0.2',
  'v1.0.3',
  'v1.0.4',
  'v1.0.5',
  'v1.0.6',
  'v1.0.7',
  'v1.0.8',
  'v1.0.9',
  'v1.0.10',
  'v1.1.0',
] as const;

export function makePatchedUpstream(root = tempDir('bro-patches-upstream-')): PatchedUpstream {
  const repo = initRepo(join(root, 'bottlerocket'));
  const files = baseFiles();
  writeFiles(repo, files);
  const tags: Record<string, string> = { 'v1.0.0': commitAll(repo, 'Release v1.0.0') };
  git(repo, 'tag', '-a', '-m', 'v1.0.0', 'v1.0.0');
  const changes = upstreamChanges(files);
  for (const [tag, change] of Object.entries(changes)) tags[tag] = release(repo, tag, change).pop()!;
  // v1.0.9: the restart change as upstream's own commit (which 0003 backports), then reworded.
  const [restartCommit, v109] = release(repo, 'v1.0.9', changes['v1.0.3']!, {
    ...changes['v1.0.2'],
    [FILES.defaults]: replaceLine(changes['v1.0.3']![FILES.defaults]!, RESTART, [
      'restart-commands = [',
      '  "/usr/bin/systemctl daemon-reload",',
      '  "/usr/bin/systemctl try-restart containerd.service"',
      ']',
    ]),
  });
  tags['v1.0.9'] = v109!;
  // v1.0.10: renamed, then rewritten so much that the diff from v1.0.0 no longer pairs the two files.
  const preamble = Array.from(
    { length: 20 },
    (_, i) => `# containerd setting ${i + 1}, documented at length so that the file changes a lot`,
  );
  tags['v1.0.10'] = release(repo, 'v1.0.10', changes['v1.0.4']!, {
    [FILES.containerdRenamed]: lines(...preamble, files[FILES.containerd]!.trimEnd()),
  }).pop()!;
  tags['v1.1.0'] = release(repo, 'v1.1.0', { ...changes['v1.0.1'], ...changes['v1.0.3'], ...changes['v1.0.4'] }).pop()!;
  git(repo, 'checkout', '--quiet', 'develop');
  return { root, repo, tags, series: formatSeries(repo, 'v1.0.0', seriesCommits(files, restartCommit!)) };
}

interface SeriesCommit {
  subject: string;
  files: Record<string, string | null>;
  /** The Upstream-Status line; default `Inappropriate [test]`. */
  status?: string;
}

/** Commits on `base` in a scratch clone, exported with `git format-patch` (fixed dates from GIT_ENV). */
export function formatSeries(repo: string, base: string, commits: SeriesCommit[]): Record<string, string> {
  const scratch = tempDir('bro-series-');
  try {
    git(scratch, 'clone', '--quiet', repo, 'w');
    const work = join(scratch, 'w');
    git(work, 'checkout', '--quiet', '--detach', base);
    for (const commit of commits) {
      writeOrDelete(work, commit.files);
      git(work, 'add', '--all');
      git(
        work,
        'commit',
        '--quiet',
        '-m',
        `${commit.subject}\n\nWhy: the tests need it.\n\nUpstream-Status: ${commit.status ?? 'Inappropriate [test]'}`,
      );
    }
    const out = join(scratch, 'out');
    execFileSync(
      'git',
      ['format-patch', '--quiet', '--zero-commit', '--no-signature', '--abbrev=12', '-o', out, base],
      { cwd: work, env: GIT_ENV },
    );
    return Object.fromEntries(
      readdirSync(out)
        .sort()
        .map((n) => [n, readFileSync(join(out, n), 'utf8')]),
    );
  } finally {
    removeDir(scratch);
  }
}

/** A bro project whose patches/bottlerocket/1.0.0/ is the series, and no variant (the URL comes from the environment). */
export function makeSeriesProject(upstream: PatchedUpstream): string {
  const project = tempDir('bro-patches-project-');
  writeSeries(project, 'bottlerocket', '1.0.0', upstream.series);
  return project;
}
