import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StepError } from '../shared/errors.js';
import { MODELS_SRC, variantModelDir } from './defaults.js';
import { INTEGER_VALIDATORS, VALIDATORS } from './modeled-types.js';
import { parseRustItems, type RustItems, type RustStruct, type RustType } from './rust-source.js';

/**
 * The API model of a variant, read from the patched Rust source: the
 * variant's `Settings` struct (sources/models/src/<variant>/mod.rs, symlinks
 * followed) and the structs and modeled types of sources/models/src. Used to
 * reject user data the node's API would reject, and to make sample settings.
 */
export type ModelType =
  | { kind: 'struct'; name: string; fields: Record<string, ModelType>; required: string[] }
  /** `deserializer`: the field's `#[serde(deserialize_with = "…")]` function, when FIELD_DESERIALIZERS knows it. */
  | { kind: 'map'; key: ScalarType; value: ModelType; deserializer?: string }
  | { kind: 'list'; item: ModelType; deserializer?: string }
  | ScalarType;

export interface ScalarType {
  kind: 'scalar';
  /** The Rust type name, e.g. `u32`, `SingleLineString`. */
  rust: string;
  json: 'string' | 'integer' | 'number' | 'boolean' | 'any';
  /** For a modeled type that wraps a number (`struct X { inner: i32 }`): the wrapped type. */
  inner?: string;
}

/**
 * Field deserializers of the patched model (`#[serde(deserialize_with = "…")]`)
 * that check a list or map as a whole, with the Rust function's message. Ours
 * are in sources/models/src/de.rs (patches/bottlerocket/1.0.4, 0002 and 0005);
 * test/preview-model.test.ts runs the patch's Rust test vectors
 * (REGISTRY_AUTHS_VECTORS, FEATURE_GATES_VECTORS) through this table. Each
 * gets an already valid value and returns the first problem: a key below the
 * field's, and the message.
 */
export const FIELD_DESERIALIZERS: Record<string, (value: unknown) => { key: string; message: string } | undefined> = {
  /** Each registry once, in any case (host names are case-insensitive): the template renders one TOML table per name. */
  deserialize_registry_auths: (value) => {
    const seen = new Set<string>();
    for (const [i, item] of (value as Record<string, unknown>[]).entries()) {
      const host = String(item.name).toLowerCase();
      if (seen.has(host))
        return {
          key: `[${i}].name`,
          message: `duplicate registry name '${String(item.name)}' in cri-registry-auths: give each registry one entry`,
        };
      seen.add(host);
    }
    return undefined;
  },
  /** Bottlerocket's kubelet config sets serverTLSBootstrap, which kubelet 1.18 refuses without this gate. */
  deserialize_feature_gates: (value) =>
    (value as Record<string, unknown>).RotateKubeletServerCertificate === false
      ? {
          key: '.RotateKubeletServerCertificate',
          message:
            'feature gate RotateKubeletServerCertificate may not be false: kubelet refuses to start without it, as Bottlerocket sets serverTLSBootstrap',
        }
      : undefined,
};

export interface Model {
  settings: ModelType;
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  u8: [0, 2 ** 8 - 1],
  u16: [0, 2 ** 16 - 1],
  u32: [0, 2 ** 32 - 1],
  u64: [0, Number.MAX_SAFE_INTEGER],
  usize: [0, Number.MAX_SAFE_INTEGER],
  i8: [-(2 ** 7), 2 ** 7 - 1],
  i16: [-(2 ** 15), 2 ** 15 - 1],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  i64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  isize: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const caseConverters: Record<string, (name: string) => string> = {
  'kebab-case': (n) => n.replace(/_/g, '-'),
  snake_case: (n) => n,
  lowercase: (n) => n.replace(/_/g, '').toLowerCase(),
  camelCase: (n) => n.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()),
  PascalCase: (n) => n.replace(/(?:^|_)(\w)/g, (_, c: string) => c.toUpperCase()),
};

const serdeArg = (attrs: readonly string[], name: string) =>
  attrs
    .filter((a) => a.startsWith('serde'))
    .map((a) => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(a)?.[1])
    .find((v) => v !== undefined);

/** How a struct's fields are named in JSON/TOML: `#[model]` means kebab-case unless the struct sets its own serde attribute. */
function fieldKey(struct: RustStruct, field: RustStruct['fields'][number]): string {
  const renamed = serdeArg(field.attrs, 'rename');
  if (renamed !== undefined) return renamed;
  const isModel = struct.attrs.some((a) => /^model\b/.test(a));
  const hasSerde = struct.attrs.some((a) => a.startsWith('serde'));
  const rule = serdeArg(struct.attrs, 'rename_all') ?? (isModel && !hasSerde ? 'kebab-case' : undefined);
  return rule ? (caseConverters[rule]?.(field.name) ?? field.name) : field.name;
}

export function buildModel(items: RustItems, root = 'Settings'): Model {
  const structs = new Map(items.structs.map((s) => [s.name, s]));
  const strings = new Set([...items.stringTypes, ...items.enums, 'String', 'str']);
  const withDeserializer = (type: ModelType, attrs: readonly string[]): ModelType => {
    const fn = serdeArg(attrs, 'deserialize_with')?.split('::').pop();
    return (type.kind === 'list' || type.kind === 'map') && fn && FIELD_DESERIALIZERS[fn]
      ? { ...type, deserializer: fn }
      : type;
  };
  const resolve = (type: RustType, seen: readonly string[]): ModelType => {
    const [first, second] = type.args;
    if (type.name === 'Option' && first) return resolve(first, seen);
    if (type.name === 'Box' && first) return resolve(first, seen);
    if (/^(HashMap|BTreeMap|IndexMap)$/.test(type.name) && first && second) {
      return { kind: 'map', key: scalar(first), value: resolve(second, seen) };
    }
    if (/^(Vec|HashSet|BTreeSet|IndexSet)$/.test(type.name) && first)
      return { kind: 'list', item: resolve(first, seen) };
    const struct = strings.has(type.name) ? undefined : structs.get(type.name);
    const [only] = struct?.fields ?? [];
    if (
      struct &&
      struct.fields.length === 1 &&
      only?.name === 'inner' &&
      !struct.attrs.some((a) => /^model\b/.test(a))
    ) {
      // A modeled type over a number, e.g. `struct KubernetesContainerLogMaxFiles { inner: i32 }`.
      const inner = scalar(only.type);
      return { kind: 'scalar', rust: struct.name, json: inner.json, inner: inner.rust };
    }
    if (struct && !seen.includes(struct.name)) {
      const fields = Object.fromEntries(
        struct.fields.map((f) => [
          fieldKey(struct, f),
          withDeserializer(resolve(f.type, [...seen, struct.name]), f.attrs),
        ]),
      );
      // `#[model]` wraps every field in Option unless `add_option = false`; serde's `default` also makes a field optional.
      const wrapped = struct.attrs.some((a) => /^model\b/.test(a) && !/add_option\s*=\s*false/.test(a));
      const required = wrapped
        ? []
        : struct.fields
            .filter((f) => f.type.name !== 'Option' && !f.attrs.some((a) => /^serde\b[\s\S]*\bdefault\b/.test(a)))
            .map((f) => fieldKey(struct, f));
      return { kind: 'struct', name: struct.name, fields, required };
    }
    return scalar(type);
  };
  const scalar = (type: RustType): ScalarType => {
    const json =
      type.name === 'bool'
        ? 'boolean'
        : INTEGER_RANGES[type.name]
          ? 'integer'
          : /^f(32|64)$/.test(type.name)
            ? 'number'
            : strings.has(type.name) || /^Ip(v[46])?Addr$/.test(type.name)
              ? 'string'
              : 'any';
    return { kind: 'scalar', rust: type.name, json };
  };
  if (!structs.has(root)) throw new Error(`no struct ${root}`);
  return { settings: resolve({ path: root, name: root, args: [] }, []) };
}

/** The .rs files directly in `dir`, by name; since v1.1.0 a variant's mod.rs may be a link to another variant's. */
async function rustFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.rs')).sort();
  const isFile = (path: string) =>
    stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
  const files = await Promise.all(names.map(async (n) => ((await isFile(join(dir, n))) ? join(dir, n) : undefined)));
  return files.filter((f) => f !== undefined);
}

/** Reads the model of `variant` in the tree, from its real model directory (the end of its symlinks). */
export const loadVariantModel = async (tree: string, variant: string): Promise<Model> =>
  loadModel(tree, await variantModelDir(tree, variant));

/** Reads the model of a variant whose real model directory is `modelDir` (relative to the tree). */
export async function loadModel(tree: string, modelDir: string): Promise<Model> {
  const src = join(tree, MODELS_SRC);
  const files = [
    ...(await rustFiles(src)),
    ...(await rustFiles(join(src, 'modeled_types'))),
    ...(await rustFiles(join(tree, modelDir))),
  ];
  const items: RustItems = { structs: [], enums: [], stringTypes: [] };
  for (const file of files) {
    const parsed = parseRustItems(await readFile(file, 'utf8'));
    items.structs.push(...parsed.structs);
    items.enums.push(...parsed.enums);
    items.stringTypes.push(...parsed.stringTypes);
  }
  try {
    return buildModel(items);
  } catch (error) {
    throw new StepError('preview', `${modelDir}/mod.rs has no Settings struct`, {
      cause: error,
      hint: 'The variant model must define `struct Settings`.',
    });
  }
}

export interface Problem {
  /** Dotted key, e.g. `settings.kubernetes.max-pods`. */
  key: string;
  message: string;
}

const tomlKind = (value: unknown) =>
  Array.isArray(value)
    ? 'an array'
    : value instanceof Date
      ? 'a date'
      : typeof value === 'object' && value !== null
        ? 'a table'
        : `a ${typeof value}`;

function checkScalar(type: ScalarType, value: unknown): string | undefined {
  if (type.json === 'any') return undefined;
  if (type.json === 'boolean' && typeof value !== 'boolean') return `expected a boolean, got ${tomlKind(value)}`;
  if (type.json === 'number' && typeof value !== 'number') return `expected a number, got ${tomlKind(value)}`;
  if (type.json === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value))
      return `expected an integer (${type.rust}), got ${tomlKind(value)}`;
    const [min, max] = INTEGER_RANGES[type.inner ?? type.rust] ?? [-Infinity, Infinity];
    if (value < min || value > max) return `${value} is out of range for ${type.inner ?? type.rust} (${min}..${max})`;
    return INTEGER_VALIDATORS[type.rust]?.(value);
  }
  if (type.json === 'string') {
    if (typeof value !== 'string') return `expected a string (${type.rust}), got ${tomlKind(value)}`;
    return VALIDATORS[type.rust]?.(value);
  }
  return undefined;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] as number;
}

const closest = (name: string, candidates: readonly string[]) =>
  candidates
    .map((c) => [c, distance(name, c)] as const)
    .filter(([, d]) => d <= 2)
    .sort((x, y) => x[1] - y[1])[0]?.[0];

/** As serde, a field's own deserializer sees the value only when every item or entry is valid. */
function withFieldRule(
  type: ModelType & { deserializer?: string },
  value: unknown,
  key: string,
  problems: Problem[],
): Problem[] {
  const rule = type.deserializer ? FIELD_DESERIALIZERS[type.deserializer] : undefined;
  const found = rule && problems.length === 0 ? rule(value) : undefined;
  return found ? [{ key: `${key}${found.key}`, message: found.message }] : problems;
}

/** Every way `value` does not fit `type`, as the node's API would refuse it (unknown keys, wrong types, invalid modeled values). */
export function checkValue(type: ModelType, value: unknown, key: string): Problem[] {
  const isTable = typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
  if (type.kind === 'scalar') {
    const message = checkScalar(type, value);
    return message ? [{ key, message }] : [];
  }
  if (type.kind === 'list') {
    if (!Array.isArray(value)) return [{ key, message: `expected an array, got ${tomlKind(value)}` }];
    return withFieldRule(
      type,
      value,
      key,
      value.flatMap((item, i) => checkValue(type.item, item, `${key}[${i}]`)),
    );
  }
  if (!isTable) return [{ key, message: `expected a table, got ${tomlKind(value)}` }];
  const table = value as Record<string, unknown>;
  if (type.kind === 'map') {
    const problems = Object.entries(table).flatMap(([k, v]) => {
      const keyProblem = checkScalar(type.key, k);
      return [
        ...(keyProblem ? [{ key: `${key}.${k}`, message: `invalid key: ${keyProblem}` }] : []),
        ...checkValue(type.value, v, `${key}.${k}`),
      ];
    });
    return withFieldRule(type, value, key, problems);
  }
  const missing = type.required
    .filter((k) => !(k in table))
    .map((k) => ({ key: `${key}.${k}`, message: `missing: ${type.name} requires ${k}` }));
  return missing.concat(
    Object.entries(table).flatMap(([k, v]) => {
      const field = type.fields[k];
      if (!field) {
        const near = closest(k, Object.keys(type.fields));
        return [
          {
            key: `${key}.${k}`,
            message: `unknown key${near ? ` (did you mean ${near}?)` : ''}: ${type.name} has ${Object.keys(type.fields).sort().join(', ')}`,
          },
        ];
      }
      return checkValue(field, v, `${key}.${k}`);
    }),
  );
}

/** The model type at a dotted key under `settings`, or undefined when the model has no such key. */
export function typeAt(model: Model, key: string): ModelType | undefined {
  let type: ModelType | undefined = model.settings;
  for (const part of key.split('.').slice(1)) {
    if (!type) return undefined;
    if (type.kind === 'struct') type = type.fields[part];
    else if (type.kind === 'map') type = type.value;
    else return undefined;
  }
  return type;
}

/** Candidates for a sample string: the first one the type's validator accepts is used. */
const SAMPLE_STRINGS = ['sample-value', '1Mi', '1', 'none', 'cpu', 'memory.available', 'sample'];

/** A plausible value of `type` for sample settings: every field set. */
export function sampleValue(type: ModelType): unknown {
  switch (type.kind) {
    case 'struct':
      return Object.fromEntries(Object.entries(type.fields).map(([k, t]) => [k, sampleValue(t)]));
    case 'map':
      return { [String(sampleValue(type.key))]: sampleValue(type.value) };
    case 'list':
      return [sampleValue(type.item)];
    case 'scalar':
      if (type.json === 'boolean') return true;
      if (type.json === 'integer') return [1, 2, 5].find((n) => !INTEGER_VALIDATORS[type.rust]?.(n)) ?? 1;
      if (type.json === 'number') return 1;
      if (type.rust === 'ValidBase64') return Buffer.from('sample').toString('base64');
      if (/^Ip(v4)?Addr$/.test(type.rust)) return '192.0.2.10';
      if (type.rust === 'Url') return 'https://sample.example.com';
      return SAMPLE_STRINGS.find((c) => !VALIDATORS[type.rust]?.(c)) ?? 'sample';
  }
}
