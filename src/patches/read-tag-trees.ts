import type { Scratch } from '../adapters/git-plumbing.js';
import type { Target } from './check-tag.js';

/** The files of a tag that a series touches: path → `<mode> <type> <blob>`, and upstream's renames since the base. */
export interface TagTree {
  entries: Map<string, string>;
  /** Old path → new path, for the files the series changes that the tag no longer has. */
  renames: Map<string, string>;
}

/**
 * What every target tag has at the paths the series touches, worked out from
 * the base's files and the changes since the base: three git processes in all,
 * however many tags. A file the series changes that a tag lacks may have been
 * renamed: renames are looked for within its directory (and below), so that a
 * file whose whole directory went away (packages/kubernetes-1.18/) reads as
 * gone, not as renamed to whichever other version's copy is most similar.
 */
export async function readTagTrees(
  scratch: Scratch,
  series: { paths: readonly string[]; reads: readonly string[] },
  base: string,
  targets: readonly Target[],
): Promise<Map<string, TagTree>> {
  const baseEntries = new Map((await scratch.entries(base, series.paths)).map(splitEntry));
  const commits = [...new Set(targets.map((t) => t.commit))];
  const changed = await scratch.changes(base, commits, series.paths, { renames: false });
  const trees = new Map<string, TagTree>();
  for (const commit of commits) {
    const entries = new Map(baseEntries);
    for (const change of changed.get(commit) ?? []) {
      if (change.status === 'D') entries.delete(change.path);
      else entries.set(change.path, entry(change.mode, change.blob));
    }
    trees.set(commit, { entries, renames: new Map() });
  }

  const absent = new Map(commits.map((c) => [c, series.reads.filter((p) => !trees.get(c)!.entries.has(p))]));
  const lacking = commits.filter((c) => absent.get(c)!.length);
  const dirs = [...new Set([...absent.values()].flat().map((p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '.')))];
  const moved = await scratch.changes(base, lacking, dirs, { renames: true });
  for (const commit of lacking) {
    const tree = trees.get(commit)!;
    for (const change of moved.get(commit) ?? []) {
      if (change.status === 'R' && change.to && absent.get(commit)!.includes(change.path)) {
        tree.renames.set(change.path, change.to);
        tree.entries.set(change.to, entry(change.mode, change.blob));
      }
    }
  }
  return trees;
}

const entry = (mode: string, blob: string) => `${mode} ${mode === '160000' ? 'commit' : 'blob'} ${blob}`;

function splitEntry(line: string): [string, string] {
  const tab = line.indexOf('\t');
  return [line.slice(tab + 1), line.slice(0, tab)];
}
