import { buildModel, type ModelType } from '../../preview/index.js';
import { parseRustItems, type RustItems } from '../../preview/index.js';
import type { SeriesPatch } from '../load-series.js';

/**
 * The settings a patch adds to upstream's API model, and the first tag whose
 * own model has each of them: upstream's version of our setting, by the name
 * upstream gave it there (`settings.kubernetes.eviction-hard`).
 *
 * A setting a patch adds is a field its added lines put into a struct that
 * upstream already has (the struct is named by the hunk, or by the hunk
 * header's context line `@@ … @@ struct KubernetesSettings {`); fields of
 * structs the patch itself adds are the new setting's parts, not settings.
 */

export interface AddedSetting {
  /** The Rust struct and field, e.g. KubernetesSettings, eviction_hard. */
  struct: string;
  field: string;
  /** The model file the patch adds it in. */
  file: string;
  /** The type names its type is made of: `Vec<RegistryAuth>` → Vec, RegistryAuth. */
  types: string[];
}

export interface UpstreamSetting {
  /** Our field, and the key upstream's model has for it, e.g. `settings.kubernetes.eviction-hard`. */
  field: string;
  key: string;
  /** The first tag (in the order checked) whose model has it. */
  tag: string;
  /** Found by meaning: each field of our item and upstream's name for it (null: none). */
  mapping?: { ours: string; upstream: string | null }[];
}

/** The fields of the struct a setting holds a list or map of, when the patch adds that struct: name → type name. */
export type ItemFields = { name: string; type: string }[];

const MODEL_SOURCE = /^sources\/models\/.*\.rs$/;
const FIELD = /^\+\s*(?:pub(?:\([^)]*\))?\s+)?(?:r#)?([a-z][a-z0-9_]*)\s*:\s*([A-Za-z].*)$/;
const STRUCT = /^[ +-]?\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)/;

export function addedSettings(patch: SeriesPatch): AddedSetting[] {
  const added: AddedSetting[] = [];
  const newStructs = new Set<string>();
  for (const file of patch.files)
    for (const hunk of file.hunks)
      for (const line of hunk.lines) if (line.startsWith('+')) newStructs.add(STRUCT.exec(line)?.[1] ?? '');
  for (const chunk of patch.chunks) {
    const file = chunk.newPath;
    if (!file || !MODEL_SOURCE.test(file)) continue;
    let struct: string | undefined;
    let depth = 0;
    for (const line of chunk.text.split('\n')) {
      if (line.startsWith('@@')) {
        // The hunk header names the item the hunk is in, when git found one.
        struct = STRUCT.exec(line.replace(/^@@[^@]*@@\s?/, ' '))?.[1];
        depth = struct ? 1 : 0;
        continue;
      }
      if (line.startsWith('-') || !struct) {
        const opened = STRUCT.exec(line)?.[1];
        if (opened && line.includes('{')) {
          struct = opened;
          depth = 1;
        }
        continue;
      }
      const opened = STRUCT.exec(line)?.[1];
      if (opened) {
        struct = opened;
        depth = line.includes('{') ? 1 : 0;
        continue;
      }
      const field = depth === 1 ? FIELD.exec(line) : undefined;
      if (field && !newStructs.has(struct))
        added.push({ struct, field: field[1]!, file, types: field[2]!.match(/\w+/g) ?? [] });
      depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
      if (depth <= 0) struct = undefined;
    }
  }
  return added;
}

/**
 * For each added setting, the first of `tags` whose model files (the
 * series' model sources as that tag has them) have it; the key is where it
 * sits under upstream's `Settings` there. Upstream has it by name (its struct
 * has a field of that name) or by meaning: for a list or map of a struct the
 * patch adds, a struct of upstream's with most of the same fields (upstream's
 * `RegistryCredential` for our `RegistryAuth`), the others paired by the name
 * their type carries (our `name: RegistryHost` is upstream's `registry`), else
 * by their place.
 */
export async function findUpstreamSettings(
  added: readonly (AddedSetting & { item?: ItemFields })[],
  tags: readonly { tag: string; files: ReadonlyMap<string, string> }[],
  read: (blob: string) => Promise<string | undefined>,
): Promise<UpstreamSetting[]> {
  const found: UpstreamSetting[] = [];
  let left = [...added];
  const parsed = new Map<string, RustItems>();
  const worthy = new Map<string, boolean>();
  // The model sources of every tag, asked for at once: the reads go to git in one stream.
  const texts = new Map<string, Promise<string | undefined>>();
  for (const { files } of tags)
    for (const [path, blob] of files) if (MODEL_SOURCE.test(path) && !texts.has(blob)) texts.set(blob, read(blob));
  for (const { tag, files } of tags) {
    if (!left.length) break;
    const sources = [...files].filter(([path]) => MODEL_SOURCE.test(path));
    const sourceTexts = await Promise.all(sources.map(([, blob]) => texts.get(blob)!));
    // Parsing Rust is the cost: only a tag whose sources name a field looked for (or enough of an item's fields
    // to be its counterpart, in one file) is parsed.
    const fields = (text: string, names: readonly string[]) =>
      names.filter((n) => new RegExp(`\\b${n}\\s*:`).test(text)).length;
    const worth = (text: string) =>
      left.some(
        (f) =>
          fields(text, [f.field]) > 0 ||
          (f.item !== undefined &&
            fields(
              text,
              f.item.map((i) => i.name),
            ) >= enough(f.item)),
      );
    // Most blobs are the same from one tag to the next: each is looked at once for as long as `left` is the same.
    const looked = (blob: string, text: string | undefined) => {
      const key = `${left.length}\0${blob}`;
      if (!worthy.has(key)) worthy.set(key, text !== undefined && worth(text));
      return worthy.get(key)!;
    };
    if (!sources.some(([, blob], i) => looked(blob, sourceTexts[i]))) continue;
    const items: RustItems = { structs: [], enums: [], stringTypes: [] };
    for (const [i, [, blob]] of sources.entries()) {
      let one = parsed.get(blob);
      if (!one) {
        const text = sourceTexts[i];
        one = text === undefined ? { structs: [], enums: [], stringTypes: [] } : parseRustItems(text);
        parsed.set(blob, one);
      }
      items.structs.push(...one.structs);
      items.enums.push(...one.enums);
      items.stringTypes.push(...one.stringTypes);
    }
    const paths = structPaths(items);
    left = left.filter((setting) => {
      const struct = items.structs.find((s) => s.name === setting.struct);
      if (struct?.fields.some((f) => f.name === setting.field)) {
        const at = paths.get(setting.struct);
        found.push({
          field: setting.field,
          key: (at && keyOf(at, setting.field)) ?? `${setting.struct}.${setting.field}`,
          tag,
        });
        return false;
      }
      const like = setting.item && sameMeaning(setting.item, items.structs);
      const at = like && paths.get(like.struct);
      if (!like || !at) return true;
      found.push({ field: setting.field, key: at.key, tag, mapping: like.mapping });
      return false;
    });
  }
  return found;
}

/** The struct with most of `ours`' fields (at least two, and half of them), and each of our fields' counterpart. */
const enough = (ours: ItemFields) => Math.max(2, Math.ceil(ours.length / 2));

function sameMeaning(
  ours: ItemFields,
  structs: RustItems['structs'],
): { struct: string; mapping: { ours: string; upstream: string | null }[] } | undefined {
  const need = enough(ours);
  const scored = structs
    .map((s) => ({ s, shared: ours.filter((f) => s.fields.some((u) => u.name === f.name)).length }))
    .filter((x) => x.shared >= need)
    .sort((a, b) => b.shared - a.shared);
  const best = scored[0]?.s;
  if (!best) return undefined;
  const theirs = best.fields.map((f) => f.name);
  const free = theirs.filter((n) => !ours.some((f) => f.name === n));
  const mapping = ours.map((f, i) => {
    if (theirs.includes(f.name)) return { ours: f.name, upstream: f.name };
    const byType = free.find((n) => f.type.toLowerCase().includes(n.toLowerCase()));
    const byPlace = theirs[i] !== undefined && free.includes(theirs[i]) ? theirs[i] : undefined;
    const upstream = byType ?? byPlace ?? null;
    if (upstream) free.splice(free.indexOf(upstream), 1);
    return { ours: f.name, upstream };
  });
  return { struct: best.name, mapping };
}

/** Where each struct sits under `Settings`: its key path and its model node. */
function structPaths(items: RustItems): Map<string, { key: string; node: Extract<ModelType, { kind: 'struct' }> }> {
  const paths = new Map<string, { key: string; node: Extract<ModelType, { kind: 'struct' }> }>();
  let settings: ModelType;
  try {
    settings = buildModel(items).settings;
  } catch {
    return paths;
  }
  const walk = (type: ModelType, key: string) => {
    if (type.kind === 'map') return walk(type.value, `${key}.*`);
    if (type.kind === 'list') return walk(type.item, key);
    if (type.kind !== 'struct' || paths.has(type.name)) return;
    paths.set(type.name, { key, node: type });
    for (const [name, field] of Object.entries(type.fields)) walk(field, `${key}.${name}`);
  };
  walk(settings, 'settings');
  return paths;
}

/** The field's key as the struct's node names it (kebab-case for `#[model]` structs). */
function keyOf(at: { key: string; node: Extract<ModelType, { kind: 'struct' }> }, field: string): string {
  const kebab = field.replace(/_/g, '-');
  const name = [kebab, field].find((n) => n in at.node.fields) ?? kebab;
  return `${at.key}.${name}`;
}
