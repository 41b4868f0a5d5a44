import type { Engine } from './engine.js';
import { kubeReservedCpuMillicores, kubeReservedMemoryMebibytes } from './kube-reserved.js';
import type { TomlTable } from './defaults.js';

/**
 * The values a node generates at boot, as sundog runs the model's
 * `setting-generator`s (sources/api/sundog at v1.0.4): only for settings that
 * are not already set, pluto and bork first, then schnauzer templates, which
 * may use them. What the node reads from its instance (IP addresses, the
 * VPC's CIDR) is not knowable here: those values are samples, and say so.
 */
export const ENI_MAX_PODS_PATH = 'packages/os/eni-max-pods';

/** pluto `get_max_pods`: the first `<instance type> <max pods>` line, comments skipped. */
export function eniMaxPods(text: string, instanceType: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    const tokens = line.split(/\s+/).filter(Boolean);
    if (tokens.length === 2 && tokens[0] === instanceType) {
      const pods = Number(tokens[1]);
      return Number.isInteger(pods) && pods >= 0 ? pods : undefined;
    }
  }
  return undefined;
}

export interface GeneratedValue {
  /** Dotted key, e.g. `settings.kubernetes.max-pods`. */
  key: string;
  value: unknown;
  /** The generator command, e.g. `pluto max-pods`. */
  generator: string;
  /** True when the node would compute something else from its environment. */
  sample: boolean;
  /** Where the value comes from. */
  note: string;
}

export interface NodeFacts {
  instanceType: string;
  cpus: number;
  region: string;
  arch: 'x86_64' | 'aarch64';
  /** Contents of packages/os/eni-max-pods. */
  eniMaxPods: string;
}

/** `metadata.settings…setting-generator` (and its `template`) for every key that has one. */
export function settingGenerators(defaults: TomlTable): { key: string; command: string; template?: string }[] {
  const found: { key: string; command: string; template?: string }[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    const table = node as TomlTable;
    if (typeof table['setting-generator'] === 'string') {
      found.push({
        key: path.join('.'),
        command: table['setting-generator'],
        ...(typeof table.template === 'string' ? { template: table.template } : {}),
      });
    }
    for (const [k, v] of Object.entries(table)) walk(v, [...path, k]);
  };
  walk((defaults.metadata as TomlTable | undefined)?.settings, ['settings']);
  return found;
}

export function getPath(root: unknown, key: string): unknown {
  let node = root;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as TomlTable)[part];
  }
  return node;
}

export function setPath(root: TomlTable, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = root;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as TomlTable;
  }
  node[parts.at(-1) as string] = value;
}

/** pause_container_uri's account map (sources/api/pluto/src/main.rs at v1.0.4); other regions fall back to us-east-1. */
export const PAUSE_ACCOUNTS: Record<string, string> = {
  'af-south-1': '877085696533',
  'ap-east-1': '800184023465',
  'ap-northeast-1': '602401143452',
  'ap-northeast-2': '602401143452',
  'ap-south-1': '602401143452',
  'ap-southeast-1': '602401143452',
  'ap-southeast-2': '602401143452',
  'ca-central-1': '602401143452',
  'cn-north-1': '918309763551',
  'cn-northwest-1': '961992271922',
  'eu-central-1': '602401143452',
  'eu-north-1': '602401143452',
  'eu-south-1': '590381155156',
  'eu-west-1': '602401143452',
  'eu-west-2': '602401143452',
  'eu-west-3': '602401143452',
  'me-south-1': '558608220178',
  'sa-east-1': '602401143452',
  'us-east-1': '602401143452',
  'us-east-2': '602401143452',
  'us-gov-east-1': '151742754352',
  'us-gov-west-1': '013241004608',
  'us-west-1': '602401143452',
  'us-west-2': '602401143452',
};

export function pauseContainerUri(region: string, arch: NodeFacts['arch']): string {
  const account = PAUSE_ACCOUNTS[region];
  const [r, a] = account ? [region, account] : ['us-east-1', '602401143452'];
  return `${a}.dkr.ecr.${r}.amazonaws.com/eks/pause-${arch === 'x86_64' ? 'amd64' : 'arm64'}:3.1`;
}

type Outcome = Omit<GeneratedValue, 'key' | 'generator'> | { skip: string };

/** What one pluto or bork command prints; `skip` where it exits 2 (sundog then leaves the setting unset). */
function runProgram(command: string, facts: NodeFacts): Outcome | undefined {
  // Both max-pods and kube-reserved-memory look the instance type up in eni-max-pods, and exit 2 when it is not there.
  const pods = eniMaxPods(facts.eniMaxPods, facts.instanceType);
  const unknownType = {
    skip: `${facts.instanceType} is not in ${ENI_MAX_PODS_PATH}: pluto exits 2 and the setting stays unset`,
  };
  switch (command) {
    case 'pluto max-pods':
      return pods === undefined
        ? unknownType
        : { value: pods, sample: false, note: `${facts.instanceType} in ${ENI_MAX_PODS_PATH}` };
    case 'pluto kube-reserved-cpu':
      return { value: `${kubeReservedCpuMillicores(facts.cpus)}m`, sample: false, note: `${facts.cpus} CPUs` };
    case 'pluto kube-reserved-memory':
      return pods === undefined
        ? unknownType
        : {
            value: `${kubeReservedMemoryMebibytes(pods)}Mi`,
            sample: false,
            note: `${pods} max pods for ${facts.instanceType}`,
          };
    case 'pluto pod-infra-container-image':
      return { value: pauseContainerUri(facts.region, facts.arch), sample: false, note: `region ${facts.region}` };
    case 'pluto cluster-dns-ip':
      return {
        value: '10.100.0.10',
        sample: true,
        note: 'SAMPLE: pluto picks 172.20.0.10 when the VPC CIDR starts with 10.',
      };
    case 'pluto node-ip':
      return { value: '192.0.2.10', sample: true, note: "SAMPLE: pluto reads the instance's private IPv4 address" };
    case 'netdog generate-hostname':
      return {
        value: 'ip-192-0-2-10.ec2.internal',
        sample: true,
        note: "SAMPLE: netdog names the node by its IP address's reverse DNS name, or the address itself",
      };
    case 'shibaken':
      return {
        value: Buffer.from(JSON.stringify({ ssh: { 'authorized-keys': [] } })).toString('base64'),
        sample: true,
        note: "SAMPLE: shibaken lists the instance key pair's public keys from instance metadata (none here)",
      };
    case 'bork seed':
      return { value: 1234, sample: true, note: 'SAMPLE: bork picks a random seed in 0..2048' };
    default:
      return undefined;
  }
}

/**
 * Runs the generators for every key that `settings` (the whole settings
 * table) does not set, in place. Returns what was generated and what could
 * not be simulated.
 */
export function generate(
  defaults: TomlTable,
  root: { settings: TomlTable },
  facts: NodeFacts,
  render: Engine['render'],
): { generated: GeneratedValue[]; notes: string[] } {
  const generated: GeneratedValue[] = [];
  const notes: string[] = [];
  const pending = settingGenerators(defaults).filter((g) => getPath(root, g.key) === undefined);
  const schnauzer = pending.filter((g) => g.command.startsWith('schnauzer '));
  for (const g of pending.filter((p) => !schnauzer.includes(p))) {
    const outcome = runProgram(g.command, facts);
    if (!outcome) notes.push(`${g.key}: generator "${g.command}" is not simulated; the setting stays unset`);
    else if ('skip' in outcome) notes.push(`${g.key}: ${outcome.skip}`);
    else generated.push({ key: g.key, generator: g.command, ...outcome });
  }
  for (const g of generated) setPath(root, g.key, g.value);
  for (const g of schnauzer) {
    if (g.template === undefined) {
      notes.push(`${g.key}: "${g.command}" has no template in the metadata`);
      continue;
    }
    const value = render(g.key, g.template, root);
    setPath(root, g.key, value);
    generated.push({
      key: g.key,
      value,
      generator: g.command,
      sample: false,
      note: `template ${JSON.stringify(g.template)}`,
    });
  }
  return { generated, notes };
}
