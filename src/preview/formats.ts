import { parse as parseToml } from 'smol-toml';
import { parseDocument } from 'yaml';

/**
 * Checks that a rendered configuration file is what its program will accept:
 * containerd's config.toml is TOML; the kubelet config is YAML that
 * sigs.k8s.io/yaml (YAML 1.1, then JSON into KubeletConfiguration) decodes,
 * so its fields must have the Go types; the kubeconfig is YAML.
 */
export type Format = 'toml' | 'yaml' | 'kubelet-config' | 'text';

export function formatOf(name: string, path: string): Format {
  if (name === 'kubelet-config') return 'kubelet-config';
  if (path.endsWith('.toml')) return 'toml';
  if (name.endsWith('kubeconfig') || /\.ya?ml$/.test(path)) return 'yaml';
  return 'text';
}

type Kind = 'string' | 'int' | 'bool' | 'object' | 'string[]' | 'map<string,string>' | 'map<string,bool>';

/** Field types of KubeletConfiguration (kubelet.config.k8s.io/v1beta1) that the template writes. */
export const KUBELET_FIELDS: Record<string, Kind> = {
  kind: 'string',
  apiVersion: 'string',
  address: 'string',
  authentication: 'object',
  authorization: 'object',
  clusterDomain: 'string',
  clusterDNS: 'string[]',
  resolvConf: 'string',
  hairpinMode: 'string',
  cgroupDriver: 'string',
  cgroupRoot: 'string',
  runtimeRequestTimeout: 'string',
  serializeImagePulls: 'bool',
  serverTLSBootstrap: 'bool',
  configMapAndSecretChangeDetectionStrategy: 'string',
  tlsCipherSuites: 'string[]',
  maxPods: 'int',
  featureGates: 'map<string,bool>',
  containerLogMaxSize: 'string',
  containerLogMaxFiles: 'int',
  kubeReserved: 'map<string,string>',
  systemReserved: 'map<string,string>',
  evictionHard: 'map<string,string>',
  topologyManagerPolicy: 'string',
  cpuManagerPolicy: 'string',
};

/** The eight kubelet settings our patch series adds, in the order the summary shows them. */
export const KUBELET_SETTINGS = [
  'featureGates',
  'containerLogMaxSize',
  'containerLogMaxFiles',
  'kubeReserved',
  'systemReserved',
  'evictionHard',
  'topologyManagerPolicy',
  'cpuManagerPolicy',
] as const;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hasKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return Number.isInteger(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'object':
      return isMap(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'map<string,string>':
      return isMap(value) && Object.values(value).every((v) => typeof v === 'string');
    case 'map<string,bool>':
      return isMap(value) && Object.values(value).every((v) => typeof v === 'boolean');
  }
}

export interface Parsed {
  /** The parsed document, when it parses. */
  value?: unknown;
  problems: string[];
}

function parseYaml(text: string): Parsed {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) return { problems: doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`) };
  return { value: doc.toJS(), problems: [] };
}

export function parseRendered(format: Format, text: string): Parsed {
  if (format === 'text') return { problems: [] };
  if (format === 'toml') {
    try {
      return { value: parseToml(text), problems: [] };
    } catch (error) {
      return { problems: [`not valid TOML: ${(error as Error).message.split('\n')[0]}`] };
    }
  }
  const parsed = parseYaml(text);
  if (format === 'yaml' || parsed.problems.length) return parsed;
  if (!isMap(parsed.value)) return { problems: ['the kubelet config is not a YAML mapping'] };
  const config = parsed.value;
  const problems = Object.entries(KUBELET_FIELDS)
    .filter(([field, kind]) => field in config && !hasKind(config[field], kind))
    .map(([field, kind]) => `${field}: kubelet expects ${kind}, the YAML has ${JSON.stringify(config[field])}`);
  return { value: config, problems };
}
