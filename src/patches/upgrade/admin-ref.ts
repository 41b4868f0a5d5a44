import { parse as parseToml } from 'smol-toml';

/**
 * The variant file with the admin container ref for one Bottlerocket base:
 *
 *   [sources.admin-container.refs]   # per Bottlerocket base tag; wins over `ref`
 *   "v1.7.2" = "v0.8.0"
 *
 * edited as text so that every comment and the order of the file stay. The
 * table is added after the `[sources.admin-container]` table (or at the end);
 * an existing entry for the tag is replaced. Undefined when the file already
 * says so.
 */
const REFS_HEADER = '[sources.admin-container.refs]';
const REFS_COMMENT = '   # per Bottlerocket base tag; wins over `ref`';

const isHeader = (line: string) => /^\s*\[/.test(line);
const entryKey = (line: string) => /^\s*"([^"]+)"\s*=/.exec(line)?.[1] ?? /^\s*([A-Za-z0-9_.-]+)\s*=/.exec(line)?.[1];

export function adminRefOf(text: string, tag: string): string | undefined {
  const data = parseToml(text) as { sources?: { 'admin-container'?: { refs?: Record<string, unknown> } } };
  const ref = data.sources?.['admin-container']?.refs?.[tag];
  return typeof ref === 'string' ? ref : undefined;
}

export function withAdminRef(text: string, tag: string, ref: string): string | undefined {
  if (adminRefOf(text, tag) === ref) return undefined;
  const entry = `${JSON.stringify(tag)} = ${JSON.stringify(ref)}`;
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.trim().startsWith(REFS_HEADER));
  if (header >= 0) {
    let end = lines.findIndex((l, i) => i > header && isHeader(l));
    if (end < 0) end = lines.length;
    const at = lines.findIndex((l, i) => i > header && i < end && entryKey(l) === tag);
    if (at >= 0) lines[at] = entry;
    else {
      // After the table's last entry, before the blank lines and comments that lead to the next table.
      let last = header;
      for (let i = header + 1; i < end; i++) if (entryKey(lines[i]!)) last = i;
      lines.splice(last + 1, 0, entry);
    }
    return lines.join('\n');
  }
  const block = [REFS_HEADER + REFS_COMMENT, entry];
  const source = lines.findIndex((l) => l.trim().startsWith('[sources.admin-container]'));
  if (source < 0) return `${text.replace(/\n*$/, '\n')}\n${block.join('\n')}\n`;
  let last = source;
  for (let i = source + 1; i < lines.length && !isHeader(lines[i]!); i++) if (entryKey(lines[i]!)) last = i;
  lines.splice(last + 1, 0, '', ...block);
  return lines.join('\n');
}
