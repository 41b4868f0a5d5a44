import type { ApplyOptions, ScratchIndex } from '../adapters/git-plumbing.js';
import { parseFormatPatch } from '../patch-file.js';
import type { PatchResult, PatchStatus } from './check-report.js';
import { describeConflicts } from './describe-conflict.js';
import { alreadyUpstream } from './find-upstreamed.js';
import type { SeriesPatch } from './load-series.js';
import { readApplyOutput, type ApplyOutput } from './read-apply-output.js';
import { rewritePaths } from './rewrite-paths.js';

/**
 * One patch against one upstream tag, on top of the earlier patches of the
 * series (the index holds the tag plus whatever earlier patches applied).
 *
 * The ladder, cheapest and strictest first:
 *  1. `git apply --cached` as is: clean, or offset when git says a hunk
 *     "succeeded at" another line.
 *  2. A file it changes is absent, and upstream renamed it within its
 *     directory since the base: the patch is pointed at the new path, and
 *     whatever applies there (steps 1, 6, 7) is moved.
 *  3. The tag's history has the upstream commit the patch says it backports
 *     (`Upstream-Status: Backport [<commit>]`), even if upstream has since
 *     moved or reworded the change; or the reverse patch applies, or every
 *     change it makes is already there (find-upstreamed.ts): upstreamed.
 *     Checked before any fuzz or three-way merge, which would happily "apply"
 *     a change that is already there.
 *  4. An earlier patch that was not applied touches one of its files: blocked.
 *     A patch that applies exactly (step 1) is never blocked: it does apply.
 *  5. A file it changes is gone: missing.
 *  6. `-C1` (one line of context must match either side, like GNU patch's
 *     default fuzz factor of 2): fuzz.
 *  7. `--3way`, then the index is inspected for unmerged entries, because
 *     apply's exit status does not tell whether the merge conflicted: 3way.
 *  8. Otherwise conflict, with the failing hunks.
 * Patches that end blocked, missing, conflict or upstreamed leave the index alone.
 */

/** What a patch's check needs from the tag it is checked against. */
export interface TagRun {
  index: ScratchIndex;
  /** Upstream's renames since the series' base of the paths the series changes, old path → new path. */
  renames: ReadonlyMap<string, string>;
  /** Earlier patches of the series that were not applied here, and the paths they touch. */
  failed: readonly { name: string; paths: readonly string[] }[];
  /** The upstream commit this patch backports, when the tag's history has it. */
  backported?: string;
}

export interface PatchCheck {
  result: PatchResult;
  /** How the patch went into the index, to do it again elsewhere; absent when it did not. */
  applied?: { text: string; options: ApplyOptions };
}

export const NOT_APPLIED: ReadonlySet<PatchStatus> = new Set(['conflict', 'missing', 'blocked']);

const APPLIES_AT_NEW_PATH = ['clean', 'offset', 'fuzz', '3way'] as const;

export async function checkPatch(patch: SeriesPatch, run: TagRun): Promise<PatchCheck> {
  const { index } = run;
  let text = patch.content;
  const moves = new Map<string, string>();
  const done = (fields: Omit<PatchResult, 'patch'>, options?: ApplyOptions): PatchCheck => {
    const applied = options && { text, options };
    if (!moves.size) return { result: { patch: patch.name, ...fields }, applied };
    // Whatever applies at the new path is moved; what does not keeps its status and names the move.
    const list = [...moves].map(([from, to]) => ({ from, to }));
    const via = APPLIES_AT_NEW_PATH.find((s) => s === fields.status);
    return { result: { patch: patch.name, ...fields, ...(via ? { status: 'moved', via } : {}), moves: list }, applied };
  };

  let attempt = await index.apply(text);
  let out = readApplyOutput(attempt.output);
  for (const path of out.absent) {
    const to = run.renames.get(path);
    if (to) moves.set(path, to);
  }
  if (!attempt.ok && moves.size) {
    text = rewritePaths(text, moves);
    attempt = await index.apply(text);
    out = readApplyOutput(attempt.output);
  }
  if (attempt.ok) return done(fitted(out), {});

  if (run.backported) return done({ status: 'upstreamed', backport: run.backported });

  const files = moves.size ? parseFormatPatch(text).files : patch.files;
  const reads = new Map<string, Promise<string | undefined>>();
  const read = (path: string) => reads.get(path) ?? reads.set(path, index.readFile(path)).get(path)!;
  // Reversing needs every file the patch changes: with one absent, it cannot be upstream as is.
  if (!out.absent.length && ((await index.apply(text, { check: true, reverse: true })).ok || (await alreadyUpstream(files, read)))) {
    return done({ status: 'upstreamed' });
  }

  const paths = [...patch.paths, ...moves.values()];
  const blockedBy = run.failed.filter((f) => f.paths.some((p) => paths.includes(p))).map((f) => f.name);
  const missing = out.absent.length ? { missing: out.absent } : {};
  if (blockedBy.length) return done({ status: 'blocked', blockedBy, ...missing });
  if (out.absent.length) return done({ status: 'missing', ...missing });

  const fuzzy = await index.apply(text, { context: 1 });
  if (fuzzy.ok) {
    const { fuzz, offsets } = readApplyOutput(fuzzy.output);
    return done({ status: 'fuzz', fuzz, offsets }, { context: 1 });
  }

  const restore = await index.save();
  const merged = await index.apply(text, { threeWay: true });
  if (merged.ok && (await index.unmerged()).length === 0) return done({ status: '3way' }, { threeWay: true });
  await restore();
  return done({ status: 'conflict', conflicts: await describeConflicts(read, files, out) });
}

/** clean, or offset with the hunks that moved. */
function fitted(out: ApplyOutput): Omit<PatchResult, 'patch'> {
  return out.offsets.length ? { status: 'offset', offsets: out.offsets } : { status: 'clean' };
}
