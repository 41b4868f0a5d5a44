import { decodeBase64Utf8 } from './base64.js';
import { compareCodePoints, type Helper, type HelperCall } from './engine.js';
import { PAUSE_ACCOUNTS } from './generators.js';
import { kubeReservedCpuMillicores, kubeReservedMemoryMebibytes } from './kube-reserved.js';

/**
 * schnauzer's template helpers, as in sources/api/schnauzer/src/helpers.rs at
 * Bottlerocket v1.0.4 and v1.7.2: same parameters, same output, same failures.
 * Messages follow `TemplateHelperError`'s display strings. The region maps
 * (ECR_MAP, PAUSE_CONTAINER_MAP) are read from the tree's helpers.rs when it
 * has them (`schnauzerHelpers`).
 */

/** `ECR_MAP`: the registry that serves Bottlerocket's own images in each region. */
const ECR_MAP: Record<string, string> = {
  'af-south-1': '917644944286',
  'ap-east-1': '375569722642',
  'ap-northeast-1': '328549459982',
  'ap-northeast-2': '328549459982',
  'ap-south-1': '328549459982',
  'ap-southeast-1': '328549459982',
  'ap-southeast-2': '328549459982',
  'ca-central-1': '328549459982',
  'eu-central-1': '328549459982',
  'eu-north-1': '328549459982',
  'eu-south-1': '586180183710',
  'eu-west-1': '328549459982',
  'eu-west-2': '328549459982',
  'eu-west-3': '328549459982',
  'me-south-1': '509306038620',
  'sa-east-1': '328549459982',
  'us-east-1': '328549459982',
  'us-east-2': '328549459982',
  'us-west-1': '328549459982',
  'us-west-2': '328549459982',
};
const ECR_FALLBACK_REGION = 'us-east-1';
const ECR_FALLBACK_REGISTRY = '328549459982';

/** serde_json's Display of a value, as schnauzer's messages show it. */
const show = (value: unknown) => JSON.stringify(value ?? null);

function checkParamCount(call: HelperCall, expected: number): void {
  if (call.params.length !== expected) {
    throw new Error(
      `Incorrect number of params provided to helper '${call.name}' in template '${call.template}' - ${expected} expected, ${call.params.length} received`,
    );
  }
}

/** `InvalidTemplateValue`, whose message says "base64" for every helper upstream. */
function invalid(call: HelperCall, expected: string, value: unknown): Error {
  return new Error(
    `Invalid base64 template value, expected ${expected}, got '${show(value)}' in template ${call.template}`,
  );
}

/** A scalar as Rust's Display writes it (`b.to_string()`, `n.to_string()`, the string itself); undefined for anything else. */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return String(value);
  return undefined;
}

/** A region's registry in `map`, or the fallback region's (`ecr_registry`, `pause_registry`). */
function registryIn(map: RegionMap, region: string): string {
  const registry = map.accounts[region];
  return registry
    ? `${registry}.dkr.ecr.${region}.amazonaws.com`
    : `${map.fallbackAccount}.dkr.ecr.${map.fallbackRegion}.amazonaws.com`;
}

interface RegionMap {
  accounts: Record<string, string>;
  fallbackRegion: string;
  fallbackAccount: string;
}

const V104_ECR: RegionMap = {
  accounts: ECR_MAP,
  fallbackRegion: ECR_FALLBACK_REGION,
  fallbackAccount: ECR_FALLBACK_REGISTRY,
};

export const ecrRegistry = (region: string) => registryIn(V104_ECR, region);

/** pluto's pause-image accounts, for a tree whose helpers.rs has no PAUSE_CONTAINER_MAP to read. */
const PLUTO_PAUSE: RegionMap = {
  accounts: PAUSE_ACCOUNTS,
  fallbackRegion: 'us-east-1',
  fallbackAccount: '602401143452',
};

/**
 * A `lazy_static!` region map of helpers.rs (`static ref <name>: HashMap<…> = { m.insert("r", "a"); … }`)
 * and its fallback consts (`<prefix>_FALLBACK_REGION`, `<prefix>_FALLBACK_REGISTRY`); undefined when the source has no such map.
 */
export function regionMapIn(helpersRs: string, name: string, prefix: string): RegionMap | undefined {
  const body = new RegExp(`static ref ${name}\\b[^=]*=\\s*\\{([\\s\\S]*?)\\n\\s*\\};`).exec(helpersRs)?.[1];
  const constant = (suffix: string) =>
    new RegExp(`const ${prefix}_FALLBACK_${suffix}: &str = "([^"]+)"`).exec(helpersRs)?.[1];
  const fallbackRegion = constant('REGION');
  const fallbackAccount = constant('REGISTRY');
  if (!body || !fallbackRegion || !fallbackAccount) return undefined;
  const accounts = Object.fromEntries(
    [...body.matchAll(/m\.insert\("([^"]+)",\s*"([^"]+)"\)/g)].map((m) => [m[1] as string, m[2] as string]),
  );
  return { accounts, fallbackRegion, fallbackAccount };
}

export const base64Decode: Helper = (call) => {
  checkParamCount(call, 1);
  const [value] = call.params;
  if (typeof value !== 'string') throw invalid(call, 'string', value);
  const decoded = decodeBase64Utf8(value);
  if (!decoded.ok) {
    throw new Error(
      decoded.reason === 'invalid utf-8'
        ? `Invalid (non-utf8) output from base64 string '${value}' in template '${call.template}'`
        : `Unable to base64 decode string '${value}' in template '${call.template}': '${decoded.reason}'`,
    );
  }
  return decoded.text;
};

export const joinMap: Helper = (call) => {
  checkParamCount(call, 4);
  const [joinKey, joinPairs, failBehavior, map] = call.params;
  if (typeof joinKey !== 'string') throw invalid(call, 'string', joinKey);
  if (typeof joinPairs !== 'string') throw invalid(call, 'string', joinPairs);
  // Upstream reports the join-pairs value here too.
  if (typeof failBehavior !== 'string') throw invalid(call, 'string', joinPairs);
  if (failBehavior !== 'fail-if-missing' && failBehavior !== 'no-fail-if-missing') {
    throw invalid(call, 'fail-if-missing or no-fail-if-missing', failBehavior);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    if (failBehavior === 'fail-if-missing')
      throw new Error(`Missing data and fail-if-missing was set; see given line/col in template '${call.template}'`);
    return '';
  }
  return Object.entries(map as Record<string, unknown>)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([key, value]) => {
      if (value === null) throw invalid(call, 'non-null', value);
      const text = scalar(value);
      if (text === undefined) throw invalid(call, 'scalar', value);
      return `${key}${joinKey}${text}`;
    })
    .join(joinPairs);
};

export const defaultHelper: Helper = (call) => {
  checkParamCount(call, 2);
  const [fallback, requested] = call.params;
  const defaultText = scalar(fallback);
  if (defaultText === undefined) throw invalid(call, 'non-null scalar', fallback);
  if (requested === null) return defaultText;
  const text = scalar(requested);
  if (text === undefined) throw invalid(call, 'scalar', requested);
  return text;
};

/** `ecr-prefix` and (since v1.1) `pause-prefix`: a region's registry in `map`. */
const regionPrefix =
  (map: RegionMap): Helper =>
  (call) => {
    checkParamCount(call, 1);
    const [region] = call.params;
    if (typeof region !== 'string')
      throw new Error(`Expected an AWS region, got '${show(region)}' in template ${call.template}`);
    return registryIn(map, region);
  };

export const ecrPrefix: Helper = regionPrefix(V104_ECR);

/** v1.7.2's `InvalidTemplateValue` message (v1.0.4's said "Invalid base64 template value"). */
function invalidValue(call: HelperCall, expected: string, value: unknown): Error {
  return new Error(`Invalid template value, expected ${expected}, got '${show(value)}' in template ${call.template}`);
}

/** `join_array`: each string in double quotes, as-is (nothing is escaped), joined by the delimiter. */
export const joinArray: Helper = (call) => {
  checkParamCount(call, 2);
  const [delimiter, array] = call.params;
  const wrongType = (expected: string, value: unknown) =>
    new Error(
      `The join_array helper expected type '${expected}' while processing '${show(value)}' for template '${call.template}'`,
    );
  if (typeof delimiter !== 'string') throw wrongType('string', delimiter);
  if (!Array.isArray(array)) throw wrongType('array', array);
  return array
    .map((item) => {
      if (typeof item !== 'string') throw wrongType('string', array);
      return `"${item}"`;
    })
    .join(delimiter);
};

/** `join_node_taints`: `key=value:Effect` for every value of every key, joined by `,`; nothing when not a map. */
export const joinNodeTaints: Helper = (call) => {
  checkParamCount(call, 1);
  const [taints] = call.params;
  if (typeof taints !== 'object' || taints === null || Array.isArray(taints)) return '';
  return Object.entries(taints as Record<string, unknown>)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .flatMap(([key, values]) => {
      if (values === null) throw invalidValue(call, 'non-null', values);
      if (!Array.isArray(values)) throw invalidValue(call, 'sequence', values);
      return values.map((v) => {
        if (typeof v !== 'string') throw invalidValue(call, 'string', v);
        return `${key}=${v}`;
      });
    })
    .join(',');
};

/** `host`: the host of an absolute URL (rust-url and WHATWG URL follow the same standard). */
export const host: Helper = (call) => {
  checkParamCount(call, 1);
  const [url] = call.params;
  if (typeof url !== 'string') throw invalidValue(call, 'string', url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new Error(
      `Expected an absolute URL, got '${url}' in template '${call.template}': '${(error as Error).message}'`,
      { cause: error },
    );
  }
  if (!parsed.hostname) throw new Error(`URL '${url}' is missing host component`);
  return parsed.hostname;
};

export const goarch: Helper = (call) => {
  checkParamCount(call, 1);
  const [arch] = call.params;
  if (typeof arch !== 'string') throw invalidValue(call, 'string', arch);
  if (arch === 'x86_64' || arch === 'amd64') return 'amd64';
  if (arch === 'aarch64' || arch === 'arm64') return 'arm64';
  throw new Error(`Unknown architecture '${arch}' given to goarch helper`);
};

/** A number as serde_json's Display writes it, or a string as-is; undefined for anything else. */
const numberOrString = (value: unknown) =>
  typeof value === 'number' || typeof value === 'string' ? String(value) : undefined;

/**
 * `kube_reserve_cpu`: the setting when set, else `kube_cpu_helper(num_cpus::get())`: 60, 70, 75, 80
 * millicores for 1-4 cores, 2.5 more per core beyond (f32, rounded down).
 */
export const kubeReserveCpu: Helper = (call) => {
  checkParamCount(call, 1);
  const [value] = call.params;
  if (value !== null) {
    const text = numberOrString(value);
    if (text === undefined) throw invalidValue(call, 'scalar', value);
    return text;
  }
  if (!call.node) throw new Error(`kube_reserve_cpu needs the node's CPU count in template '${call.template}'`);
  return `${kubeReservedCpuMillicores(call.node.cpus)}m`;
};

/** `kube_reserve_memory`: the setting when set, else 11 MiB per pod plus 255 MiB. */
export const kubeReserveMemory: Helper = (call) => {
  checkParamCount(call, 2);
  const [maxPods, value] = call.params;
  if (typeof maxPods !== 'number') throw invalidValue(call, 'number', maxPods);
  if (!Number.isInteger(maxPods) || maxPods < 0) throw new Error(`Failed to convert number of pods ${maxPods} to u64`);
  if (value !== null) {
    const text = numberOrString(value);
    if (text === undefined) throw invalidValue(call, 'scalar', value);
    return text;
  }
  return `${kubeReservedMemoryMebibytes(maxPods)}Mi`;
};

/**
 * `add_unresolvable_hostname`: /etc/hosts entries for the hostname when DNS cannot resolve it (or
 * resolves it to localhost). Whether the node's DNS can is unknown here: the entries are written,
 * as on a node whose hostname does not resolve.
 */
export const addUnresolvableHostname: Helper = (call) => {
  checkParamCount(call, 1);
  const [hostname] = call.params;
  if (typeof hostname !== 'string') throw invalidValue(call, 'string', hostname);
  return `127.0.0.1 ${hostname}\n::1 ${hostname}`;
};

const TOML_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
};

/** A TOML basic string with its quotes, as `toml_basic_string` in our schnauzer patch writes it. */
export function tomlBasicString(input: string): string {
  const body = input.replace(
    /["\\\u0000-\u001f\u007f]/g,
    (c) => TOML_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
  return `"${body}"`;
}

/** `toml_value`: the TOML form of a value, or the JSON type it cannot encode. */
function tomlValue(value: unknown): { ok: true; text: string } | { ok: false; kind: string } {
  if (typeof value === 'string') return { ok: true, text: tomlBasicString(value) };
  if (typeof value === 'boolean' || typeof value === 'number') return { ok: true, text: String(value) };
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const encoded = tomlValue(item);
      if (!encoded.ok) return encoded;
      items.push(encoded.text);
    }
    return { ok: true, text: `[${items.join(', ')}]` };
  }
  return { ok: false, kind: value === null || value === undefined ? 'null' : 'object' };
}

/** `toml_encode` (patches/bottlerocket/1.0.4, "schnauzer: add toml_encode helper"). The error never shows the value. */
export const tomlEncode: Helper = (call) => {
  checkParamCount(call, 1);
  const encoded = tomlValue(call.params[0]);
  if (!encoded.ok) {
    throw new Error(
      `toml_encode can't encode a ${encoded.kind} value in template '${call.template}'; expected a string, number, boolean, or array of those`,
    );
  }
  return encoded.text;
};

/**
 * Every helper bro can simulate, by the name schnauzer registers it under.
 * A tree's own `build_template_registry()` decides which of them templates may use.
 */
export const KNOWN_HELPERS: Record<string, Helper> = {
  base64_decode: base64Decode,
  join_map: joinMap,
  join_node_taints: joinNodeTaints,
  default: defaultHelper,
  'ecr-prefix': ecrPrefix,
  'pause-prefix': regionPrefix(PLUTO_PAUSE),
  host,
  goarch,
  join_array: joinArray,
  kube_reserve_cpu: kubeReserveCpu,
  kube_reserve_memory: kubeReserveMemory,
  add_unresolvable_hostname: addUnresolvableHostname,
  toml_encode: tomlEncode,
};

/** KNOWN_HELPERS with the region maps of the tree's own helpers.rs, where it has them. */
export function schnauzerHelpers(helpersRs: string): Record<string, Helper> {
  const ecr = regionMapIn(helpersRs, 'ECR_MAP', 'ECR');
  const pause = regionMapIn(helpersRs, 'PAUSE_CONTAINER_MAP', 'PAUSE');
  return {
    ...KNOWN_HELPERS,
    ...(ecr && { 'ecr-prefix': regionPrefix(ecr) }),
    ...(pause && { 'pause-prefix': regionPrefix(pause) }),
  };
}

/** Names registered by `register_helper("…", …)` in the tree's sources/api/schnauzer/src/lib.rs. */
export function registeredHelperNames(libRs: string): string[] {
  return [...libRs.matchAll(/register_helper\(\s*"([^"]+)"/g)].map((m) => m[1] as string);
}
