import type { ApplyOptions, Scratch, ScratchIndex } from '../../adapters/git-plumbing.js';
import { rewritePaths } from '../rewrite-paths.js';

/**
 * `git apply --cached` for many file changes at once: one patch, one tag's
 * file. `git apply` takes each file of a patch on its own (its verbose output
 * says, file by file, "Checking patch", which hunks moved, which failed), so
 * the file changes of every patch at every tag can go through one git process
 * if each has a path of its own. Each distinct input (a file's diff and what
 * the tag has at its paths) gets one, `bro-<rung><n>/<path>`, in one index per
 * round (one patch of the series against every tag), once per rung of the
 * ladder so that what one rung writes is not what the next one reads.
 *
 * `git apply` writes nothing when any file fails: the failing files are named
 * by its output, and it runs again without them. Output it cannot pin on a
 * file makes it run file by file: slower, never wrong.
 */

export type Rung = 'direct' | 'reverse' | 'fuzz' | 'merge';

/** What `git apply` is given for one rung. */
const RUNGS: Record<Rung, { prefix: string; options: ApplyOptions; writes: boolean }> = {
  direct: { prefix: 'd', options: {}, writes: true },
  reverse: { prefix: 'r', options: { check: true, reverse: true }, writes: false },
  fuzz: { prefix: 'f', options: { context: 1 }, writes: true },
  merge: { prefix: 'm', options: { threeWay: true }, writes: true },
};

/** One file change against what one tag has. */
export interface FileInput {
  /** The same for inputs that cannot give different answers. */
  key: string;
  /** The file's diff, pointed at the paths the tag has. */
  text: string;
  /** What the tag has at each path the change reads or writes: `<mode> <type> <blob>`, or null when it has nothing there. */
  entries: readonly (readonly [string, string | null])[];
}

export interface FileAnswer {
  ok: boolean;
  /** git's words about this file (`-v`), at its real path. */
  output: string;
  /** merge: the file merged with conflicts. */
  conflicted?: boolean;
}

export interface FileBatch {
  /**
   * Each input's answer at a rung. Rungs that write keep what applied of the
   * groups (one patch at one tag) whose every file applied: only those are
   * the patch applied.
   */
  run(
    rung: Rung,
    groups: readonly (readonly FileInput[])[],
    options?: { keep: boolean },
  ): Promise<Map<string, FileAnswer>>;
  /** What the inputs that applied at a rung made: path → `<mode> <type> <blob>` (a path the change deleted is not there). */
  written(rung: Rung, input: FileInput): Promise<Map<string, string>>;
  dispose(): Promise<void>;
}

const BENIGN_ERRORS = /^error: (while searching for:|repository lacks the necessary blob to perform 3-way merge\.)$/;
const SYNTHETIC = /bro-([drfm]\d+)\//;

export async function openFileBatch(scratch: Scratch, inputs: readonly FileInput[]): Promise<FileBatch> {
  const ids = new Map<string, number>();
  for (const input of inputs) if (!ids.has(input.key)) ids.set(input.key, ids.size);
  const distinct = [...new Map(inputs.map((i) => [i.key, i])).values()];
  const dirOf = (rung: Rung, input: FileInput) => `bro-${RUNGS[rung].prefix}${ids.get(input.key)}`;
  const lines: string[] = [];
  for (const rung of Object.keys(RUNGS) as Rung[]) {
    for (const input of distinct)
      for (const [path, entry] of input.entries) if (entry) lines.push(`${entry}\t${dirOf(rung, input)}/${path}`);
  }
  const index: ScratchIndex = await scratch.index(lines);
  let listed: Promise<Map<string, Map<string, string>>> | undefined;

  /** The index by synthetic directory: path → entry at stage 0; `<dir>\0unmerged` for a directory with conflicts. */
  const listing = () =>
    index.list().then((entries) => {
      const byDir = new Map<string, Map<string, string>>();
      for (const e of entries) {
        const slash = e.path.indexOf('/');
        const dir = e.stage === 0 ? e.path.slice(0, slash) : `${e.path.slice(0, slash)}\0unmerged`;
        if (!byDir.has(dir)) byDir.set(dir, new Map());
        byDir.get(dir)!.set(e.path.slice(slash + 1), `${e.mode} ${e.mode === '160000' ? 'commit' : 'blob'} ${e.blob}`);
      }
      return byDir;
    });

  const applyAll = async (rung: Rung, list: readonly FileInput[], writes: boolean) => {
    const text = list.map((i) => rewritePaths(i.text, (path) => `${dirOf(rung, i)}/${path}`)).join('');
    const result = await index.apply(text, { ...RUNGS[rung].options, ...(writes ? {} : { check: true }) });
    return { ok: result.ok, sections: sections(result.output) };
  };

  return {
    async run(rung, groups, options = { keep: true }) {
      const answers = new Map<string, FileAnswer>();
      const todo = [...new Map(groups.flat().map((i) => [i.key, i])).values()];
      // What applied is kept only when asked (a later patch builds on it); a merge is always written, to read its conflicts.
      const writes = RUNGS[rung].writes && (options.keep || rung === 'merge');
      if (writes) listed = undefined;
      /** Applies `list`; when git refuses some, answers them and (writing) applies again what is needed. */
      const attempt = async (list: readonly FileInput[]): Promise<void> => {
        if (!list.length) return;
        const { ok, sections: said } = await applyAll(rung, list, writes);
        const text = (i: FileInput) => said.get(dirOf(rung, i)) ?? '';
        const failing = new Set(list.filter((i) => failed(text(i), rung)));
        if (ok || (!failing.size && rung === 'merge')) {
          for (const i of list) answers.set(i.key, { ok: true, output: text(i) });
          return;
        }
        if (!failing.size) {
          // A failure git did not pin on a file: each on its own.
          if (list.length === 1) answers.set(list[0]!.key, { ok: false, output: [...said.values()].join('\n') });
          else for (const i of list) await attempt([i]);
          return;
        }
        for (const i of list) answers.set(i.key, { ok: !failing.has(i), output: text(i) });
        if (!writes) return;
        // By key: tags with the same input share one object of it in `list`, and each of them its own in `groups`.
        const keys = new Set(
          groups.filter((g) => g.every((i) => answers.get(i.key)?.ok)).flatMap((g) => g.map((i) => i.key)),
        );
        await attempt(list.filter((i) => keys.has(i.key)));
      };
      await attempt(todo);
      if (rung === 'merge') {
        listed = listing();
        const unmerged = new Set(
          [...(await listed).keys()]
            .filter((dir) => dir.endsWith('\0unmerged'))
            .map((dir) => dir.slice(0, -'\0unmerged'.length)),
        );
        for (const i of todo) {
          const answer = answers.get(i.key)!;
          if (answer.ok && unmerged.has(dirOf(rung, i))) answer.conflicted = true;
        }
      }
      return answers;
    },

    async written(rung, input) {
      listed ??= listing();
      return (await listed).get(dirOf(rung, input)) ?? new Map();
    },

    dispose: () => index.dispose(),
  };
}

/** git's verbose output, by the synthetic directory of the file each line is about, at the real paths. */
function sections(output: string): Map<string, string> {
  const byDir = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const named = SYNTHETIC.exec(line)?.[1];
    if (/^Checking patch /.test(line)) current = named;
    const dir = named ?? current;
    if (dir === undefined) continue;
    if (!byDir.has(dir)) byDir.set(dir, []);
    byDir.get(dir)!.push(line.replace(new RegExp(SYNTHETIC.source, 'g'), ''));
  }
  return new Map([...byDir].map(([dir, lines]) => [`bro-${dir}`, lines.join('\n')]));
}

/** Whether git refused this file: an error that is not a three-way merge falling back, and (merging) no "Applied patch to". */
function failed(section: string, rung: Rung): boolean {
  if (rung === 'merge' && /^Applied patch to '.+' (cleanly|with conflicts)\.$/m.test(section)) return false;
  return section.split('\n').some((line) => line.startsWith('error: ') && !BENIGN_ERRORS.test(line));
}
