import type { Target } from './check-report.js';
import type { PatchResult } from './check-report.js';
import type { SeriesPatch } from '../load-series.js';
import type { TagTree } from './read-tag-trees.js';

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

/** For each patch that backports an upstream commit: the commit, and the target commits whose history has it. */
export type Backports = ReadonlyMap<string, { commit: string; in: ReadonlySet<string> }>;

/**
 * One tag as the series goes through it: the files the series touches as the
 * tag has them plus what the patches so far made of them, upstream's renames,
 * the patches that were not applied, and each patch's result.
 */
export interface TagState {
  target: Target;
  /** path → `<mode> <type> <blob>`. */
  entries: Map<string, string>;
  renames: ReadonlyMap<string, string>;
  backports: Backports;
  /** The patches that were not applied (position: in the series), the paths they touch and those they create. */
  failed: { name: string; position: number; paths: string[]; creates: string[] }[];
  results: PatchResult[];
}

/**
 * The earlier patches each patch must wait for: those that touch one of its
 * files, at any tag (a file upstream renamed counts at both paths). Patches
 * on other files are checked at the same time.
 */
export function patchDependencies(series: PreparedSeries, renames: readonly ReadonlyMap<string, string>[]): number[][] {
  const touched = series.patches.map((patch) => {
    const paths = new Set(patch.paths);
    for (const map of renames) for (const path of patch.reads) if (map.has(path)) paths.add(map.get(path)!);
    return paths;
  });
  return touched.map((paths, j) =>
    touched.slice(0, j).flatMap((earlier, i) => ([...paths].some((p) => earlier.has(p)) ? [i] : [])),
  );
}

export function startTag(target: Target, tree: TagTree, backports: Backports): TagState {
  return { target, entries: new Map(tree.entries), renames: tree.renames, backports, failed: [], results: [] };
}
