import { parsePatch, type StructuredPatch } from 'diff';

/**
 * A `git format-patch` file: mail headers, the message that says why, and the
 * diff. The diff part is parsed by jsdiff.
 */
export interface FormatPatch {
  subject: string;
  from?: string;
  date?: string;
  /** The message body (why), without the diffstat. */
  body: string;
  upstreamStatus?: string;
  files: FilePatch[];
}

export interface FilePatch {
  oldPath: string | undefined;
  newPath: string | undefined;
  hunks: StructuredPatch['hunks'];
}

const stripPrefix = (name: string | undefined) =>
  name === undefined || name === '/dev/null' ? undefined : name.replace(/^[ab]\//, '');

export function parseFormatPatch(text: string): FormatPatch {
  const diffStart = text.search(/^diff --git /m);
  const head = diffStart >= 0 ? text.slice(0, diffStart) : text;
  let diffText = diffStart >= 0 ? text.slice(diffStart) : '';
  // The signature ("-- \n2.30.0") is not part of any hunk.
  const sig = diffText.search(/^-- $/m);
  if (sig >= 0) diffText = diffText.slice(0, sig);

  const [headers = '', ...rest] = head.split(/\n\n/);
  const message = rest.join('\n\n').split(/^---$/m)[0] ?? '';
  const header = (name: string) => {
    const match = new RegExp(`^${name}: (.*(?:\\n[ \\t].*)*)`, 'm').exec(headers);
    return match?.[1]?.replace(/\n[ \t]+/g, ' ').trim();
  };
  const subject = (header('Subject') ?? '').replace(/^\[PATCH[^\]]*\]\s*/, '');
  const status = /^Upstream-Status:\s*(.+)$/m.exec(message)?.[1]?.trim();
  const files = diffText
    ? parsePatch(diffText).map((p) => ({
        oldPath: stripPrefix(p.oldFileName),
        newPath: stripPrefix(p.newFileName),
        hunks: p.hunks,
      }))
    : [];
  return { subject, from: header('From'), date: header('Date'), body: message.trim(), upstreamStatus: status, files };
}

/** Lines the hunk expects to find (context and removed lines), without their prefix. */
export function expectedLines(hunk: StructuredPatch['hunks'][number]): string[] {
  return hunk.lines.filter((l) => l.startsWith(' ') || l.startsWith('-')).map((l) => l.slice(1));
}
