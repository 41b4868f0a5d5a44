import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { buildModel, parseRustItems, type ModelType, type RustItems } from '../../preview/index.js';
import { StepError } from '../../shared/errors.js';

/**
 * What an upgrade reads from a Bottlerocket tree (its `sources/models/`,
 * extracted at a commit with a series applied): the variant's API model and
 * the admin container version its defaults name. The model is upstream's own
 * Rust (lib.rs, modeled_types, the variant's mod.rs through its symlinks);
 * the defaults are every TOML the variant's model directory takes, in
 * upstream's order for each layout: `sources/models/defaults.toml` with
 * `override-defaults.toml` over it (v1.0.x), or the variant's `defaults.d/`
 * (later releases, links into `shared-defaults/`).
 */
export const MODELS = 'sources/models';
const MODELS_SRC = `${MODELS}/src`;

export interface VariantModel {
  settings: ModelType;
  /** The variant's model directory, relative to the tree (the end of its symlinks). */
  modelDir: string;
}

async function variantDir(tree: string, variant: string): Promise<string> {
  try {
    return await realpath(join(tree, MODELS_SRC, variant));
  } catch (error) {
    throw new StepError('upgrade', `${MODELS_SRC}/${variant} does not exist in the Bottlerocket tree`, { cause: error, hint: 'Check the variant name.' });
  }
}

/** The .rs files directly in `dir`, symlinks followed. */
async function rustFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = await Promise.all(
    names
      .filter((n) => n.endsWith('.rs'))
      .map(async (n) => ((await stat(join(dir, n)).then((s) => s.isFile(), () => false)) ? join(dir, n) : undefined)),
  );
  return files.filter((f): f is string => f !== undefined).sort();
}

export async function readVariantModel(tree: string, variant: string): Promise<VariantModel> {
  const dir = await variantDir(tree, variant);
  const src = join(tree, MODELS_SRC);
  const files = [...(await rustFiles(src)), ...(await rustFiles(join(src, 'modeled_types'))), ...(await rustFiles(dir))];
  const items: RustItems = { structs: [], enums: [], stringTypes: [] };
  for (const file of files) {
    const parsed = parseRustItems(await readFile(file, 'utf8'));
    items.structs.push(...parsed.structs);
    items.enums.push(...parsed.enums);
    items.stringTypes.push(...parsed.stringTypes);
  }
  const modelDir = relative(tree, dir);
  try {
    return { settings: buildModel(items).settings, modelDir };
  } catch (error) {
    throw new StepError('upgrade', `${modelDir} has no struct Settings`, { cause: error, hint: 'The variant model must define `struct Settings`.' });
  }
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** The variant's default TOML files, in the order upstream merges them (later wins), relative to the tree. */
async function defaultFiles(tree: string, variant: string): Promise<string[]> {
  const dir = await variantDir(tree, variant);
  const dropIns = await readdir(join(dir, 'defaults.d')).catch(() => [] as string[]);
  if (dropIns.length) {
    return Promise.all(
      dropIns
        .filter((n) => n.endsWith('.toml'))
        .sort()
        .map(async (n) => relative(tree, await realpath(join(dir, 'defaults.d', n)))),
    );
  }
  return [`${MODELS}/defaults.toml`, relative(tree, join(dir, 'override-defaults.toml'))];
}

/**
 * The admin container release the variant's defaults pull
 * (`settings.host-containers.admin.source`, or the template its setting
 * generator renders): the image tag after `bottlerocket-admin:`.
 */
export async function adminDefault(tree: string, variant: string): Promise<{ version: string; file: string }> {
  const files = await defaultFiles(tree, variant);
  let found: { version: string; file: string } | undefined;
  for (const file of files) {
    const text = await readFile(join(tree, file), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let data: Table;
    try {
      data = parseToml(text);
    } catch (error) {
      throw new StepError('upgrade', `${file} is not valid TOML`, { cause: error });
    }
    const admin = (root: unknown) => {
      const hc = isTable(root) && isTable(root['host-containers']) ? root['host-containers'] : undefined;
      return hc && isTable(hc.admin) ? hc.admin : undefined;
    };
    const metadata = isTable(data.metadata) ? data.metadata.settings : undefined;
    const source = admin(data.settings)?.source;
    const template = admin(metadata)?.source;
    const image = typeof source === 'string' ? source : isTable(template) && typeof template.template === 'string' ? template.template : undefined;
    const version = image && /bottlerocket-admin:(v\d+\.\d+\.\d+)\s*$/.exec(image)?.[1];
    if (version) found = { version, file };
  }
  if (!found) {
    throw new StepError('upgrade', `No default admin container source in the defaults of ${variant}: ${files.join(', ')}`, {
      hint: 'Upstream names it in settings.host-containers.admin.source (or its metadata template); check the tag.',
    });
  }
  return found;
}
