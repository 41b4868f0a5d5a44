import type { SeriesPatch } from '../load-series.js';
import { addedSettings, type AddedSetting, type ItemFields } from './find-upstream-settings.js';
import { readTemplate, settingOf, type TemplateLine } from './read-template.js';

/**
 * What a patch gives a node, each in a form upstream could have given it too
 * (find-equivalents.ts looks for each in upstream's own files at every tag):
 *  - setting: a field it adds to the API model (settings.kubernetes.eviction-hard), or a list of a
 *    struct it adds (settings.cri-registry-auths: name, username, password, auth);
 *  - rendered: what a template it changes renders from one setting (its lines, with the values left out);
 *  - generated: a setting it computes on the node (`setting-generator` in the model's defaults);
 *  - helper: a template helper it registers (toml_encode);
 *  - package: a package its Dockerfile installs;
 *  - sshd: an sshd_config option it sets;
 *  - program: a program its scripts run (/opt/aws/bin/eic_harvest_hostkeys).
 * The rest of a patch (the Rust that implements a setting, validation, tests,
 * comments) is how it does these, not what it gives.
 */
export type Part =
  | { kind: 'setting'; name: string; added: AddedSetting; fields?: ItemFields }
  | { kind: 'rendered'; name: string; file: string; lines: TemplateLine[] }
  | { kind: 'generated'; name: string }
  | { kind: 'helper'; name: string; dir: string }
  | { kind: 'package'; name: string }
  | { kind: 'sshd'; name: string; value: string; dir: string }
  | { kind: 'program'; name: string };

export function patchParts(patch: SeriesPatch): Part[] {
  const parts: Part[] = [];
  const structs = addedStructs(patch);
  for (const added of addedSettings(patch)) {
    const item = added.types.map((t) => structs.get(t)).find((f) => f !== undefined);
    parts.push({ kind: 'setting', name: added.field, added, ...(item ? { fields: item } : {}) });
  }
  for (const chunk of patch.chunks) {
    const path = chunk.newPath;
    if (!path) continue;
    const added = addedLines(chunk.text);
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name === 'Dockerfile') parts.push(...installed(chunk.text).map((p) => ({ kind: 'package' as const, name: p })));
    else if (name === 'sshd_config')
      parts.push(...sshdOptions(added, path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.'));
    else if (/\.(sh|bash)$/.test(name)) parts.push(...programs(added));
    else if (/\.rs$/.test(name)) parts.push(...helpers(added, path));
    else if (/\.toml$/.test(name) && path.startsWith('sources/models/')) parts.push(...generated(chunk.text));
    else if (path.startsWith('packages/') && added.some((l) => l.includes('{{')))
      parts.push(...rendered(chunk.text, path));
  }
  const seen = new Set<string>();
  return parts.filter((p) => !seen.has(`${p.kind}\0${p.name}`) && seen.add(`${p.kind}\0${p.name}`));
}

const addedLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
    .map((l) => l.slice(1));

/** Structs the patch adds, with their fields (from its added lines). */
function addedStructs(patch: SeriesPatch): Map<string, ItemFields> {
  const structs = new Map<string, ItemFields>();
  let current: ItemFields | undefined;
  for (const chunk of patch.chunks) {
    if (!chunk.newPath?.endsWith('.rs')) continue;
    for (const line of addedLines(chunk.text)) {
      const opened = /^\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)\s*\{/.exec(line);
      if (opened) structs.set(opened[1]!, (current = []));
      else if (/^\s*\}/.test(line)) current = undefined;
      else if (current) {
        const field = /^\s*(?:pub(?:\([^)]*\))?\s+)?(?:r#)?([a-z][a-z0-9_]*)\s*:\s*(.+?),?\s*$/.exec(line);
        if (field) current.push({ name: field[1]!, type: innermost(field[2]!) });
      }
    }
  }
  return structs;
}

/** The innermost type name: `Option<RegistryAuthValue>` → RegistryAuthValue. */
export const innermost = (type: string) => /(\w+)\s*>*\s*$/.exec(type.replace(/,\s*$/, ''))?.[1] ?? type;

/**
 * The packages a Dockerfile change adds to an install command: the words of
 * its added lines inside a `RUN … install …` command (continued with `\`).
 */
function installed(text: string): string[] {
  const out: string[] = [];
  let installing = false;
  for (const line of text.split('\n')) {
    if (/^(diff|index|---|\+\+\+|@@)/.test(line)) continue;
    const body = line.slice(1);
    if (/\binstall\b/.test(body)) installing = true;
    if (line.startsWith('+') && installing) out.push(...packageWords(body));
    if (line.startsWith('-')) continue;
    if (!/\\\s*$/.test(body)) installing = false;
  }
  return out;
}

/** The package names in an install command line. */
export const packageWords = (line: string) =>
  line
    .replace(/.*\binstall\b/, '')
    .split(/\s+/)
    .filter(
      (w) => /^[A-Za-z0-9][\w.+-]*$/.test(w) && !/^(yum|dnf|apt-get|apt|apk|install|update|clean|all|RUN)$/.test(w),
    );

/** The options an sshd_config change sets; upstream may write them from a script beside it (`dir`). */
function sshdOptions(added: readonly string[], dir: string): Part[] {
  return added.flatMap((line) => {
    const m = /^\s*([A-Za-z]+)\s+(.+?)\s*$/.exec(line);
    return m && !line.trim().startsWith('#') ? [{ kind: 'sshd' as const, name: m[1]!, value: m[2]!, dir }] : [];
  });
}

/** Absolute paths of programs the added lines of a script name (comments left out). */
function programs(added: readonly string[]): Part[] {
  const paths = added
    .filter((l) => !l.trim().startsWith('#'))
    .flatMap((l) => [...l.matchAll(/\/(?:opt|usr|bin|sbin)\/[\w./-]*\w/g)].map((m) => m[0]));
  return paths.map((name) => ({ kind: 'program' as const, name }));
}

function helpers(added: readonly string[], path: string): Part[] {
  const dir = path.slice(0, path.lastIndexOf('/'));
  return added.flatMap((l) => {
    const m = /register_helper\(\s*"([\w-]+)"/.exec(l);
    return m ? [{ kind: 'helper' as const, name: m[1]!, dir }] : [];
  });
}

/** Settings a defaults change has computed on the node: `[metadata.settings.X]` with `setting-generator` (or `Y.setting-generator`). */
function generated(text: string): Part[] {
  const out: Part[] = [];
  let table: string | undefined;
  for (const line of text.split('\n')) {
    if (/^(diff|index|---|\+\+\+|@@)/.test(line) || line.startsWith('-')) continue;
    const body = line.slice(1);
    const header = /^\s*\[metadata\.(settings\.[\w.-]+)\]/.exec(body);
    if (header) table = header[1];
    else if (/^\s*\[/.test(body)) table = undefined;
    const generator = /^\s*(?:([\w-]+)\.)?setting-generator\s*=/.exec(body);
    if (line.startsWith('+') && table && generator)
      out.push({ kind: 'generated', name: generator[1] ? `${table}.${generator[1]}` : table });
  }
  return out;
}

/** What a template change renders, one part per setting its added lines render. */
function rendered(text: string, file: string): Part[] {
  const bySetting = new Map<string, TemplateLine[]>();
  for (const line of readTemplate(text, { diff: true })) {
    if (!line.added) continue;
    const setting = settingOf(line);
    if (!setting) continue;
    if (!bySetting.has(setting)) bySetting.set(setting, []);
    if (line.significant) bySetting.get(setting)!.push(line);
  }
  return [...bySetting].map(([name, lines]) => ({ kind: 'rendered' as const, name, file, lines }));
}
