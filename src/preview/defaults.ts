import { readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { StepError } from '../shared/errors.js';

/**
 * The model defaults a node starts from, as storewolf builds them. Two layouts:
 * - v1.0.4 (sources/api/storewolf/src/main.rs): the shared
 *   sources/models/defaults.toml with the variant's override-defaults.toml
 *   merged over it by `merge_values`;
 * - since v1.1.0 (sources/api/storewolf/build.rs): the `*.toml` files of the
 *   variant's `defaults.d` (most of them links to sources/models/shared-defaults),
 *   sorted by file name and merged in that order by the same `merge_values`.
 */
export const DEFAULTS_PATH = 'sources/models/defaults.toml';
export const MODELS_DIR = 'sources/models';
export const MODELS_SRC = `${MODELS_DIR}/src`;

export type TomlTable = Record<string, unknown>;

const kind = (value: unknown) => (Array.isArray(value) ? 'array' : value instanceof Date ? 'datetime' : typeof value);

/**
 * `merge_values`: scalars and arrays on the right replace the left; tables
 * merge key by key. Types that differ are an error (upstream:
 * "defaults.toml data types do not match types defined in current variant's override-defaults.toml").
 */
export function mergeValues(into: TomlTable, from: TomlTable, path: string[] = [], checkTypes = true): TomlTable {
  const out: TomlTable = { ...into };
  for (const [key, right] of Object.entries(from)) {
    const left = out[key];
    const here = [...path, key];
    if (left === undefined) {
      out[key] = right;
    } else if (kind(left) !== kind(right) && checkTypes) {
      throw new Error(`${here.join('.')}: defaults.toml has a ${kind(left)}, the override a ${kind(right)}`);
    } else if (kind(right) === 'object' && kind(left) === 'object') {
      out[key] = mergeValues(left as TomlTable, right as TomlTable, here, checkTypes);
    } else {
      out[key] = right;
    }
  }
  return out;
}

/** Settings sent to the API over what the datastore holds: tables merge key by key, anything else replaces. */
export const overlay = (into: TomlTable, from: TomlTable): TomlTable => mergeValues(into, from, [], false);

/** The variant's model directory after following the symlink chain (aws-k8s-1.18 → … → aws-k8s-1.15). */
export async function variantModelDir(tree: string, variant: string): Promise<string> {
  const link = join(tree, MODELS_SRC, variant);
  try {
    return relative(await realpath(tree), await realpath(link));
  } catch (error) {
    throw new StepError('preview', `${MODELS_SRC}/${variant} does not exist in the Bottlerocket tree`, {
      cause: error,
      hint: 'Check the variant name: it must be a directory (or symlink) under sources/models/src.',
    });
  }
}

export async function readToml(tree: string, path: string): Promise<TomlTable> {
  const text = await readFile(join(tree, path), 'utf8').catch((error: unknown) => {
    throw new StepError('preview', `${path} is missing from the Bottlerocket tree`, { cause: error });
  });
  try {
    return parseToml(text);
  } catch (error) {
    throw new StepError('preview', `${path} is not valid TOML: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
}

export interface ModelDefaults {
  /** The real directory of the variant's model, relative to the tree. */
  modelDir: string;
  /** The defaults files, in merge order, by their real paths relative to the tree. */
  files: string[];
  /** The files merged. */
  merged: TomlTable;
}

/** The variant's model directory and its defaults files (`ModelDefaults` without the merge). */
export async function defaultsFiles(tree: string, variant: string): Promise<Omit<ModelDefaults, 'merged'>> {
  const modelDir = await variantModelDir(tree, variant);
  const defaultsDir = `${modelDir}/defaults.d`;
  const names = await readdir(join(tree, defaultsDir)).catch(() => undefined);
  // defaults.d holds links (to sources/models/shared-defaults): the files are named by their real paths.
  const root = await realpath(tree);
  const files = names
    ? await Promise.all(
        names
          .filter((n) => n.endsWith('.toml'))
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
          .map(async (n) => relative(root, await realpath(join(tree, defaultsDir, n)))),
      )
    : [DEFAULTS_PATH, `${modelDir}/override-defaults.toml`];
  return { modelDir, files };
}

export async function loadDefaults(tree: string, variant: string): Promise<ModelDefaults> {
  const { modelDir, files } = await defaultsFiles(tree, variant);
  const tables = await Promise.all(files.map((f) => readToml(tree, f)));
  let merged: TomlTable = {};
  tables.forEach((table, i) => {
    try {
      merged = mergeValues(merged, table);
    } catch (error) {
      throw new StepError(
        'preview',
        `${files[i]} does not match ${files.slice(0, i).join(', ')}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  });
  return { modelDir, files, merged };
}
