import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFormatPatch } from '../../src/config/patch-file.js';
import {
  git,
  makeProject,
  makeUpstream,
  moveTag,
  removeDir,
  REPO_ROOT,
  tempDir,
  writeFiles,
  writeSeries,
  type UpstreamFixture,
} from './git-fixtures.js';

/**
 * Fixtures for preview and verify: reading test vectors out of our real patch
 * series (so the TypeScript tests use the same vectors as the Rust unit
 * tests), and a small synthetic Bottlerocket tree with upstream's layout and a
 * synthetic series that adds the same kinds of settings and templates.
 */

export const PATCH_DIR = join(REPO_ROOT, 'patches', 'bottlerocket', '1.0.4');

export interface Registry {
  name: string;
  username?: string;
  password?: string;
  auth?: string;
}

/**
 * Hostile registry credentials: every character the models allow that TOML, handlebars or a shell
 * would treat specially, with host:port and ip:port registries. Each works on the v1.0.4 series.
 */
export const HOSTILE_REGISTRIES: Registry[] = [
  {
    name: 'harbor.example.com',
    username: 'robot$bro+pull',
    password: `q"uote \\back\\slash &amp; <lt> 'apos''' \`=\` {{x}} $HOME`,
  },
  { name: 'harbor.example.com:8443', username: "it's me", password: '비밀번호 💝 ünï \u00a0 \\u0041' },
  { name: '10.0.0.1:5000', auth: Buffer.from('user:p"a\\ss&<').toString('base64') },
  { name: 'registry-1.docker.io', username: 'docker-user', password: '\'"\'"\\\\"' },
];

/** The patch of patches/bottlerocket/1.0.4 whose name contains `fragment`. */
export function readPatch(fragment: string): string {
  const name = readdirSync(PATCH_DIR).find((n) => n.endsWith('.patch') && n.includes(fragment));
  if (!name) throw new Error(`no patch matching "${fragment}" in ${PATCH_DIR}`);
  return readFileSync(join(PATCH_DIR, name), 'utf8');
}

/** The new side of every hunk of `path` in a patch: what the file holds there after the patch. */
export function postImage(patch: string, path: string): string {
  const file = parseFormatPatch(patch).files.find((f) => f.newPath === path);
  if (!file) throw new Error(`the patch does not change ${path}`);
  return file.hunks
    .flatMap((h) => h.lines.filter((l) => !l.startsWith('-') && !l.startsWith('\\')).map((l) => l.slice(1)))
    .join('\n');
}

/** The lines a patch adds to `path`, without the `+`, in order. */
export function addedLines(patch: string, path: string): string {
  const file = parseFormatPatch(patch).files.find((f) => f.newPath === path);
  if (!file) throw new Error(`the patch does not change ${path}`);
  return file.hunks.flatMap((h) => h.lines.filter((l) => l.startsWith('+')).map((l) => l.slice(1))).join('\n');
}

/** Every added line of a patch, without the `+`: the new code. */
export function addedCode(patch: string): string {
  return patch
    .split('\n')
    .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
    .map((l) => l.slice(1))
    .join('\n');
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '0': '\0', "'": "'", '"': '"' };

/** Reads one Rust string literal at `i` ("…" with escapes, r"…", r#"…"#); undefined when there is none. */
function literalAt(text: string, i: number): { value: string; end: number } | undefined {
  const raw = /^r(#*)"/.exec(text.slice(i));
  if (raw) {
    const close = `"${raw[1]}`;
    const start = i + raw[0].length;
    const end = text.indexOf(close, start);
    return { value: text.slice(start, end), end: end + close.length };
  }
  if (text[i] !== '"') return undefined;
  let value = '';
  let j = i + 1;
  while (text[j] !== '"') {
    if (text[j] === '\\') {
      const next = text[j + 1] as string;
      if (next === 'u') {
        const close = text.indexOf('}', j);
        value += String.fromCodePoint(parseInt(text.slice(j + 3, close), 16));
        j = close + 1;
      } else if (next === '\n') {
        j += 2;
        while (/\s/.test(text[j] as string)) j++;
      } else {
        value += ESCAPES[next] ?? next;
        j += 2;
      }
    } else {
      value += text[j];
      j++;
    }
  }
  return { value, end: j + 1 };
}

/** The elements of the array literal at the first `opener` after `marker` that are plain string literals (or tuples of them). */
function arrayAfter(source: string, marker: string, opener: string): (string | string[])[] {
  const at = source.indexOf(marker);
  if (at < 0) throw new Error(`"${marker}" not found`);
  let i = source.indexOf(opener, at) + opener.length;
  const items: (string | string[])[] = [];
  let depth = 0;
  let current: string[] = [];
  let plain = true;
  for (; i < source.length; i++) {
    const c = source[i] as string;
    const literal = c === '"' || (c === 'r' && /^r#*"/.test(source.slice(i))) ? literalAt(source, i) : undefined;
    if (literal) {
      current.push(literal.value);
      i = literal.end - 1;
    } else if (c === '(' || c === '[') {
      depth++;
      if (c === '(' && depth === 1 && current.length === 0) continue;
      plain = false;
    } else if (c === ')' || c === ']') {
      if (depth === 0) break;
      depth--;
    } else if (c === ',' && depth === 0) {
      if (plain && current.length) items.push(current.length === 1 ? (current[0] as string) : current);
      current = [];
      plain = true;
    } else if (!/\s/.test(c) && c !== ',') {
      plain = false;
    }
  }
  if (plain && current.length) items.push(current.length === 1 ? (current[0] as string) : current);
  return items;
}

/** `for ok in &[ … ]` (or `err`) in the Rust test function `fn name()`: its string literals. */
export function rustStrings(source: string, testFn: string): string[] {
  return arrayAfter(source, `fn ${testFn}()`, 'in &[').filter((x): x is string => typeof x === 'string');
}

/** `const NAME: &[(&str, &str)] = &[ ("a", "b"), … ];` */
export function rustStringPairs(source: string, name: string): [string, string][] {
  return arrayAfter(source, `const ${name}`, '= &[').filter(
    (x): x is [string, string] => Array.isArray(x) && x.length === 2,
  );
}

/** `for ok in &[2, 5, …]` (or `err`) in the Rust test function `fn name()`: its integer literals. */
export function rustIntegers(source: string, testFn: string): number[] {
  const at = source.indexOf(`fn ${testFn}()`);
  if (at < 0) throw new Error(`"fn ${testFn}()" not found`);
  const start = source.indexOf('in &[', at) + 'in &['.length;
  return [...source.slice(start, source.indexOf(']', start)).matchAll(/-?\d+/g)].map((m) => Number(m[0]));
}

/** `const NAME: &[(u32, u32)] = &[` with one `(a, b),` per line, ending `];`. */
export function rustNumberPairs(source: string, name: string): [number, number][] {
  const start = source.indexOf(`const ${name}: &[(u32, u32)] = &[`);
  if (start < 0) throw new Error(`const ${name} not found`);
  const body = source.slice(start, source.indexOf('];', start));
  return [...body.matchAll(/^\s*\+?\s*\((\d+),\s*(\d+)\),\s*$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

// ---------------------------------------------------------------------------
// A synthetic Bottlerocket tree: upstream's paths, our own small contents.

/** Modeled string types as upstream declares them: a struct and `string_impls_for!`. */
const modeledTypes = (names: readonly string[]) =>
  names.map((t) => `pub struct ${t} {\n    inner: String,\n}\n\nstring_impls_for!(${t}, "${t}");\n`).join('\n');

/** Files to lay over the fixture's v1.0.4: a small model, defaults, schnauzer's registry, templates, eni-max-pods. */
export function previewBaseFiles(): Record<string, string> {
  return {
    'sources/models/defaults.toml': [
      '[settings]',
      'motd = "Welcome"',
      '',
      '[services.containerd]',
      'configuration-files = ["containerd-config-toml"]',
      'restart-commands = []',
      '',
      '[configuration-files.containerd-config-toml]',
      'path = "/etc/containerd/config.toml"',
      'template-path = "/usr/share/templates/containerd-config-toml"',
      '',
      '[settings.host-containers.admin]',
      'enabled = false',
      '',
      '[metadata.settings.host-containers.admin.source]',
      'setting-generator = "schnauzer settings.host-containers.admin.source"',
      'template = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.5.2"',
      '',
    ].join('\n'),
    'sources/models/src/lib.rs': [
      'use crate::modeled_types::{DNSDomain, Identifier, KubernetesClusterName, KubernetesLabelKey, KubernetesLabelValue, SingleLineString, Url, ValidBase64};',
      '',
      '// Kubernetes settings; the dynamic ones come from pluto.',
      '#[model]',
      'struct KubernetesSettings {',
      '    cluster_name: KubernetesClusterName,',
      '    cluster_certificate: ValidBase64,',
      '    api_server: Url,',
      '    node_labels: HashMap<KubernetesLabelKey, KubernetesLabelValue>,',
      '    max_pods: u32,',
      '    cluster_domain: DNSDomain,',
      '    pod_infra_container_image: SingleLineString,',
      '}',
      '',
      '#[model]',
      'struct ContainerImage {',
      '    source: Url,',
      '    enabled: bool,',
      '}',
      '',
      '#[model]',
      'struct AwsSettings {',
      '    region: SingleLineString,',
      '}',
      '',
    ].join('\n'),
    'sources/models/src/aws-k8s-1.15/mod.rs': [
      '#[model(rename = "settings", impl_default = true)]',
      'struct Settings {',
      '    motd: String,',
      '    kubernetes: KubernetesSettings,',
      '    host_containers: HashMap<Identifier, ContainerImage>,',
      '    aws: AwsSettings,',
      '}',
      '',
    ].join('\n'),
    'sources/models/src/aws-k8s-1.15/override-defaults.toml': [
      '[configuration-files.containerd-config-toml]',
      'template-path = "/usr/share/templates/containerd-config-toml_aws-k8s"',
      '',
      '[services.kubernetes]',
      'configuration-files = ["kubelet-config", "kubernetes-ca-crt"]',
      'restart-commands = []',
      '',
      '[configuration-files.kubelet-config]',
      'path = "/etc/kubernetes/kubelet/config"',
      'template-path = "/usr/share/templates/kubelet-config"',
      '',
      '[configuration-files.kubernetes-ca-crt]',
      'path = "/etc/kubernetes/pki/ca.crt"',
      'template-path = "/usr/share/templates/kubernetes-ca-crt"',
      '',
      '[metadata.settings.kubernetes]',
      'max-pods.setting-generator = "pluto max-pods"',
      'pod-infra-container-image.setting-generator = "pluto pod-infra-container-image"',
      '',
      '[settings.kubernetes]',
      'cluster-domain = "cluster.local"',
      '',
    ].join('\n'),
    'sources/models/src/modeled_types/shared.rs': modeledTypes([
      'SingleLineString',
      'ValidBase64',
      'Identifier',
      'Url',
      'KubernetesClusterName',
      'KubernetesLabelKey',
      'KubernetesLabelValue',
      'DNSDomain',
    ]),
    'sources/api/schnauzer/src/lib.rs': [
      "pub fn build_template_registry() -> Result<handlebars::Handlebars<'static>> {",
      '    let mut template_registry = Handlebars::new();',
      '    template_registry.set_strict_mode(true);',
      '    template_registry.register_helper("base64_decode", Box::new(helpers::base64_decode));',
      '    template_registry.register_helper("default", Box::new(helpers::default));',
      '    template_registry.register_helper("ecr-prefix", Box::new(helpers::ecr_prefix));',
      '    Ok(template_registry)',
      '}',
      '',
    ].join('\n'),
    'packages/containerd/containerd-config-toml_aws-k8s': [
      'version = 2',
      '',
      '[plugins."io.containerd.grpc.v1.cri"]',
      'sandbox_image = "{{settings.kubernetes.pod-infra-container-image}}"',
      '',
    ].join('\n'),
    // Two Kubernetes versions ship a kubelet-config: the variant's version picks 1.18.
    'packages/kubernetes-1.17/kubelet-config': 'kind: KubeletConfiguration\nwrongVersion: true\n',
    'packages/kubernetes-1.18/kubelet-config': [
      '---',
      'kind: KubeletConfiguration',
      'clusterDomain: {{settings.kubernetes.cluster-domain}}',
      'featureGates:',
      '  RotateKubeletServerCertificate: true',
      'maxPods: {{default 110 settings.kubernetes.max-pods}}',
      '',
    ].join('\n'),
    'packages/kubernetes-1.18/kubernetes-ca-crt': '{{base64_decode settings.kubernetes.cluster-certificate}}\n',
    'packages/os/eni-max-pods': '# instance type, max pods\nm5.large 29\nm5.xlarge 58\nc5.2xlarge 58\n',
  };
}

/** Our customizations, in small: what patches/bottlerocket/1.0.4 does to the real tree. */
export const FEATURE_FILES = {
  model: {
    'sources/models/src/modeled_types/registry.rs': `${modeledTypes(['RegistryHost', 'RegistryAuthValue', 'KubernetesFeatureGateKey', 'KubernetesQuantityValue', 'KubernetesReservedResourceKey'])}
/// A modeled integer type, as the patch declares it.
pub struct KubernetesContainerLogMaxFiles {
    inner: i32,
}
`,
    'sources/models/src/registry.rs': [
      '#[model(add_option = false)]',
      'struct RegistryAuth {',
      '    name: RegistryHost,',
      '    #[serde(default, skip_serializing_if = "Option::is_none")]',
      '    username: Option<RegistryAuthValue>,',
      '    #[serde(default, skip_serializing_if = "Option::is_none")]',
      '    password: Option<RegistryAuthValue>,',
      '    #[serde(default, skip_serializing_if = "Option::is_none")]',
      '    auth: Option<ValidBase64>,',
      '}',
      '',
    ].join('\n'),
  },
  settings: (mod: string) =>
    mod.replace(
      '    aws: AwsSettings,\n',
      '    aws: AwsSettings,\n    #[serde(\n        default,\n        skip_serializing_if = "Option::is_none",\n        deserialize_with = "crate::de::deserialize_registry_auths"\n    )]\n    cri_registry_auths: Vec<RegistryAuth>,\n',
    ),
  /** Three of the eight kubelet settings, added to KubernetesSettings in lib.rs. */
  kubeletFields: (lib: string) =>
    lib.replace(
      '    max_pods: u32,\n',
      '    feature_gates: HashMap<KubernetesFeatureGateKey, bool>,\n    kube_reserved: HashMap<KubernetesReservedResourceKey, KubernetesQuantityValue>,\n    container_log_max_files: KubernetesContainerLogMaxFiles,\n    max_pods: u32,\n',
    ),
  schnauzer: (lib: string) =>
    lib.replace(
      '    Ok(template_registry)',
      '    template_registry.register_helper("toml_encode", Box::new(helpers::toml_encode));\n    Ok(template_registry)',
    ),
  overrideDefaults: (text: string) =>
    `${text}\n[metadata.settings.kubernetes.kube-reserved]\ncpu.setting-generator = "pluto kube-reserved-cpu"\nmemory.setting-generator = "pluto kube-reserved-memory"\n`,
  /** What the real containerd patch adds to the template; `passwordExpression` replaces how it writes the password. */
  containerdAuths: (passwordExpression: string) => {
    const added = addedLines(
      readPatch('containerd-render-settings.cri-registry-auths'),
      'packages/containerd/containerd-config-toml_aws-k8s',
    );
    const ours = added.replace('password = {{toml_encode password}}', `password = ${passwordExpression}`);
    if (!added.includes('password = {{toml_encode password}}'))
      throw new Error('the containerd patch no longer writes `password = {{toml_encode password}}`');
    return `${ours}\n`;
  },
  /** Feature gates merged with the default (user values win), kubeReserved and containerLogMaxFiles rendered only when set. */
  kubelet: (template: string) =>
    template.replace(
      '  RotateKubeletServerCertificate: true\n',
      [
        '  {{~#if (eq settings.kubernetes.feature-gates.RotateKubeletServerCertificate null)}}',
        '  RotateKubeletServerCertificate: true',
        '  {{~/if}}',
        '  {{~#each settings.kubernetes.feature-gates}}',
        '  "{{@key}}": {{this}}',
        '  {{~/each}}',
        '',
      ].join('\n'),
    ) +
    [
      '{{~#if settings.kubernetes.kube-reserved}}',
      'kubeReserved:',
      '  {{~#each settings.kubernetes.kube-reserved}}',
      '  {{@key}}: "{{this}}"',
      '  {{~/each}}',
      '{{~/if}}',
      '{{~#if settings.kubernetes.container-log-max-files includeZero=true}}',
      'containerLogMaxFiles: {{settings.kubernetes.container-log-max-files}}',
      '{{~/if}}',
      '',
    ].join('\n'),
};

export interface PreviewSetup {
  upstream: UpstreamFixture;
  project: string;
  cacheDir: string;
  /** The fake rustfmt's directory, to put first on PATH. */
  fakeBin: string;
  /** Every temporary directory, to remove after the test. */
  dirs: string[];
}

export interface FixtureCommit {
  subject: string;
  files: Record<string, string>;
}

/** A series of format-patch files, one per commit, made on top of `base` in a scratch clone: `{ "0001-subject.patch": text }`. */
export function makeSeries(repo: string, base: string, commits: readonly FixtureCommit[]): Record<string, string> {
  const scratch = tempDir('bro-series-');
  try {
    git(scratch, 'clone', '--quiet', repo, 'w');
    const work = join(scratch, 'w');
    git(work, 'checkout', '--quiet', '--detach', base);
    for (const commit of commits) {
      writeFiles(work, commit.files);
      git(work, 'add', '--all');
      git(work, 'commit', '--quiet', '-m', `${commit.subject}\n\nWhy: tests.\n\nUpstream-Status: Inappropriate [test]`);
    }
    const out = join(scratch, 'out');
    git(work, 'format-patch', '--quiet', '--zero-commit', '--no-signature', '-o', out, `${base}..HEAD`);
    return Object.fromEntries(
      readdirSync(out)
        .sort()
        .map((name) => [name, readFileSync(join(out, name), 'utf8')]),
    );
  } finally {
    removeDir(scratch);
  }
}

/**
 * The fixture upstream with previewBaseFiles() at v1.0.4, and a project whose
 * series adds our customizations in small: the model and schnauzer's
 * toml_encode, then the templates. `passwordExpression` is how the containerd
 * template writes the password; `extra` commits follow; `base` replaces files of v1.0.4.
 */
export function previewSetup(
  options: { passwordExpression?: string; extra?: FixtureCommit[]; base?: Record<string, string> } = {},
): PreviewSetup {
  const upstream = makeUpstream();
  const br = upstream.bottlerocket;
  const base = { ...previewBaseFiles(), ...options.base };
  upstream.tags['v1.0.4'] = moveTag(br, 'v1.0.4', base);
  const override = 'sources/models/src/aws-k8s-1.15/override-defaults.toml';
  const containerd = 'packages/containerd/containerd-config-toml_aws-k8s';
  const kubelet = 'packages/kubernetes-1.18/kubelet-config';
  const series = makeSeries(br, 'v1.0.4', [
    {
      subject: 'models: add registry auths and kubelet settings',
      files: {
        ...FEATURE_FILES.model,
        'sources/models/src/lib.rs': FEATURE_FILES.kubeletFields(base['sources/models/src/lib.rs'] as string),
        'sources/models/src/aws-k8s-1.15/mod.rs': FEATURE_FILES.settings(
          base['sources/models/src/aws-k8s-1.15/mod.rs'] as string,
        ),
        'sources/api/schnauzer/src/lib.rs': FEATURE_FILES.schnauzer(base['sources/api/schnauzer/src/lib.rs'] as string),
        [override]: FEATURE_FILES.overrideDefaults(base[override] as string),
      },
    },
    {
      subject: 'templates: render registry auths and kubelet settings',
      files: {
        [containerd]: `${base[containerd]}${FEATURE_FILES.containerdAuths(options.passwordExpression ?? '{{toml_encode password}}')}`,
        [kubelet]: FEATURE_FILES.kubelet(base[kubelet] as string),
      },
    },
    ...(options.extra ?? []),
  ]);
  const project = makeProject(upstream);
  writeSeries(project, 'bottlerocket', '1.0.4', series);
  const cacheDir = tempDir('bro-cache-');
  const fakeBin = fakeRustfmt();
  return { upstream, project, cacheDir, fakeBin, dirs: [upstream.root, project, cacheDir, fakeBin] };
}

/**
 * A fake rustfmt for `rustfmt --check --edition 2018` on stdin, after
 * rust-lang/rustfmt's src/bin/main.rs: `--version` prints a version; a source
 * that does not parse (here: unbalanced brackets) prints `error: …` with the
 * `<stdin>` location on stderr and exits 1; otherwise it exits 0.
 */
export function fakeRustfmt(): string {
  const dir = tempDir('bro-rustfmt-');
  const script = `#!/usr/bin/env node
const args = process.argv.slice(2);
if (args.includes('--version')) { console.log('rustfmt 1.4.20-stable (fake)'); process.exit(0); }
if (!args.includes('--check')) { console.error('fake rustfmt: only --check is implemented'); process.exit(2); }
const src = require('node:fs').readFileSync(0, 'utf8');
const pairs = { '(': ')', '[': ']', '{': '}' };
const stack = [];
let line = 1;
for (let i = 0; i < src.length; i++) {
  const c = src[i];
  if (c === '\\n') line++;
  if (c === '"') { for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\\\') i++; continue; }
  if (pairs[c]) stack.push([pairs[c], line]);
  else if (')]}'.includes(c)) {
    const top = stack.pop();
    if (!top || top[0] !== c) { console.error('error: unexpected closing delimiter: \`' + c + '\`\\n --> <stdin>:' + line + ':1'); process.exit(1); }
  }
}
if (stack.length) { console.error('error: this file contains an unclosed delimiter\\n --> <stdin>:' + stack.at(-1)[1] + ':1'); process.exit(1); }
`;
  writeFileSync(join(dir, 'rustfmt'), script);
  chmodSync(join(dir, 'rustfmt'), 0o755);
  return dir;
}
