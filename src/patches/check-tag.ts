import { createHash } from 'node:crypto';
import type { Scratch, ScratchIndex } from '../adapters/git-plumbing.js';
import { tagOk, type PatchResult, type TagResult } from './check-report.js';
import { checkPatch, NOT_APPLIED, type PatchCheck } from './check-patch.js';
import type { SeriesPatch } from './load-series.js';
import type { TagTree } from './read-tag-trees.js';

export interface Target {
  tag: string;
  commit: string;
}

/** A series ready to check: its patches, every path they touch, and the paths they expect upstream to have. */
export interface PreparedSeries {
  patches: SeriesPatch[];
  paths: string[];
  /** Paths the series changes that no earlier patch of it creates. */
  reads: string[];
}

export function prepareSeries(patches: SeriesPatch[]): PreparedSeries {
  const created = new Set<string>();
  const reads = new Set<string>();
  for (const patch of patches) {
    for (const path of patch.reads) if (!created.has(path)) reads.add(path);
    for (const file of patch.files) if (file.newPath && file.oldPath !== file.newPath) created.add(file.newPath);
  }
  return { patches, paths: [...new Set(patches.flatMap((p) => p.paths))], reads: [...reads] };
}

/**
 * Patch checks already done, by everything their outcome depends on: the
 * patch, the blobs of its files in the index (upstream's, or those earlier
 * patches made, named by how they were made), upstream's renames of them, and
 * the earlier patches that failed on them. git apply is deterministic, so the
 * same inputs give the same result. Between tags most patched files do not
 * change, so most checks are found here, and a tag whose checks are all found
 * here runs no `git apply` at all.
 */
export type CheckMemo = Map<string, Promise<PatchCheck>>;

/** For each patch that backports an upstream commit: the commit, and the target commits whose history has it. */
export type Backports = ReadonlyMap<string, { commit: string; in: ReadonlySet<string> }>;

/**
 * The whole series, in order, against one tag, in a temporary index holding
 * the files the series touches: no work tree is checked out.
 */
export async function checkTag(
  scratch: Scratch,
  series: PreparedSeries,
  tree: TagTree,
  target: Target,
  memo: CheckMemo,
  backports: Backports = new Map(),
): Promise<TagResult> {
  const { renames } = tree;
  const state = new Map(tree.entries);
  // The index is made when a check is not in the memo, and the earlier patches that applied are replayed
  // into it then, and only those that touch the files the check needs (and the files those touch, so
  // that each is replayed onto what it was checked against).
  let index: ScratchIndex | undefined;
  const pending: { paths: readonly string[]; applied: NonNullable<PatchCheck['applied']> }[] = [];
  const catchUp = async (paths: readonly string[]) => {
    index ??= await scratch.index([...tree.entries].map(([path, entry]) => `${entry}\t${path}`));
    const needed = new Set(paths);
    for (let grew = true; grew; ) {
      grew = false;
      for (const step of pending) {
        if (step.paths.some((p) => needed.has(p)) && step.paths.some((p) => !needed.has(p))) {
          for (const p of step.paths) needed.add(p);
          grew = true;
        }
      }
    }
    for (const step of pending.filter((s) => s.paths.some((p) => needed.has(p)))) {
      pending.splice(pending.indexOf(step), 1);
      const replay = await index.apply(step.applied.text, step.applied.options);
      if (!replay.ok) throw new Error(`Replaying a patch that applied before failed at ${target.tag}:\n${replay.output}`);
    }
    return index;
  };

  try {
    const failed: { name: string; paths: string[] }[] = [];
    const results: PatchResult[] = [];
    for (const patch of series.patches) {
      const targets = patch.reads.flatMap((p) => (renames.has(p) ? [renames.get(p)!] : []));
      const paths = [...patch.paths, ...targets];
      const backport = backports.get(patch.name);
      const backported = backport?.in.has(target.commit) ? backport.commit : undefined;
      const key = JSON.stringify([
        patch.name,
        paths.map((p) => state.get(p) ?? null),
        patch.reads.map((p) => renames.get(p) ?? null),
        failed.filter((f) => f.paths.some((p) => paths.includes(p))).map((f) => f.name),
        backported ?? null,
      ]);
      const known = memo.get(key);
      const check = known ?? catchUp(paths).then((i) => checkPatch(patch, { index: i, renames, failed: [...failed], backported }));
      if (!known) memo.set(key, check);
      const { result, applied } = await check;
      results.push(result);
      if (NOT_APPLIED.has(result.status)) failed.push({ name: patch.name, paths: [...patch.paths, ...(result.moves ?? []).map((m) => m.to)] });
      if (applied) {
        // A check done here has already changed this index; one done for another tag is replayed when needed.
        if (known) pending.push({ paths, applied });
        const made = createHash('sha1').update(key).digest('hex');
        for (const p of paths) state.set(p, `${made}:${p}`);
      }
    }
    return { tag: target.tag, commit: target.commit, ok: tagOk(results), patches: results };
  } finally {
    await index?.dispose();
  }
}
