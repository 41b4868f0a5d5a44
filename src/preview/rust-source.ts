/**
 * Just enough of a Rust reader to extract the API model: struct and enum
 * items with their attributes, fields and field types, and the modeled
 * string types (`string_impls_for!(Name, …)`). Comments are removed first;
 * string and char literals are kept intact.
 */

export interface RustField {
  name: string;
  type: RustType;
  attrs: string[];
}

export interface RustStruct {
  name: string;
  attrs: string[];
  fields: RustField[];
}

/** A type path with generic arguments: `HashMap<Identifier, ContainerImage>`. */
export interface RustType {
  /** The full path as written, e.g. `toml::Value`. */
  path: string;
  /** The last path segment, e.g. `Value`. */
  name: string;
  args: RustType[];
}

export interface RustItems {
  structs: RustStruct[];
  enums: string[];
  /** Types made string-like by `string_impls_for!`. */
  stringTypes: string[];
}

export function stripComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const two = source.slice(i, i + 2);
    if (two === '//') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (two === '/*') {
      let depth = 0;
      do {
        if (source.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (source.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      } while (depth > 0 && i < source.length);
      out += ' ';
    } else {
      const literal = /^(?:r(#*)"[\s\S]*?"\1|b?"(?:\\[\s\S]|[^"\\])*"|b?'(?:\\.|[^\\'])')/.exec(
        source.slice(i, i + 100_000),
      );
      const text = literal?.[0] ?? source[i] ?? '';
      out += text;
      i += text.length;
    }
  }
  return out;
}

/** The index just past the bracket that closes the one at `start`; string and char literals are skipped. */
function closeOf(text: string, start: number): number {
  const open = text[start] as '{' | '[' | '(';
  const close = { '{': '}', '[': ']', '(': ')' }[open];
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === "'") {
      i += /^'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'/.exec(text.slice(i, i + 12))?.[0].length ?? 1;
      i--;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return i + 1;
  }
  return text.length;
}

/** Splits at commas that are not inside brackets. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') inString = !inString;
    if (inString) continue;
    if (c === '<' || c === '(' || c === '[' || c === '{') depth++;
    else if (c === '>' || c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

export function parseType(text: string): RustType {
  const trimmed = text.trim().replace(/^&('\w+\s+)?/, '');
  const open = trimmed.indexOf('<');
  const path = (open < 0 ? trimmed : trimmed.slice(0, open)).replace(/\s+/g, '');
  const args = open < 0 ? [] : splitTopLevel(trimmed.slice(open + 1, trimmed.lastIndexOf('>'))).map(parseType);
  return { path, name: path.split('::').pop() ?? path, args };
}

/** Leading `#[…]` attributes of a chunk, and the rest. */
function takeAttributes(text: string): { attrs: string[]; rest: string } {
  const attrs: string[] = [];
  let rest = text.trimStart();
  while (rest.startsWith('#[')) {
    const end = closeOf(rest, 1);
    attrs.push(rest.slice(2, end - 1).trim());
    rest = rest.slice(end).trimStart();
  }
  return { attrs, rest };
}

function parseFields(body: string): RustField[] {
  return splitTopLevel(body).flatMap((chunk) => {
    const { attrs, rest } = takeAttributes(chunk);
    const match = /^(?:pub(?:\s*\([^)]*\))?\s+)?(?:r#)?(\w+)\s*:\s*([\s\S]+)$/.exec(rest);
    return match ? [{ name: match[1] as string, type: parseType(match[2] as string), attrs }] : [];
  });
}

export function parseRustItems(source: string): RustItems {
  const text = stripComments(source);
  const items: RustItems = { structs: [], enums: [], stringTypes: [] };
  for (const m of text.matchAll(/string_impls_for!\s*\(\s*(\w+)/g)) items.stringTypes.push(m[1] as string);
  let attrs: string[] = [];
  let i = 0;
  const item = /(?:pub(?:\s*\([^)]*\))?\s+)?(struct|enum)\s+(\w+)\s*(?:<[^>{]*>)?\s*(\{|\(|;)?/y;
  while (i < text.length) {
    if (/\s/.test(text[i] as string)) {
      i++;
      continue;
    }
    if (text.startsWith('#[', i)) {
      const end = closeOf(text, i + 1);
      attrs.push(text.slice(i + 2, end - 1).trim());
      i = end;
      continue;
    }
    item.lastIndex = i;
    const m = item.exec(text);
    if (m) {
      const [whole, keyword, name = '', opener] = m;
      if (opener === '{') {
        const bodyStart = i + whole.length;
        const end = closeOf(text, bodyStart - 1);
        if (keyword === 'struct')
          items.structs.push({ name, attrs, fields: parseFields(text.slice(bodyStart, end - 1)) });
        else items.enums.push(name);
        i = end;
      } else {
        i += whole.length;
      }
      attrs = [];
      continue;
    }
    attrs = [];
    i += /^\w+/.exec(text.slice(i, i + 200))?.[0].length ?? 1;
  }
  return items;
}
