import { createHash } from 'node:crypto';
import type { BlobReader } from '../../adapters/git-plumbing.js';
import { parseFormatPatch } from '../../config/patch-file.js';
import type { PatchResult, PatchStatus } from './check-report.js';
import { describeConflicts } from './describe-conflict.js';
import { alreadyUpstream } from './find-upstreamed.js';
import type { FileAnswer, FileBatch, FileInput, Rung } from './apply-files.js';
import type { SeriesPatch } from '../load-series.js';
import { readApplyOutput, type ApplyOutput } from './read-apply-output.js';
import { rewritePaths } from '../rewrite-paths.js';
import type { TagState } from './check-tag.js';

/**
 * One patch against every tag at once, each on top of the earlier patches of
 * the series (each tag's state holds what they made there). Each rung of the
 * ladder is one batch of `git apply` over the distinct file changes of the
 * tags that reach it (apply-files.ts).
 *
 * The ladder, cheapest and strictest first:
 *  1. `git apply --cached` as is: clean, or offset when git says a hunk
 *     "succeeded at" another line. A file it changes that is absent, and that
 *     upstream renamed since the base, is looked for at its new path: whatever
 *     applies there (steps 1, 6, 7) is moved.
 *  2. The tag's history has the upstream commit the patch says it backports
 *     (`Upstream-Status: Backport [<commit>]`), even if upstream has since
 *     moved or reworded the change; or the reverse patch applies, or every
 *     change it makes is already there (find-upstreamed.ts): upstreamed.
 *     Checked before any fuzz or three-way merge, which would happily "apply"
 *     a change that is already there.
 *  3. An earlier patch that was not applied touches one of its files: blocked.
 *     A patch that applies exactly (step 1) is never blocked: it does apply.
 *  4. A file it changes is gone: missing.
 *  5. `-C1` (one line of context must match either side, like GNU patch's
 *     default fuzz factor of 2): fuzz.
 *  6. `--3way`; conflicts are read from the index's unmerged entries, because
 *     apply's exit status does not tell whether the merge conflicted: 3way.
 *  7. Otherwise conflict, with the failing hunks.
 * Patches that end blocked, missing, conflict or upstreamed leave the tag's state alone.
 */

export const NOT_APPLIED: ReadonlySet<PatchStatus> = new Set(['conflict', 'missing', 'blocked']);

const APPLIES_AT_NEW_PATH = ['clean', 'offset', 'fuzz', '3way'] as const;

/** One tag's run of the ladder. */
interface Run {
  tag: TagState;
  moves: Map<string, string>;
  inputs: FileInput[];
  /** The patch pointed at the new paths. */
  text: string;
  out?: ApplyOutput;
  result?: PatchResult;
  /** The rung whose writes are the patch applied. */
  applied?: Rung;
}

export async function checkPatchAtTags(
  patch: SeriesPatch,
  position: number,
  tags: readonly TagState[],
  tools: { open: (inputs: FileInput[]) => Promise<FileBatch>; blobs: BlobReader },
  /** Whether a later patch builds on what this one makes (else it is only checked, not kept). */
  keep = true,
): Promise<void> {
  const runs: Run[] = tags.map((tag) => {
    const moves = new Map<string, string>();
    for (const path of patch.reads)
      if (!tag.entries.has(path) && tag.renames.has(path)) moves.set(path, tag.renames.get(path)!);
    const inputs = patch.chunks.map((chunk) => {
      const text = rewritePaths(chunk.text, moves);
      const paths = [
        ...new Set(
          [chunk.oldPath, chunk.newPath].filter((p): p is string => p !== undefined).map((p) => moves.get(p) ?? p),
        ),
      ];
      const entries = paths.map((p) => [p, tag.entries.get(p) ?? null] as const);
      return { key: createHash('sha1').update(text).update(JSON.stringify(entries)).digest('hex'), text, entries };
    });
    return { tag, moves, inputs, text: rewritePaths(patch.content, moves) };
  });
  const creates = patch.files.flatMap((f) => (f.newPath && f.oldPath !== f.newPath ? [f.newPath] : []));
  const batch = await tools.open(runs.flatMap((r) => r.inputs));
  try {
    const ask = async (rung: Rung, asking: readonly Run[]) => {
      const answers = await batch.run(
        rung,
        asking.map((r) => r.inputs),
        { keep },
      );
      return (run: Run) => {
        const each = run.inputs.map<FileAnswer>((i) => answers.get(i.key)!);
        return {
          ok: each.every((a) => a.ok && !a.conflicted),
          out: readApplyOutput(each.map((a) => a.output).join('\n')),
        };
      };
    };
    const done = (run: Run, fields: Omit<PatchResult, 'patch'>, applied?: Rung) => {
      run.applied = applied;
      if (!run.moves.size) {
        run.result = { patch: patch.name, ...fields };
        return;
      }
      // Whatever applies at the new path is moved; what does not keeps its status and names the move.
      const moves = [...run.moves].map(([from, to]) => ({ from, to }));
      const via = APPLIES_AT_NEW_PATH.find((s) => s === fields.status);
      run.result = { patch: patch.name, ...fields, ...(via ? { status: 'moved', via } : {}), moves };
    };
    const open = () => runs.filter((r) => !r.result);
    const read = (run: Run) => (path: string) => {
      const entry = run.tag.entries.get(path);
      return entry ? tools.blobs.read(entry.split(' ')[2]!) : Promise.resolve(undefined);
    };
    const filesOf = (run: Run) => (run.moves.size ? parseFormatPatch(run.text).files : patch.files);

    const direct = await ask('direct', runs);
    for (const run of runs) {
      const { ok, out } = direct(run);
      run.out = out;
      if (ok) done(run, fitted(out), 'direct');
    }

    for (const run of open()) {
      const backport = run.tag.backports.get(patch.name);
      if (backport?.in.has(run.tag.target.commit)) done(run, { status: 'upstreamed', backport: backport.commit });
    }
    // Reversing needs every file the patch changes: with one absent, it cannot be upstream as is.
    const whole = open().filter((r) => !r.out!.absent.length);
    const reverse = await ask('reverse', whole);
    // Tags with the same inputs get the same answers: each is worked out once.
    const same = <T>(memo: Map<string, Promise<T>>, run: Run, work: () => Promise<T>) => {
      const key = run.inputs.map((i) => i.key).join(',');
      return memo.get(key) ?? memo.set(key, work()).get(key)!;
    };
    const there = new Map<string, Promise<boolean>>();
    for (const run of whole)
      if (reverse(run).ok || (await same(there, run, () => alreadyUpstream(filesOf(run), read(run)))))
        done(run, { status: 'upstreamed' });

    for (const run of open()) {
      const out = run.out!;
      const paths = [...patch.paths, ...run.moves.values()];
      const blockedBy = run.tag.failed
        .filter((f) => f.position < position && f.paths.some((p) => paths.includes(p)))
        .sort((a, b) => a.position - b.position)
        .map((f) => f.name);
      // A file an earlier patch creates is absent because that patch failed, not because upstream lacks it.
      const lacking = out.absent.filter(
        (p) => !run.tag.failed.some((f) => f.position < position && f.creates.includes(p)),
      );
      const missing = lacking.length ? { missing: lacking } : {};
      if (blockedBy.length) done(run, { status: 'blocked', blockedBy, ...missing });
      else if (out.absent.length) done(run, { status: 'missing', ...missing });
    }

    const fuzzing = open();
    const fuzz = await ask('fuzz', fuzzing);
    for (const run of fuzzing) {
      const { ok, out } = fuzz(run);
      if (ok) done(run, { status: 'fuzz', fuzz: out.fuzz, offsets: out.offsets }, 'fuzz');
    }

    const merging = open();
    const merge = await ask('merge', merging);
    for (const run of merging) if (merge(run).ok) done(run, { status: '3way' }, 'merge');

    const described = new Map<string, Promise<PatchResult['conflicts']>>();
    for (const run of open())
      done(run, {
        status: 'conflict',
        conflicts: await same(described, run, () => describeConflicts(read(run), filesOf(run), run.out!)),
      });

    for (const run of runs) {
      const result = run.result!;
      run.tag.results[position] = result;
      if (NOT_APPLIED.has(result.status))
        run.tag.failed.push({
          name: patch.name,
          position,
          paths: [...patch.paths, ...(result.moves ?? []).map((m) => m.to)],
          creates,
        });
      if (!run.applied || !keep) continue;
      for (const input of run.inputs) {
        for (const [path] of input.entries) run.tag.entries.delete(path);
        for (const [path, entry] of await batch.written(run.applied, input)) run.tag.entries.set(path, entry);
      }
    }
  } finally {
    await batch.dispose();
  }
}

/** clean, or offset with the hunks that moved. */
function fitted(out: ApplyOutput): Omit<PatchResult, 'patch'> {
  return out.offsets.length ? { status: 'offset', offsets: out.offsets } : { status: 'clean' };
}
