import { expectedLines, type FilePatch } from '../../config/patch-file.js';
import type { Conflict } from './check-report.js';
import type { ApplyOutput } from './read-apply-output.js';

/**
 * Turns git's "patch failed: file:line" into what a maintainer needs: which
 * hunk, the lines it expected, and what upstream has now where the hunk fits
 * best.
 */
export async function describeConflicts(
  read: (path: string) => Promise<string | undefined>,
  files: readonly FilePatch[],
  failure: ApplyOutput,
): Promise<Conflict[]> {
  const conflicts: Conflict[] = [];
  for (const { file, line } of failure.failedHunks) {
    const filePatch = files.find((f) => f.oldPath === file || f.newPath === file);
    const hunks = filePatch?.hunks ?? [];
    const at = hunks.findIndex((h) => h.oldStart === line);
    const hunk = hunks[at];
    const expected = hunk ? expectedLines(hunk) : [];
    const text = await read(file);
    const found = text === undefined ? null : locate(text.split('\n'), expected, line);
    const anchored =
      hunk && found && expected.length && found.lines.join('\n') === expected.join('\n') ? anchoring(hunk) : undefined;
    conflicts.push({
      file,
      hunk: at + 1,
      hunks: hunks.length,
      line,
      expected,
      found,
      ...(anchored ? { reason: anchored } : {}),
    });
  }
  for (const file of failure.existing) {
    const text = await read(file);
    conflicts.push({
      file,
      hunk: 1,
      hunks: 1,
      line: 1,
      expected: [],
      found: text === undefined ? null : { line: 1, lines: text.split('\n').slice(0, 10) },
      reason: 'the patch creates this file, but upstream already has a different one',
    });
  }
  for (const reason of failure.errors) {
    conflicts.push({ file: '', hunk: 0, hunks: 0, line: 0, expected: [], found: null, reason });
  }
  return conflicts;
}

/**
 * Why git refused a hunk whose lines are all there: a hunk with no context
 * after its change applies only at the end of the file, one written for the
 * first line only at the start (apply.c, match_end and match_beginning).
 */
function anchoring(hunk: FilePatch['hunks'][number]): string | undefined {
  const body = hunk.lines.filter((l) => l[0] === ' ' || l[0] === '-' || l[0] === '+');
  if (body.at(-1)?.[0] !== ' ')
    return 'these lines are there, but the hunk has no context after its change, so git applies it only at the end of the file, and upstream has added lines after them';
  if (hunk.oldStart <= 1)
    return 'these lines are there, but the hunk was written for the start of the file, so git applies it only there, and upstream has added lines before them';
  return undefined;
}

/**
 * Where `expected` fits best in `lines`: the window with the most lines equal
 * to the expected ones, the nearest to `near` (1-based) on a tie.
 */
export function locate(
  lines: readonly string[],
  expected: readonly string[],
  near: number,
): { line: number; lines: string[] } {
  const size = Math.max(expected.length, 1);
  let best = Math.min(Math.max(near - 1, 0), Math.max(lines.length - size, 0));
  let bestScore = 0;
  for (let start = 0; start + size <= lines.length; start++) {
    let score = 0;
    for (let i = 0; i < expected.length; i++) if (lines[start + i] === expected[i]) score++;
    const closer = Math.abs(start - (near - 1)) < Math.abs(best - (near - 1));
    if (score > bestScore || (score === bestScore && score > 0 && closer)) {
      best = start;
      bestScore = score;
    }
  }
  return { line: best + 1, lines: lines.slice(best, best + size) };
}
