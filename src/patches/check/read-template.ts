/**
 * Reads a Bottlerocket template (handlebars) line by line for what it renders:
 * each line's text with its values left out (its skeleton), the values (which
 * variable, through which helper, escaped or raw), and the settings of the
 * blocks (`{{#each settings.x}}`, `{{#if settings.y}}`) it sits in. Two
 * templates render the same thing where their skeletons are equal, whatever
 * the settings are called.
 */

export interface TemplateValue {
  /** The variable rendered: `password`, `settings.kubernetes.max-pods`. */
  variable?: string;
  /** The helper it goes through (`toml_encode`, `default`), if any. */
  helper?: string;
  /** The helper's arguments. */
  args: string[];
  /** `{{{x}}}`: rendered as it is, no escaping at all. */
  raw: boolean;
  text: string;
}

export interface TemplateLine {
  text: string;
  /** The text with each value replaced by `*` (and the quotes around a value dropped), trimmed. */
  skeleton: string;
  values: TemplateValue[];
  /** The settings of the blocks the line is in, outermost first. */
  blocks: string[];
  /** Letters or digits outside the values: the line says something of its own. */
  significant: boolean;
  /** In a diff: an added line. */
  added: boolean;
}

const MUSTACHE = /\{\{\{?~?([^{}]*?)~?\}?\}\}/g;
const SETTING = /\bsettings(?:\.[\w-]+)+/;

/** A setting as one key: map entries (`feature-gates.CSIMigration`) and @-variables are the map's. */
export function settingKey(path: string): string {
  const parts = path.split('.');
  const at = parts.findIndex((p, i) => i > 1 && (/[A-Z@]/.test(p) || p === 'this'));
  return (at < 0 ? parts : parts.slice(0, at)).join('.');
}

/** The setting a line renders: one its values name, else the innermost block's. */
export function settingOf(line: TemplateLine): string | undefined {
  for (const v of line.values)
    if (v.variable && SETTING.test(v.variable)) return settingKey(SETTING.exec(v.variable)![0]);
  return line.blocks.at(-1);
}

/** Each line of a template, or (diff) of a file change's hunks: context and added lines, removed ones left out. */
export function readTemplate(text: string, options: { diff: boolean } = { diff: false }): TemplateLine[] {
  const out: TemplateLine[] = [];
  const blocks: string[] = [];
  /** The setting of each open block, or '' for one without. */
  const open: string[] = [];
  for (const raw of text.split('\n')) {
    if (
      options.diff &&
      (/^(diff|index|---|\+\+\+|new file|deleted file|similarity|rename|old mode|new mode)/.test(raw) ||
        raw.startsWith('-'))
    )
      continue;
    if (options.diff && raw.startsWith('@@')) {
      blocks.length = 0;
      open.length = 0;
      continue;
    }
    const added = options.diff && raw.startsWith('+');
    const line = options.diff ? raw.slice(1) : raw;
    const values: TemplateValue[] = [];
    let structural = true;
    for (const m of line.matchAll(MUSTACHE)) {
      const inner = m[1]!.trim();
      if (inner.startsWith('#')) {
        const setting = SETTING.exec(inner)?.[0];
        open.push(setting ? settingKey(setting) : '');
        if (setting) blocks.push(settingKey(setting));
        continue;
      }
      if (inner.startsWith('/')) {
        if (open.pop()) blocks.pop();
        continue;
      }
      if (inner === 'else' || inner.startsWith('!')) continue;
      structural = false;
      const words = inner.split(/\s+/).filter(Boolean);
      const variable = [...words]
        .reverse()
        .find((w) => /^(@?[A-Za-z_][\w.-]*|this)$/.test(w) && !/^(true|false|null)$/.test(w));
      values.push({
        text: m[0],
        raw: m[0].startsWith('{{{'),
        args: words.slice(1),
        ...(variable ? { variable } : {}),
        ...(words.length > 1 ? { helper: words[0]! } : {}),
      });
    }
    const rest = line.replace(MUSTACHE, '\0');
    if (structural && !rest.replace(/\0/g, '').trim()) continue;
    const skeleton = rest
      .replace(/(["'])\0\1/g, '\0')
      .replace(/\0/g, '*')
      .trim();
    out.push({
      text: line,
      skeleton,
      values,
      blocks: [...blocks],
      significant: /[A-Za-z0-9]/.test(skeleton.replace(/\*/g, '')),
      added,
    });
  }
  return out;
}
