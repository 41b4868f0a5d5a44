import { availableParallelism } from 'node:os';
import type { History, RawChange, Scratch } from '../../adapters/git-plumbing.js';
import type { Target } from './check-report.js';
import { throwFailure } from '../../shared/concurrency.js';

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
 * A file renamed and then changed so much that the diff from the base no
 * longer pairs the two is followed through the renames in the tag's history,
 * as `git log --follow` does: two more git processes, and one per rename.
 */
export async function readTagTrees(
  scratch: Scratch,
  series: { paths: readonly string[]; reads: readonly string[] },
  base: string,
  targets: readonly Target[],
  /** The history of the targets, shared with whoever else needs it. */
  history: () => Promise<History> = () => scratch.history(targets.map((t) => t.commit)),
): Promise<Map<string, TagTree>> {
  const commits = [...new Set(targets.map((t) => t.commit))];
  const [listed, changed] = await Promise.all([
    scratch.entries(base, series.paths),
    scratch.changes(base, commits, series.paths, { renames: false }),
  ]);
  const baseEntries = new Map(listed.map(splitEntry));
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
  // The history of the renames (for files the diff from the base does not pair) is read at the same time as that
  // diff, for every absent path; it is used when the paths still absent after the diff lie in the same directories.
  const absentDirs = dirsOf([...absent.values()].flat());
  const early = lacking.length ? scratch.renamesSince(base, lacking, absentDirs) : undefined;
  early?.catch(() => undefined);
  const renamesSince = (tips: readonly string[], dirs: readonly string[]) =>
    early && sameSet(dirs, absentDirs) ? early : scratch.renamesSince(base, tips, dirs);
  const moved = await renamesFromBase(scratch, base, lacking, dirsOf([...absent.values()].flat()));
  for (const commit of lacking) {
    const tree = trees.get(commit)!;
    for (const change of moved.get(commit) ?? []) {
      if (change.status === 'R' && change.to && absent.get(commit)!.includes(change.path)) {
        tree.renames.set(change.path, change.to);
        tree.entries.set(change.to, entry(change.mode, change.blob));
      }
    }
  }
  try {
    await followRenames(
      scratch,
      base,
      new Map(lacking.map((c) => [c, absent.get(c)!.filter((p) => !trees.get(c)!.renames.has(p))])),
      trees,
      history,
      renamesSince,
    );
  } finally {
    await early?.catch(() => undefined);
  }
  return trees;
}

/**
 * The diff from the base to each commit with renames found. Rename detection
 * pairs deleted with added files by their content, and it is most of the cost;
 * commits that have the very same trees at the directories looked in get the
 * same pairs, so it runs once for each such group: one `cat-file --batch-check`
 * of those trees' ids to group them, one diff with renames for a commit of each group.
 */
async function renamesFromBase(scratch: Scratch, base: string, commits: readonly string[], dirs: readonly string[]) {
  const ids = await scratch.treeIds(commits, dirs);
  const groups = new Map<string, string[]>();
  for (const commit of commits) {
    const key = ids
      .get(commit)!
      .map((id) => id ?? '-')
      .join(' ');
    groups.set(key, [...(groups.get(key) ?? []), commit]);
  }
  const firsts = [...groups.values()].map((g) => g[0]!);
  // Commits are diffed independently: split over the CPUs.
  const parts = Math.max(1, Math.min(availableParallelism(), Math.floor(firsts.length / 8)));
  // Dealt out in turn: later releases have more files to pair, so contiguous slices would leave one CPU waiting.
  const slices = Array.from({ length: parts }, (_, i) => firsts.filter((_, j) => j % parts === i)).filter(
    (s) => s.length,
  );
  const results = await Promise.allSettled(
    slices.map((slice) => scratch.changes(base, slice, dirs, { renames: true, only: 'R' })),
  );
  throwFailure(results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])));
  const found = new Map(results.flatMap((r) => [...(r as PromiseFulfilledResult<Map<string, RawChange[]>>).value]));
  return new Map(
    [...groups.values()].flatMap((group) => group.map((commit) => [commit, found.get(group[0]!) ?? []] as const)),
  );
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

const dirsOf = (paths: readonly string[]) => [
  ...new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '.'))),
];

/** Follows each still-absent path through the renames in the history of the commits that lack it, to a path the commit has. */
async function followRenames(
  scratch: Scratch,
  base: string,
  absent: ReadonlyMap<string, readonly string[]>,
  trees: Map<string, TagTree>,
  history: () => Promise<History>,
  /**
   * The renames in the history of `tips` under `dirs`. Listing more tips than those lacking a path changes
   * nothing: a rename counts for a commit only when its history has it.
   */
  renamesSince: (tips: readonly string[], dirs: readonly string[]) => Promise<Map<string, RawChange[]>>,
): Promise<void> {
  const lacking = [...absent].filter(([, paths]) => paths.length).map(([c]) => c);
  if (!lacking.length) return;
  // The renames that continue a chain from an absent path, oldest first.
  const chained = new Set(lacking.flatMap((c) => absent.get(c)!));
  const renames: { commit: string; from: string; to: string }[] = [];
  for (const [commit, changes] of await renamesSince(lacking, dirsOf([...chained]))) {
    for (const { path, to } of changes) {
      if (to && chained.has(path)) {
        renames.push({ commit, from: path, to });
        chained.add(to);
      }
    }
  }
  if (!renames.length) return;
  const commits = await history();
  const inHistory = new Map<string, ReadonlySet<string>>();
  for (const commit of new Set(renames.map((r) => r.commit)))
    inHistory.set(commit, commits.containing(commit, lacking) ?? new Set());
  const followed = new Map<string, Map<string, string>>();
  for (const commit of lacking) {
    for (const path of absent.get(commit)!) {
      const to = renames.reduce((at, r) => (r.from === at && inHistory.get(r.commit)!.has(commit) ? r.to : at), path);
      if (to !== path) followed.set(commit, (followed.get(commit) ?? new Map()).set(path, to));
    }
  }
  // The followed paths as each commit has them (a path deleted after its rename is not there: the file is gone).
  const ends = [...new Set([...followed.values()].flatMap((m) => [...m.values()]))];
  const [listed, changed] = await Promise.all([
    scratch.entries(base, ends),
    scratch.changes(base, [...followed.keys()], ends, { renames: false }),
  ]);
  const atBase = new Map(listed.map(splitEntry));
  for (const [commit, moves] of followed) {
    const has = new Map(atBase);
    for (const change of changed.get(commit) ?? []) {
      if (change.status === 'D') has.delete(change.path);
      else has.set(change.path, entry(change.mode, change.blob));
    }
    const tree = trees.get(commit)!;
    for (const [from, to] of moves) {
      if (!has.has(to)) continue;
      tree.renames.set(from, to);
      tree.entries.set(to, has.get(to)!);
    }
  }
}

const entry = (mode: string, blob: string) => `${mode} ${mode === '160000' ? 'commit' : 'blob'} ${blob}`;

function splitEntry(line: string): [string, string] {
  const tab = line.indexOf('\t');
  return [line.slice(tab + 1), line.slice(0, tab)];
}
