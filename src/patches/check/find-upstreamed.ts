import type { FilePatch } from '../../config/patch-file.js';
import { locate } from './describe-conflict.js';

/**
 * Whether upstream already made a patch's change even though the reverse
 * patch does not apply, because upstream also changed the lines around it (a
 * backport: Bottlerocket v1.0.5 added the same restart-commands line as our
 * patch, and "proxy-env" on the line above).
 *
 * Each change of each hunk (a run of removed and added lines) must be there:
 * its added lines, as one block, near where the hunk fits; and the lines it
 * replaced not right beside them (a pure removal: not anywhere near). A change
 * with nothing but blank lines or punctuation proves nothing, and then neither
 * does the patch. Files the patch creates must exist with its content.
 */
export async function alreadyUpstream(
  files: readonly FilePatch[],
  read: (path: string) => Promise<string | undefined>,
): Promise<boolean> {
  if (!files.length) return false;
  for (const file of files) {
    const path = file.newPath ?? file.oldPath;
    if (!path || !file.hunks.length) return false;
    const text = await read(path);
    if (text === undefined) return false;
    const lines = text.split('\n');
    for (const hunk of file.hunks) {
      const postimage = hunk.lines.filter((l) => l[0] === ' ' || l[0] === '+').map((l) => l.slice(1));
      const near = locate(lines, postimage, hunk.newStart);
      const from = Math.max(0, near.line - 1 - NEARBY);
      const window = lines.slice(from, near.line - 1 + postimage.length + NEARBY);
      for (const change of changes(hunk.lines)) {
        if (![...change.removed, ...change.added].some((l) => /[A-Za-z0-9]/.test(l))) return false;
        if (!changeIsThere(window, change)) return false;
      }
    }
  }
  return true;
}

/** How far (in lines) from where the hunk fits its change may be found. */
const NEARBY = 10;

interface Change {
  removed: string[];
  added: string[];
}

/** The runs of removed and added lines of a hunk, between context lines. */
function changes(hunkLines: readonly string[]): Change[] {
  const out: Change[] = [];
  let current: Change | undefined;
  for (const line of hunkLines) {
    if (line[0] === '-' || line[0] === '+') {
      current ??= { removed: [], added: [] };
      (line[0] === '-' ? current.removed : current.added).push(line.slice(1));
    } else if (line[0] === ' ') {
      if (current) out.push(current);
      current = undefined;
    }
  }
  if (current) out.push(current);
  return out;
}

function changeIsThere(window: readonly string[], { removed, added }: Change): boolean {
  if (!added.length) return indexOfBlock(window, removed, 0) < 0;
  for (let at = indexOfBlock(window, added, 0); at >= 0; at = indexOfBlock(window, added, at + 1)) {
    const before = window.slice(Math.max(0, at - removed.length), at);
    const after = window.slice(at + added.length, at + added.length + removed.length);
    if (!removed.length || (!sameLines(before, removed) && !sameLines(after, removed))) return true;
  }
  return false;
}

function indexOfBlock(lines: readonly string[], block: readonly string[], from: number): number {
  for (let i = from; i + block.length <= lines.length; i++) {
    if (block.every((line, j) => lines[i + j] === line)) return i;
  }
  return -1;
}

const sameLines = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((l, i) => l === b[i]);
