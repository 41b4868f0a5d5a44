import { decodeBase64Utf8 } from './base64.js';
import { compareCodePoints, type Helper, type HelperCall } from './engine.js';

/**
 * schnauzer's template helpers, as in sources/api/schnauzer/src/helpers.rs at
 * Bottlerocket v1.0.4: same parameters, same output, same failures.
 * Messages follow `TemplateHelperError`'s display strings.
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

export function ecrRegistry(region: string): string {
  const registry = ECR_MAP[region];
  return registry
    ? `${registry}.dkr.ecr.${region}.amazonaws.com`
    : `${ECR_FALLBACK_REGISTRY}.dkr.ecr.${ECR_FALLBACK_REGION}.amazonaws.com`;
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

export const ecrPrefix: Helper = (call) => {
  checkParamCount(call, 1);
  const [region] = call.params;
  if (typeof region !== 'string')
    throw new Error(`Expected an AWS region, got '${show(region)}' in template ${call.template}`);
  return ecrRegistry(region);
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
  default: defaultHelper,
  'ecr-prefix': ecrPrefix,
  toml_encode: tomlEncode,
};

/** Names registered by `register_helper("…", …)` in the tree's sources/api/schnauzer/src/lib.rs. */
export function registeredHelperNames(libRs: string): string[] {
  return [...libRs.matchAll(/register_helper\(\s*"([^"]+)"/g)].map((m) => m[1] as string);
}
