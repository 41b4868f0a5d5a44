import type { Equivalent, UpstreamForm } from './check-report.js';
import { findUpstreamSettings } from './find-upstream-settings.js';
import { packageWords, type Part } from './patch-parts.js';
import { readTemplate, settingOf, type TemplateLine } from './read-template.js';

/**
 * Where upstream has, in its own form, each part of each patch (patch-parts.ts):
 * the first tag whose own files have it, read from those files:
 *  - setting: its API model (find-upstream-settings.ts);
 *  - rendered: its templates in the directory of the template the patch changes, rendering the same lines;
 *  - generated: its templates computing that setting with a helper of theirs;
 *  - helper: a helper registered under the same name;
 *  - package: its Dockerfile installing it;
 *  - sshd: its sshd_config setting it, or its start script writing it from the container's user data;
 *  - program: its scripts running it.
 * Upstream's later releases are taken to keep what an earlier one had.
 */

export interface TagFiles {
  tag: string;
  /** path → blob, for the files the series touches and the directories around them. */
  files: ReadonlyMap<string, string>;
}

type Read = (blob: string) => Promise<string | undefined>;

/** What the finders read: blobs, and templates already parsed (by blob: many tags share them). */
interface Reader {
  read: Read;
  templates: Map<string, TemplateLine[] | null>;
}

/** For each patch, its parts (patch-parts.ts), each with upstream's form of it when a tag has one. */
export async function findEquivalents(
  patches: readonly (readonly Part[])[],
  tags: readonly TagFiles[],
  read: Read,
): Promise<Equivalent[][]> {
  // Most files are the same blob at many tags: each is read once.
  const texts = new Map<string, Promise<string | undefined>>();
  const once: Read = (blob) => texts.get(blob) ?? texts.set(blob, read(blob)).get(blob)!;
  const reader: Reader = { read: once, templates: new Map() };
  const out: Equivalent[][] = [];
  for (const parts of patches) out.push(await equivalentsOf(parts, tags, reader));
  return out;
}

async function equivalentsOf(parts: readonly Part[], tags: readonly TagFiles[], reader: Reader): Promise<Equivalent[]> {
  const { read } = reader;
  const settings = parts.filter((p): p is Extract<Part, { kind: 'setting' }> => p.kind === 'setting');
  const found = await findUpstreamSettings(
    settings.map((s) => ({ ...s.added, ...(s.fields ? { item: s.fields } : {}) })),
    tags,
    read,
  );
  // Our key for a setting upstream has under another name: beside the ones it has under ours.
  const prefixes = new Map(
    found
      .filter((f) => !f.mapping)
      .map((f) => [
        settings.find((s) => s.added.field === f.field)!.added.struct,
        f.key.slice(0, f.key.lastIndexOf('.')),
      ]),
  );
  const base = tags[0]?.tag;
  const out: Equivalent[] = [];
  for (const part of parts) {
    if (part.kind === 'setting') {
      const { struct, field } = part.added;
      const kebab = field.replace(/_/g, '-');
      const at = found.find((f) => f.field === field);
      // Upstream's model at the base already having it means the patch does not add it.
      if (at?.tag === base) continue;
      const key =
        struct === 'Settings'
          ? `settings.${kebab}`
          : prefixes.has(struct)
            ? `${prefixes.get(struct)}.${kebab}`
            : `${struct}.${field}`;
      const ours = `\`${key}\``;
      const form: UpstreamForm | undefined = at && {
        tag: at.tag,
        what: at.mapping ? `upstream's \`${at.key}\`` : 'upstream has its own, under the same key',
        key: at.key,
        ...(at.mapping ? { mapping: at.mapping } : {}),
      };
      out.push({ kind: 'setting', ours, ...(form ? { upstream: form } : {}) });
      continue;
    }
    // Tags are asked ten at a time, oldest first, so that their blob reads go to git in one stream; the first tag
    // that has it answers, and later ones are not asked.
    let form: UpstreamForm | undefined;
    for (let i = 0; i < tags.length && !form; i += 10) {
      const forms = await Promise.all(
        tags.slice(i, i + 10).map((tag) => FINDERS[part.kind](part as never, tag, reader)),
      );
      form = forms.find((f) => f !== undefined);
    }
    if (form?.tag === base) continue;
    out.push({ kind: part.kind, ours: oursName(part), ...(form ? { upstream: form } : {}) });
  }
  return out;
}

function oursName(part: Exclude<Part, { kind: 'setting' }>): string {
  switch (part.kind) {
    case 'rendered':
      return `\`${part.name}\` rendered in \`${part.file.slice(part.file.lastIndexOf('/') + 1)}\``;
    case 'generated':
      return `\`${part.name}\` computed at boot`;
    case 'helper':
      return `the \`${part.name}\` template helper`;
    case 'package':
      return `package \`${part.name}\``;
    case 'sshd':
      return `sshd \`${part.name} ${part.value}\``;
    case 'program':
      return `\`${part.name}\``;
  }
}

type Finder<K extends Part['kind']> = (
  part: Extract<Part, { kind: K }>,
  tag: TagFiles,
  reader: Reader,
) => Promise<UpstreamForm | undefined>;

const FINDERS: { [K in Exclude<Part['kind'], 'setting'>]: Finder<K> } = {
  async rendered(part, tag, reader) {
    const dir = part.file.slice(0, part.file.lastIndexOf('/') + 1);
    const templates = await templatesIn(tag, reader, (path) => path.startsWith(dir));
    if (!part.lines.length) {
      // Nothing of its own on the lines (`{{@key}}: {{this}}`): upstream has it when its templates render that setting.
      const by = templates.find((t) =>
        t.lines.some((l) =>
          l.values.some((v) =>
            [v.variable, ...v.args].some((a) => a && (a === part.name || a.startsWith(`${part.name}.`))),
          ),
        ),
      );
      return by && { tag: tag.tag, what: `\`${by.path}\` renders it`, file: by.path };
    }
    for (const t of templates) {
      const pairs = part.lines.map((ours) => ({ ours, theirs: t.lines.find((l) => l.skeleton === ours.skeleton) }));
      if (pairs.some((p) => !p.theirs)) continue;
      const matched = pairs as { ours: TemplateLine; theirs: TemplateLine }[];
      const setting = matched.map((p) => settingOf(p.theirs)).find((s) => s !== undefined);
      const mapping = new Map<string, string>();
      const raw: { variable: string; line: string }[] = [];
      for (const { ours, theirs } of matched) {
        ours.values.forEach((v, i) => {
          const u = theirs.values[i];
          if (!v.variable || !u?.variable) return;
          if (!v.variable.startsWith('settings.') && v.variable !== u.variable) mapping.set(v.variable, u.variable);
          // Ours escapes the value with a helper; upstream's writes it as it is.
          if (v.helper && v.helper !== 'default' && u.raw && !u.helper)
            raw.push({ variable: u.variable, line: theirs.text.trim() });
        });
      }
      const other = setting && setting !== part.name ? ` from \`${setting}\`` : '';
      return {
        tag: tag.tag,
        what: `\`${t.path}\` renders the same lines${other}`,
        file: t.path,
        ...(setting && setting !== part.name ? { key: setting } : {}),
        ...(mapping.size ? { mapping: [...mapping].map(([ours, upstream]) => ({ ours, upstream })) } : {}),
        ...(raw.length
          ? {
              lacks: `escaping: upstream writes ${list(raw.map((r) => `\`${r.variable}\``))} as they are (${raw.map((r) => `\`${r.line}\``).join(', ')}), so a \`"\` or \`\\\` in one breaks the file; ours escapes them with \`${matched.flatMap((p) => p.ours.values).find((v) => v.helper && v.helper !== 'default')!.helper}\``,
            }
          : {}),
      };
    }
    return undefined;
  },

  async generated(part, tag, reader) {
    const templates = await templatesIn(tag, reader, (path) => path.startsWith('packages/'));
    for (const t of templates) {
      const value = t.lines
        .flatMap((l) => l.values)
        .find((v) => v.helper && v.helper !== 'default' && v.args.includes(part.name));
      if (value)
        return {
          tag: tag.tag,
          what: `\`${t.path}\` computes it when it is not set, with upstream's \`${value.helper}\` helper`,
          file: t.path,
        };
    }
    return undefined;
  },

  async helper(part, tag, reader) {
    const registers = new RegExp(`register_helper\\(\\s*"${part.name}"|"${part.name}"\\s*=>\\s*helper`);
    for (const [path, blob] of tag.files) {
      if (!path.startsWith(`${part.dir}/`) || !path.endsWith('.rs')) continue;
      if (registers.test((await reader.read(blob)) ?? ''))
        return { tag: tag.tag, what: `upstream's own \`${part.name}\` helper (\`${path}\`)`, file: path };
    }
    return undefined;
  },

  async package(part, tag, reader) {
    for (const [path, text] of await filesNamed(tag, reader.read, (name) => name === 'Dockerfile')) {
      const installs = logicalLines(text)
        .filter((l) => /\binstall\b/.test(l))
        .flatMap(packageWords);
      if (installs.includes(part.name)) return { tag: tag.tag, what: `upstream's \`${path}\` installs it`, file: path };
    }
    return undefined;
  },

  async sshd(part, tag, reader) {
    const option = part.name.toLowerCase();
    for (const [path, text] of await filesNamed(tag, reader.read, (name) => name === 'sshd_config')) {
      const line = text.split('\n').find((l) => l.trim().toLowerCase().split(/\s+/)[0] === option);
      if (line && line.trim().split(/\s+/).slice(1).join(' ') === part.value)
        return { tag: tag.tag, what: `upstream's \`${path}\` sets it`, file: path };
    }
    for (const [path, text] of await filesNamed(tag, reader.read, (name) => /\.(sh|bash)$/.test(name))) {
      const key = userDataKey(text, part.name);
      if (key) {
        return {
          tag: tag.tag,
          what: `upstream's \`${path}\` writes it from the admin container's user data \`${key}\``,
          file: path,
          userData: { key, value: part.value },
        };
      }
    }
    return undefined;
  },

  async program(part, tag, reader) {
    for (const [path, text] of await filesNamed(tag, reader.read, (name) => /\.(sh|bash)$/.test(name))) {
      if (text.split('\n').some((l) => !l.trim().startsWith('#') && l.includes(part.name)))
        return { tag: tag.tag, what: `upstream's \`${path}\` runs it`, file: path };
    }
    return undefined;
  },
};

/**
 * The user-data key a script writes an sshd option from: `echo "Option ${var}" >> …sshd_config…`,
 * with `var=$(jq … '.["ssh"]["option-name"]' …)` → `ssh.option-name`.
 */
function userDataKey(script: string, option: string): string | undefined {
  const write = new RegExp(`echo\\s+"${option}\\s+\\$\\{?(\\w+)\\}?"\\s*>>`).exec(script);
  if (!write) return undefined;
  const assigned = new RegExp(`\\b${write[1]}=\\$\\(jq\\b[^']*'([^']+)'`).exec(script);
  if (!assigned) return undefined;
  const keys = [...assigned[1]!.matchAll(/\["([^"]+)"\]|\.([A-Za-z_][\w-]*)/g)].map((m) => m[1] ?? m[2]);
  return keys.length ? keys.join('.') : undefined;
}

/** A Dockerfile's commands, continuation lines (`\`) joined. */
const logicalLines = (text: string) => text.replace(/\\\n/g, ' ').split('\n');

async function templatesIn(
  tag: TagFiles,
  { read, templates }: Reader,
  wanted: (path: string) => boolean,
): Promise<{ path: string; lines: TemplateLine[] }[]> {
  const out: { path: string; lines: TemplateLine[] }[] = [];
  for (const [path, blob] of tag.files) {
    if (!wanted(path) || /\.(patch|spec|rs|service|mount|md)$|Cargo\.toml$/.test(path)) continue;
    if (!templates.has(blob)) {
      const text = await read(blob);
      templates.set(blob, text?.includes('{{') ? readTemplate(text) : null);
    }
    const lines = templates.get(blob);
    if (lines) out.push({ path, lines });
  }
  return out;
}

async function filesNamed(tag: TagFiles, read: Read, wanted: (name: string) => boolean): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const [path, blob] of tag.files) {
    if (!wanted(path.slice(path.lastIndexOf('/') + 1))) continue;
    const text = await read(blob);
    if (text !== undefined) out.push([path, text]);
  }
  return out;
}

const list = (items: readonly string[]) =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
