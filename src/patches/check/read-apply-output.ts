/**
 * Reads what `git apply -v` says (apply.c's messages, git 2.30 to 2.4x):
 *   Checking patch <path>...
 *   Hunk #<n> succeeded at <line> (offset <k> lines).
 *   Context reduced to (<lead>/<trail>) to apply fragment at <line>
 *   error: patch failed: <path>:<line>
 *   error: <path>: does not exist in index
 *   error: <path>: already exists in index
 *   Applied patch to '<path>' with conflicts.
 */

export interface HunkOffset {
  file: string;
  /** 1-based, counted within the file, as git counts. */
  hunk: number;
  /** Where the hunk applied. */
  line: number;
  offset: number;
}

export interface HunkFuzz {
  file: string;
  /** Where the hunk applied. */
  line: number;
  /** Context lines that still had to match before/after the change, e.g. `1/1` of 3/3. */
  context: string;
}

export interface ApplyOutput {
  offsets: HunkOffset[];
  fuzz: HunkFuzz[];
  /** Hunks that did not apply: the file and the line the hunk was written for. */
  failedHunks: { file: string; line: number }[];
  /** Files the patch changes that are not in the tree. */
  absent: string[];
  /** Files the patch creates that the tree already has. */
  existing: string[];
  /** Files a three-way apply merged with conflicts. */
  conflicted: string[];
  /** Any other error line, verbatim. */
  errors: string[];
}

export function readApplyOutput(output: string): ApplyOutput {
  const result: ApplyOutput = {
    offsets: [],
    fuzz: [],
    failedHunks: [],
    absent: [],
    existing: [],
    conflicted: [],
    errors: [],
  };
  let file = '';
  for (const line of output.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^Checking patch (.+)\.\.\.$/.exec(line))) {
      // A rename reads "old => new".
      file = m[1]!.split(' => ').pop()!;
    } else if ((m = /^Hunk #(\d+) succeeded at (\d+) \(offset (-?\d+) lines?\)\.$/.exec(line))) {
      result.offsets.push({ file, hunk: Number(m[1]), line: Number(m[2]), offset: Number(m[3]) });
    } else if ((m = /^Context reduced to \((\d+\/\d+)\) to apply fragment at (\d+)$/.exec(line))) {
      result.fuzz.push({ file, context: m[1]!, line: Number(m[2]) });
    } else if ((m = /^error: patch failed: (.+):(\d+)$/.exec(line))) {
      result.failedHunks.push({ file: m[1]!, line: Number(m[2]) });
    } else if ((m = /^error: (.+): does not exist in index$/.exec(line))) {
      result.absent.push(m[1]!);
    } else if ((m = /^error: (.+): already exists in index$/.exec(line))) {
      result.existing.push(m[1]!);
    } else if ((m = /^Applied patch to '(.+)' with conflicts\.$/.exec(line))) {
      result.conflicted.push(m[1]!);
    } else if (line.startsWith('error: ') && !/^error: (while searching for:|.+: patch does not apply)$/.test(line)) {
      result.errors.push(line.slice('error: '.length));
    }
  }
  return result;
}
