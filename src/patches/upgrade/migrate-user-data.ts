import type { ModelType } from '../../preview/index.js';
import { ConfigError } from '../../shared/errors.js';
import type { SettingMove } from '../rebase/rebase-state.js';

/**
 * User data written for the old base, as the same node on the new one. Each
 * setting, from the top:
 *  - upstream's own model at the new base has it: it stays (one value
 *    becomes a list of one where upstream now takes a list);
 *  - a patch the upgrade dropped because upstream has it in another form
 *    names upstream's key and field mapping (the check's advice, kept with
 *    the rebase): it moves there, the renamed fields with it;
 *  - else, upstream has a setting of the same meaning under another key (a
 *    list of tables or a table whose fields are ours, one of them renamed;
 *    for a series already carried, which no rebase advised on): it moves
 *    there, the renamed field with it (`name` → `registry`);
 *  - the new series adds it: it stays;
 *  - none of these: it is dropped and named, with the reason.
 * A key that neither base knows is an error: a typo must not be carried.
 * The models are read from the trees, never from a table here.
 */

export type Table = Record<string, unknown>;
/** A TOML table: an object that is no array and no date. */
export const isTable = (v: unknown): v is Table =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export interface Models {
  /** The old base with the old series. */
  old: ModelType;
  /** Upstream's own model at the new base. */
  upstream: ModelType;
  /** The new base with the new series. */
  next: ModelType;
}

export interface Move extends SettingMove {
  /** The patch the upgrade dropped because upstream has it in this form, when the move is that patch's advice. */
  patch?: string;
}

export interface Migration {
  settings: Table;
  moved: Move[];
  /** Kept because the new series (not upstream) defines them. */
  carried: string[];
  dropped: { key: string; reason: string }[];
  /** Other changes (EC2 Instance Connect switched on…), one sentence each. */
  notes: string[];
}

type Struct = Extract<ModelType, { kind: 'struct' }>;

/** The type of a child key: a struct's field, a map's value. */
function child(type: ModelType | undefined, key: string): ModelType | undefined {
  if (!type) return undefined;
  if (type.kind === 'struct') return type.fields[key];
  if (type.kind === 'map') return type.value;
  return undefined;
}

/** The struct a setting's values are: a table's struct, or a list's item struct. */
function shapeOf(type: ModelType | undefined): { list: boolean; struct: Struct } | undefined {
  if (type?.kind === 'struct') return { list: false, struct: type };
  if (type?.kind === 'list' && type.item.kind === 'struct') return { list: true, struct: type.item };
  return undefined;
}

/** Every key path under `settings` in a model, with its type. */
function keysOf(
  type: ModelType,
  path: string,
  out: { key: string; type: ModelType }[] = [],
  seen = new Set<string>(),
): typeof out {
  if (type.kind !== 'struct' || seen.has(type.name)) return out;
  for (const [name, field] of Object.entries(type.fields)) {
    const key = `${path}.${name}`;
    out.push({ key, type: field });
    keysOf(field, key, out, new Set([...seen, type.name]));
  }
  return out;
}

/**
 * Upstream's setting with the meaning of ours: the same kind (list of tables
 * or table), every field of ours there under its own name but at most one,
 * which pairs with upstream's first field (in its struct's order) that ours
 * lacks, both strings: `{name, username, password, auth}` finds
 * `{registry, username, password, auth, identitytoken}` with name → registry.
 */
export function findEquivalent(
  ours: ModelType,
  upstream: ModelType,
  taken: ReadonlySet<string>,
): { key: string; fields: Record<string, string> } | undefined {
  const mine = shapeOf(ours);
  if (!mine || Object.keys(mine.struct.fields).length < 2) return undefined;
  const isString = (t: ModelType | undefined) => t?.kind === 'scalar' && t.json === 'string';
  for (const { key, type } of keysOf(upstream, 'settings')) {
    const theirs = shapeOf(type);
    if (!theirs || theirs.list !== mine.list || taken.has(key)) continue;
    const ourNames = Object.keys(mine.struct.fields);
    const theirNames = Object.keys(theirs.struct.fields);
    const onlyOurs = ourNames.filter((n) => !theirNames.includes(n));
    if (ourNames.length - onlyOurs.length < 2 || onlyOurs.length > 1) continue;
    const [a] = onlyOurs;
    if (a === undefined) return { key, fields: {} };
    const b = theirNames.find((n) => !ourNames.includes(n));
    if (b && isString(mine.struct.fields[a]) && isString(theirs.struct.fields[b])) return { key, fields: { [a]: b } };
  }
  return undefined;
}

function equivalentMove(
  from: string,
  ours: ModelType | undefined,
  upstream: ModelType,
  taken: ReadonlySet<string>,
): Move | undefined {
  const found = ours && findEquivalent(ours, upstream, taken);
  return found && { from, to: found.key, fields: found.fields };
}

/**
 * A value as upstream's type at the new base takes it: where the old model
 * took one value and the new one takes a list of them (a node taint's
 * `value:Effect`), a list of that one; `listed` collects where.
 */
function conform(
  value: unknown,
  old: ModelType | undefined,
  next: ModelType | undefined,
  at: string,
  listed: string[],
): unknown {
  if (next?.kind === 'list' && old && old.kind !== 'list' && !Array.isArray(value)) {
    listed.push(at);
    return [value];
  }
  if (!isTable(value) || (next?.kind !== 'struct' && next?.kind !== 'map')) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, conform(v, child(old, k), child(next, k), `${at}.${k}`, listed)]),
  );
}

/** The keys of `value` that none of `types` knows, as paths. */
function unknownKeys(types: readonly (ModelType | undefined)[], value: unknown, path: string): string[] {
  const known = types.filter((t): t is ModelType => t !== undefined);
  if (!known.length) return [path];
  if (Array.isArray(value)) {
    const items = known.flatMap((t) => (t.kind === 'list' ? [t.item] : []));
    return items.length ? value.flatMap((v) => unknownKeys(items, v, path)) : [];
  }
  if (!isTable(value) || !known.some((t) => t.kind === 'struct' || t.kind === 'map')) return [];
  return Object.entries(value).flatMap(([k, v]) =>
    unknownKeys(
      known.map((t) => child(t, k)),
      v,
      `${path}.${k}`,
    ),
  );
}

function setAt(root: Table, key: string, value: unknown): void {
  const parts = key.split('.').slice(1);
  let at = root;
  for (const part of parts.slice(0, -1)) {
    if (!isTable(at[part])) at[part] = {};
    at = at[part] as Table;
  }
  const last = parts[parts.length - 1]!;
  at[last] = Array.isArray(at[last]) && Array.isArray(value) ? [...(at[last] as unknown[]), ...value] : value;
}

function renameFields(value: unknown, fields: Record<string, string>): unknown {
  const rename = (t: unknown) =>
    isTable(t) ? Object.fromEntries(Object.entries(t).map(([k, v]) => [fields[k] ?? k, v])) : t;
  return Array.isArray(value) ? value.map(rename) : rename(value);
}

export function migrateSettings(
  file: string,
  settings: Table,
  models: Models,
  tags: { from: string; to: string },
  advised: readonly Move[] = [],
): Migration {
  // Known at either base; anything else is a typo, refused before anything moves.
  const unknown = unknownKeys([models.old, models.next], settings, 'settings');
  if (unknown.length) {
    throw new ConfigError(
      file,
      `${unknown.map((k) => `\`${k}\``).join(', ')}: unknown at both ${tags.from} (with its series) and ${tags.to}`,
      {
        hint: 'Check the spelling against the model (sources/models/src in the tree), or remove the key.',
      },
    );
  }
  const out: Table = {};
  const migration: Migration = { settings: out, moved: [], carried: [], dropped: [], notes: [] };
  const taken = new Set<string>();
  const walk = (
    value: Table,
    path: string,
    target: Table,
    types: { old?: ModelType; upstream?: ModelType; next?: ModelType },
  ) => {
    for (const [key, v] of Object.entries(value)) {
      const at = `${path}.${key}`;
      const t = { old: child(types.old, key), upstream: child(types.upstream, key), next: child(types.next, key) };
      if (t.upstream) {
        if (isTable(v) && !unknownKeys([t.upstream], v, at).length)
          target[key] = conform(v, t.old, t.upstream, at, listed);
        else if (isTable(v)) walk(v, at, (target[key] = isTable(target[key]) ? target[key] : {}), t);
        else target[key] = conform(v, t.old, t.upstream, at, listed);
        continue;
      }
      const move =
        advised.find((m) => m.from === at && !taken.has(m.to)) ?? equivalentMove(at, t.old, models.upstream, taken);
      if (move) {
        taken.add(move.to);
        migration.moved.push(move);
        setAt(out, move.to, renameFields(v, move.fields));
      } else if (t.next) {
        migration.carried.push(at);
        target[key] = v;
      } else {
        migration.dropped.push({
          key: at,
          reason: `neither upstream's model at ${tags.to} nor the new series has it, nor a setting of the same shape`,
        });
      }
    }
  };
  const listed: string[] = [];
  walk(settings, 'settings', out, { old: models.old, upstream: models.upstream, next: models.next });
  if (listed.length) {
    migration.notes.push(
      `${listed.join(', ')}: a list at ${tags.to} of what ${tags.from} took one of; written as a list of one.`,
    );
  }
  return migration;
}
