import { parse as parseToml } from 'smol-toml';
import type { Redactor } from '../adapters/redactor.js';
import { ConfigError, StepError } from '../shared/errors.js';
import type { TomlTable } from './defaults.js';
import { jsonEqual, TemplateRenderError } from './engine.js';
import { KUBELET_SETTINGS } from './formats.js';
import { ENI_MAX_PODS_PATH, eniMaxPods, getPath, type GeneratedValue, type NodeFacts } from './generators.js';
import { checkValue } from './model.js';
import { renderNode, type NodeRender, type OsRelease, type RenderedFile } from './render-node.js';
import type { VariantTree } from './tree.js';

/**
 * `bro preview`: what a node of this build would write from this user data.
 * The user data is checked against the patched model first (an unknown key
 * is refused, as the node's API would refuse it); then the containerd and
 * kubelet configs are rendered, parsed, and compared with the settings they
 * came from: registry credentials must come back exactly, and each kubelet
 * setting must land in its field.
 */
export const PREVIEW_SCHEMA_VERSION = 1;

export const CONTAINERD_CONFIG = 'containerd-config-toml';
export const KUBELET_CONFIG = 'kubelet-config';
const CRI = 'io.containerd.grpc.v1.cri';

export interface Input<T> {
  value: T;
  /** True when the user did not give it and bro picked a sample. */
  sample: boolean;
}

export interface PreviewInputs {
  /** The build version, e.g. `1.0.4-hc1`. */
  version: string;
  userDataFile: string;
  /** The parsed user data, its secrets already registered with the redactor. */
  userData: TomlTable;
  instanceType: Input<string>;
  cpus: Input<number>;
  /** The region the node runs in; set by the identity document unless the user data sets settings.aws.region. */
  region: Input<string>;
  arch: NodeFacts['arch'];
  os: OsRelease;
}

export interface RegistryAuthCheck {
  name: string;
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  /** Fields whose parsed value differs from the configured one. */
  mismatches: string[];
}

export interface PreviewReport {
  schemaVersion: typeof PREVIEW_SCHEMA_VERSION;
  kind: 'bro.preview';
  variant: string;
  version: string;
  userData: string;
  node: { instanceType: Input<string>; cpus: Input<number>; region: Input<string> };
  generated: GeneratedValue[];
  notes: string[];
  files: { name: string; path: string; source: string; format: string; problems: string[]; written?: string }[];
  registryAuths: RegistryAuthCheck[];
  /** The eight kubelet settings and maxPods as the rendered kubelet config has them (absent fields are left out). */
  kubelet: Record<string, unknown>;
  /** What would go wrong on the node because of what the user gave (the user data's keys, --instance-type): theirs to fix. */
  inputProblems: string[];
  /** What would go wrong on the node because of the patch series (its templates and generators). The preview passed when both lists are empty. */
  problems: string[];
}

const SECRET_KEY = /(password|auth|token|secret)$/i;

/** Registers every secret-looking string in the user data (`password`, `auth`, …) with the redactor. */
export function registerSecrets(value: unknown, redactor: Redactor, key = ''): void {
  if (typeof value === 'string' && SECRET_KEY.test(key)) redactor.add(value);
  else if (Array.isArray(value)) value.forEach((v) => registerSecrets(v, redactor, key));
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) registerSecrets(v, redactor, k);
}

/**
 * Parses user data; throws ConfigError (exit 2) when it is not TOML. The
 * parser's own error quotes the lines around the mistake, which may hold a
 * password: only its first line and the position are kept, and it is not the cause.
 */
export function parseUserData(file: string, text: string): TomlTable {
  try {
    return parseToml(text);
  } catch (error) {
    const { line, column } = error as { line?: number; column?: number };
    throw new ConfigError(
      file,
      `is not valid TOML${line ? ` (line ${line}, column ${column})` : ''}: ${(error as Error).message.split('\n')[0]}`,
      {
        hint: 'Fix the TOML syntax at that position.',
      },
    );
  }
}

/** Checks user data against the patched model; throws ConfigError (exit 2) naming every key the node's API would refuse. */
export function checkUserData(
  tree: VariantTree,
  file: string,
  data: TomlTable,
  redactor: Redactor,
): { settings: TomlTable; warnings: string[] } {
  const settings = data.settings;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new ConfigError(file, 'has no [settings] table', {
      hint: 'User data is a TOML document whose settings live under [settings…] tables.',
    });
  }
  const problems = checkValue(tree.model.settings, settings, 'settings');
  if (problems.length) {
    const lines = problems.map((p) => `  - ${p.key}: ${p.message}`);
    throw new ConfigError(
      file,
      redactor.redact(
        `the ${tree.variant} model refuses ${problems.length === 1 ? 'this key' : 'these keys'}:\n${lines.join('\n')}`,
      ),
      {
        hint: `The node's API would reject this user data. Fix the keys above; the model is ${tree.modelDir}/mod.rs and sources/models/src/lib.rs in the patched tree.`,
      },
    );
  }
  const warnings = Object.keys(data)
    .filter((k) => k !== 'settings')
    .map((k) => `${file}: top-level key "${k}" is ignored by the node (only [settings] is read)`);
  return { settings: settings as TomlTable, warnings };
}

/** The table of containerd's CRI plugin that holds a registry's credentials (containerd/cri's RegistryConfig.Auth). */
export const registryAuthTable = (name: string) => `[plugins."${CRI}".registry.configs.${JSON.stringify(name)}.auth]`;

const child = (node: unknown, key: string) =>
  typeof node === 'object' && node !== null ? (node as TomlTable)[key] : undefined;

/**
 * Each configured registry auth against the table containerd reads it from:
 * registry.configs."<name>".auth. The deprecated registry.auths is a problem
 * wherever it appears: containerd 1.3's CRI plugin gives every registry listed
 * there the credentials of one entry, chosen at random, and logs them.
 */
export function checkRegistryAuths(
  configured: unknown,
  containerd: unknown,
): { checks: RegistryAuthCheck[]; problems: string[] } {
  const entries = (Array.isArray(configured) ? configured : []) as TomlTable[];
  const fields = [
    'username',
    'password',
    'auth',
    ...(entries.some((e) => 'identitytoken' in e) ? ['identitytoken'] : []),
  ];
  const registry = ['plugins', CRI, 'registry'].reduce<unknown>(child, containerd);
  const configs = (child(registry, 'configs') ?? {}) as Record<string, TomlTable>;
  const problems: string[] = [];
  if (child(registry, 'auths') !== undefined) {
    problems.push(
      `containerd config: [plugins."${CRI}".registry.auths] is set: containerd 1.3 gives every registry listed there the credentials of one of them, chosen at random, and logs them; render ${registryAuthTable('<host>')} instead`,
    );
  }
  const checks = entries.map((entry) => {
    const name = String(entry.name);
    const found = child(configs[name], 'auth') as TomlTable | undefined;
    const table = found ?? {};
    if (!found) problems.push(`containerd config: no ${registryAuthTable(name)} table`);
    const mismatches = fields.filter(
      (field) => entry[field] !== undefined && entry[field] !== '' && table[field] !== entry[field],
    );
    if (found)
      for (const field of mismatches)
        problems.push(
          `containerd config: ${field} of registry "${name}" does not come back exactly when the rendered TOML is parsed`,
        );
    // Credentials are masked here, whatever their length: the redactor leaves very short strings alone.
    const shown = (field: string, secret: boolean) =>
      typeof table[field] === 'string' ? { [field]: secret ? '***' : table[field] } : {};
    return {
      name,
      ...shown('username', false),
      ...shown('password', true),
      ...shown('auth', true),
      ...shown('identitytoken', true),
      mismatches,
    };
  });
  for (const [name, config] of Object.entries(configs)) {
    if (child(config, 'auth') !== undefined && !entries.some((e) => e.name === name))
      problems.push(`containerd config: registry auth "${name}" is not in the settings`);
  }
  return { checks, problems };
}

/**
 * The registry credentials a node's settings configure, each under the host containerd looks it up
 * by: `cri-registry-auths` (our v1.0.4 series: `name`), or `container-registry.credentials`
 * (upstream's since v1.6.2: `registry`, `docker.io` rendered as registry-1.docker.io, Docker Hub's pull
 * endpoint, as upstream's containerd template does).
 */
export function configuredRegistryAuths(settings: TomlTable): TomlTable[] {
  const ours = settings['cri-registry-auths'];
  if (Array.isArray(ours)) return ours as TomlTable[];
  const credentials = child(settings['container-registry'], 'credentials');
  if (!Array.isArray(credentials)) return [];
  return (credentials as TomlTable[]).map(({ registry, ...rest }) => ({
    name: registry === 'docker.io' ? 'registry-1.docker.io' : registry,
    ...rest,
  }));
}

/**
 * Fields a kubelet config has whether or not their setting is set: featureGates (Bottlerocket's
 * gates), and, in upstream's templates at v1.7.2, kubeReserved (computed by schnauzer's
 * kube_reserve_* helpers) and cpuManagerPolicy (`default "none"`).
 */
const ALWAYS_RENDERED = new Set<string>(['featureGates', 'kubeReserved', 'cpuManagerPolicy']);

/** Each of the eight kubelet settings that is set must appear in its kubelet field with the same value; unset ones must not appear (except ALWAYS_RENDERED). */
export function checkKubelet(kubernetes: TomlTable, kubelet: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const field of KUBELET_SETTINGS) {
    const key = field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const set = kubernetes[key];
    const rendered = kubelet[field];
    if (set === undefined) {
      if (rendered !== undefined && !ALWAYS_RENDERED.has(field))
        problems.push(`kubelet config: ${field} is rendered but settings.kubernetes.${key} is not set`);
      continue;
    }
    if (rendered === undefined) {
      problems.push(`kubelet config: settings.kubernetes.${key} is set but ${field} is not rendered`);
      continue;
    }
    const wanted = typeof set === 'object' && set !== null ? Object.entries(set as TomlTable) : [['', set] as const];
    for (const [k, v] of wanted) {
      const got = k === '' ? rendered : (rendered as TomlTable)[k];
      if (!jsonEqual(got, v))
        problems.push(
          `kubelet config: ${field}${k ? `.${k}` : ''} is ${JSON.stringify(got)}, settings.kubernetes.${key}${k ? `.${k}` : ''} is ${JSON.stringify(v)}`,
        );
    }
  }
  return problems;
}

/** A quantity with a non-zero digit before its suffix or exponent (resource.Quantity's IsZero, negated). */
const nonZeroQuantity = (value: unknown) =>
  typeof value === 'string' && /[1-9]/.test(/^[0-9.]*/.exec(value)?.[0] ?? '');

/** A rule kubelet applies across fields of its config, and the settings.kubernetes keys it reads. */
export interface KubeletRuleProblem {
  /** In kubelet's terms: `kubelet config: cpuManagerPolicy is static, but …`. */
  message: string;
  /** Why kubelet refuses: `kubelet 1.18 refuses to start ("…")`. */
  refusal: string;
  /** The settings.kubernetes keys the rule reads, e.g. `cpu-manager-policy`, `kube-reserved.cpu`. */
  keys: string[];
}

/**
 * The rules kubelet 1.18 applies across fields of its config, which the model
 * cannot check one setting at a time; each stops kubelet from starting. From
 * pkg/kubelet/apis/config/validation (ValidateKubeletConfiguration) and
 * pkg/kubelet/cm/cpumanager (NewManager). Both gates are beta, on by default, in 1.18.
 */
export function kubeletRuleProblems(config: Record<string, unknown>): KubeletRuleProblem[] {
  const gates = (
    typeof config.featureGates === 'object' && config.featureGates !== null ? config.featureGates : {}
  ) as Record<string, unknown>;
  const enabled = (gate: string) => gates[gate] !== false;
  const cpu = (reserved: unknown) =>
    typeof reserved === 'object' && reserved !== null ? (reserved as Record<string, unknown>).cpu : undefined;
  const problems: KubeletRuleProblem[] = [];
  const refuses = (quote: string) => `kubelet 1.18 refuses to start ("${quote}")`;
  if (config.serverTLSBootstrap === true && !enabled('RotateKubeletServerCertificate')) {
    const refusal = refuses('serverTLSBootstrap true requires feature gate RotateKubeletServerCertificate');
    problems.push({
      message: `kubelet config: featureGates.RotateKubeletServerCertificate is false, but Bottlerocket sets serverTLSBootstrap: ${refusal}`,
      refusal,
      keys: ['feature-gates.RotateKubeletServerCertificate'],
    });
  }
  if (
    typeof config.topologyManagerPolicy === 'string' &&
    config.topologyManagerPolicy !== 'none' &&
    !enabled('TopologyManager')
  ) {
    const refusal = refuses('requires feature gate TopologyManager');
    problems.push({
      message: `kubelet config: topologyManagerPolicy is ${config.topologyManagerPolicy}, but featureGates.TopologyManager is false: ${refusal}`,
      refusal,
      keys: ['topology-manager-policy', 'feature-gates.TopologyManager'],
    });
  }
  if (
    config.cpuManagerPolicy === 'static' &&
    !nonZeroQuantity(cpu(config.kubeReserved)) &&
    !nonZeroQuantity(cpu(config.systemReserved))
  ) {
    const refusal = refuses('the static policy requires systemreserved.cpu + kubereserved.cpu to be greater than zero');
    problems.push({
      message: `kubelet config: cpuManagerPolicy is static, but kubeReserved.cpu + systemReserved.cpu is zero: ${refusal}`,
      refusal,
      keys: ['cpu-manager-policy', 'kube-reserved.cpu', 'system-reserved.cpu'],
    });
  }
  return problems;
}

/** The rules' messages in kubelet's terms. */
export const checkKubeletRules = (config: Record<string, unknown>): string[] =>
  kubeletRuleProblems(config).map((p) => p.message);

/** A CPU quantity in millicores (`500m`, `2`, `1.5`); undefined for a form this check does not read. */
function millicores(value: unknown): number | undefined {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(m?)$/.exec(value) : null;
  if (!match) return undefined;
  return match[2] ? Number(match[1]) : Number(match[1]) * 1000;
}

/**
 * kubelet refuses to start when the CPU it is told to reserve is more than the node has
 * (pkg/kubelet/cm/node_container_manager_linux.go, validateNodeAllocatable: "invalid Node
 * Allocatable configuration"). Memory is not checked: the preview does not know the instance's.
 */
export function capacityProblem(config: Record<string, unknown>, cpus: Input<number>): KubeletRuleProblem | undefined {
  const reserved = (field: string) => {
    const table = config[field];
    return typeof table === 'object' && table !== null ? millicores((table as Record<string, unknown>).cpu) : undefined;
  };
  const total = (reserved('kubeReserved') ?? 0) + (reserved('systemReserved') ?? 0);
  if (total <= cpus.value * 1000) return undefined;
  const node = `${cpus.value} CPUs${cpus.sample ? ' (a SAMPLE: pass --cpus)' : ''}`;
  const refusal = `kubelet refuses to start ("invalid Node Allocatable configuration"): ${total}m of CPU reserved on a node with ${node}`;
  return {
    message: `kubelet config: kubeReserved.cpu + systemReserved.cpu is ${total}m, more than the node has: ${refusal}`,
    refusal,
    keys: ['kube-reserved.cpu', 'system-reserved.cpu'],
  };
}

/**
 * An --instance-type eni-max-pods does not know: on such a node pluto exits 2 and max-pods and
 * kube-reserved.memory stay unset (kubelet then allows 110 pods, more than the ENIs can address),
 * unless the user data sets them. Most often a typo.
 */
function unknownInstanceType(tree: VariantTree, inputs: PreviewInputs, userSettings: TomlTable): string[] {
  const type = inputs.instanceType;
  if (type.sample || eniMaxPods(tree.eniMaxPods, type.value) !== undefined) return [];
  const unset = ['max-pods', 'kube-reserved.memory'].filter(
    (k) => getPath(userSettings, `kubernetes.${k}`) === undefined,
  );
  if (!unset.length) return [];
  return [
    `--instance-type ${type.value} is not in ${ENI_MAX_PODS_PATH}: on such a node pluto exits 2 and ${unset.map((k) => `settings.kubernetes.${k}`).join(' and ')} ${unset.length === 1 ? 'stays' : 'stay'} unset; check the type, or set ${unset.length === 1 ? 'it' : 'them'} in the user data`,
  ];
}

/**
 * A rule broken by what the user data sets is the user's problem, named by its keys and values;
 * broken by values the templates or generators made, it stays a problem of the patch series.
 */
function blame(problem: KubeletRuleProblem, userSettings: TomlTable): string | undefined {
  const set = problem.keys
    .map((key) => [`settings.kubernetes.${key}`, getPath(userSettings, `kubernetes.${key}`)] as const)
    .filter(([, value]) => value !== undefined);
  if (!set.length) return undefined;
  const [first, ...rest] = set.map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
  return `${[first, rest.join(' and ')].filter(Boolean).join(' with ')}: ${problem.refusal}`;
}

/** A template that fails on the node, as a typed error: a setting the user data must set (exit 2), or a broken template (exit 1). */
function explain(error: TemplateRenderError, userDataFile: string): Error {
  if (error.missing?.startsWith('settings.')) {
    return new ConfigError(
      userDataFile,
      `does not set ${error.missing}, which ${error.template} needs: the node would fail to write it (${error.message})`,
      {
        cause: error,
        hint: `Set ${error.missing} in the user data.`,
      },
    );
  }
  return new StepError('preview', `${error.message}: the node would fail to write this file`, {
    cause: error,
    hint: 'Fix the template in the patch series.',
  });
}

export function previewNode(
  tree: VariantTree,
  inputs: PreviewInputs,
  redactor: Redactor,
): { report: PreviewReport; files: RenderedFile[] } {
  const { settings: userSettings, warnings } = checkUserData(tree, inputs.userDataFile, inputs.userData, redactor);
  const userRegion = getPath(userSettings, 'aws.region');
  const region = typeof userRegion === 'string' ? { value: userRegion, sample: false } : inputs.region;
  const facts: NodeFacts = {
    instanceType: inputs.instanceType.value,
    cpus: inputs.cpus.value,
    region: region.value,
    arch: inputs.arch,
    eniMaxPods: tree.eniMaxPods,
  };
  let node: NodeRender;
  try {
    node = renderNode(tree, userSettings, facts, inputs.os);
  } catch (error) {
    throw error instanceof TemplateRenderError ? explain(error, inputs.userDataFile) : error;
  }
  const failed = node.files.find((f) => f.error)?.error;
  if (failed) throw explain(failed, inputs.userDataFile);
  const problems = node.files.flatMap((f) => f.problems.map((p) => `${f.name} (${f.path}): ${p}`));
  const containerd = node.files.find((f) => f.name === CONTAINERD_CONFIG);
  const kubeletFile = node.files.find((f) => f.name === KUBELET_CONFIG);
  const auths = containerd?.parsed
    ? checkRegistryAuths(configuredRegistryAuths(node.settings), containerd.parsed)
    : { checks: [], problems: [] };
  // What containerd would read is as secret as what was configured, even when a template mangled it.
  for (const check of auths.checks) registerSecrets(check, redactor);
  problems.push(...auths.problems);
  const kubeletConfig = (kubeletFile?.parsed ?? {}) as Record<string, unknown>;
  const inputProblems = unknownInstanceType(tree, inputs, userSettings);
  if (kubeletFile?.parsed) {
    problems.push(...checkKubelet((node.settings.kubernetes ?? {}) as TomlTable, kubeletConfig));
    const capacity = capacityProblem(kubeletConfig, inputs.cpus);
    for (const rule of [...kubeletRuleProblems(kubeletConfig), ...(capacity ? [capacity] : [])]) {
      const mine = blame(rule, userSettings);
      if (mine) inputProblems.push(mine);
      else problems.push(rule.message);
    }
  }
  const kubelet = Object.fromEntries(
    ['maxPods', ...KUBELET_SETTINGS].filter((f) => kubeletConfig[f] !== undefined).map((f) => [f, kubeletConfig[f]]),
  );
  const report: PreviewReport = {
    schemaVersion: PREVIEW_SCHEMA_VERSION,
    kind: 'bro.preview',
    variant: tree.variant,
    version: inputs.version,
    userData: inputs.userDataFile,
    node: { instanceType: inputs.instanceType, cpus: inputs.cpus, region },
    generated: node.generated,
    notes: [
      ...warnings,
      ...node.notes,
      ...tree.unlocated.map((n) => `configuration file ${n}: template not found under packages/, not rendered`),
    ],
    files: node.files.map((f) => ({
      name: f.name,
      path: f.path,
      source: f.source,
      format: f.format,
      problems: f.problems,
    })),
    registryAuths: auths.checks,
    kubelet,
    inputProblems,
    problems,
  };
  return { report, files: node.files };
}
