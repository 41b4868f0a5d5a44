import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { SubprocessError } from '../shared/errors.js';
import { BRO_GIT_IDENTITY } from './git.js';
import { readIndex, writeIndex, type IndexEntry } from './index-file.js';
import type { LongLived, Runner } from './runner.js';

/**
 * Git plumbing for checking patches without a work tree. A scratch area sits
 * over a bare mirror: its own object directory (the mirror's objects are an
 * alternate, so nothing is ever written into the mirror) and temporary index
 * files, one per upstream tag. `git apply --cached` applies patches to such an
 * index in sequence, and the blobs it writes stay in the scratch area.
 * Also the few commands the rebase workspace needs beyond the Git adapter's.
 */

export interface ApplyOptions {
  /** `--check`: leave the index alone. */
  check?: boolean;
  reverse?: boolean;
  /** `-C<n>`: accept hunks whose context matches on only n lines either side. */
  context?: number;
  threeWay?: boolean;
}

export interface ApplyResult {
  ok: boolean;
  /** git's own words (`-v`): which hunks moved, which failed and why. */
  output: string;
}

export interface ScratchIndex {
  /** `git apply --cached -v` of a patch given as text. */
  apply(patch: string, options?: ApplyOptions): Promise<ApplyResult>;
  /** Paths with unmerged entries (left by a three-way apply that conflicted). */
  unmerged(): Promise<string[]>;
  /** A file's contents at stage 0 of the index, or undefined when absent. */
  readFile(path: string): Promise<string | undefined>;
  /** Saves the index as it is now; the returned function puts it back. */
  save(): Promise<() => Promise<void>>;
  /** Every entry: `<mode> <blob> <stage>\t<path>` as `git ls-files --stage` lists it. */
  list(): Promise<{ mode: string; blob: string; stage: number; path: string }[]>;
  /** Removes the index file. */
  dispose(): Promise<void>;
}

/** Blob contents from one long-lived `git cat-file --batch`, however many are read. */
export interface BlobReader {
  /** The blob's text; undefined when the repository has no such object. */
  read(blob: string): Promise<string | undefined>;
  /** Ends the process. */
  close(): Promise<void>;
}

export interface Scratch {
  /** `<mode> <type> <blob>\t<path>` of each of `paths` that `treeish` has. */
  entries(treeish: string, paths: readonly string[]): Promise<string[]>;
  /**
   * A new temporary index holding just these entries: the files a patch series
   * touches, not the whole tree (`git apply --cached` reads and rewrites the
   * whole index on every call, and a Bottlerocket tree has 3000 files).
   */
  index(entries: readonly string[]): Promise<ScratchIndex>;
  /**
   * What changed from `base` to each of `commits` under `pathspec`, for all of
   * them in one `git diff-tree --stdin` (one process instead of one per tag).
   * With `renames`, deleted and added files are paired as git pairs them.
   */
  changes(
    base: string,
    commits: readonly string[],
    pathspec: readonly string[],
    options: { renames: boolean; only?: string },
  ): Promise<Map<string, RawChange[]>>;
  /** The renames under `pathspec` of each commit in the history of `commits` since `base`, oldest commit first (`git log --follow` for many files at once). */
  renamesSince(
    base: string,
    commits: readonly string[],
    pathspec: readonly string[],
  ): Promise<Map<string, RawChange[]>>;
  /**
   * The history of `tips` (every commit they reach, with its parents: one
   * `git rev-list --parents`), to ask which of them contain a commit without a
   * git process per question.
   */
  history(tips: readonly string[], options?: { except?: string }): Promise<History>;
  /** Full commit ids of commit names (abbreviated ids, tags), in one `git cat-file --batch-check`; undefined for those the repository lacks. */
  resolveCommits(names: readonly string[]): Promise<(string | undefined)[]>;
  /** The id of the object (a tree, or whatever is there instead) each commit has at each directory, undefined where it has none, in one `git cat-file --batch-check`. */
  treeIds(commits: readonly string[], dirs: readonly string[]): Promise<Map<string, (string | undefined)[]>>;
  /** A reader of blobs (the repository's and those applying patches made); started on first use. */
  blobs(): BlobReader;
  /** Removes the scratch area (and ends the blob readers). */
  dispose(): Promise<void>;
}

export interface History {
  /**
   * Which of `commits` (tips of this history) have `ancestor` in their
   * history. With `except`, the history holds only the commits that commit
   * does not reach: every path from a tip to such an ancestor stays inside it,
   * so the answer is exact; for an ancestor outside it, undefined.
   */
  containing(ancestor: string, commits: readonly string[]): Set<string> | undefined;
}

/** One line of `git diff --raw`. */
export interface RawChange {
  /** A (added), D (deleted), M (modified), R (renamed), T (type changed)… */
  status: string;
  path: string;
  /** The new path of a rename. */
  to?: string;
  /** The file after the change (`000000` and zeros when deleted). */
  mode: string;
  blob: string;
}

export interface GitPlumbing {
  /**
   * A scratch area over a repository. Blobs that applying patches makes go to
   * a temporary object directory, unless `objects: 'repository'` (a
   * workspace bro owns, where a later `git am --3way` needs them).
   */
  open(gitDir: string, options?: { objects: 'scratch' | 'repository' }): Promise<Scratch>;
  /** Every tag of a repository and the commit it names (annotated tags peeled). */
  tagCommits(gitDir: string): Promise<Map<string, string>>;
  /** Where a stopped `git am` is (1-based patch number of how many), or undefined when none is. */
  amProgress(repo: string): Promise<{ next: number; last: number } | undefined>;
  /** Files with unresolved conflicts in a work tree; `deletedByHead` when HEAD's side has no such file (a modify/delete conflict). */
  conflicted(repo: string): Promise<{ path: string; deletedByHead: boolean }[]>;
  /**
   * The commits after `from` as patch files, the same bytes whoever runs it:
   * no signature, a zero commit id, blob ids of `abbrev` digits, numbered
   * `[PATCH n/m]` or not, and the user's git config ignored (diff.noprefix,
   * format.signature, diff.algorithm… would change them).
   */
  formatPatches(repo: string, from: string, options: { abbrev: number; numbered: boolean }): Promise<string[]>;
}

const nulSeparated = (text: string) => text.split('\0').filter(Boolean);

/** `--raw -z` records after commit ids (diff-tree --stdin, log), by commit. */
function readRaw(stdout: string): Map<string, RawChange[]> {
  const byCommit = new Map<string, RawChange[]>();
  // The output can be megabytes (every file added or deleted under a directory, at 70 tags): read field by field
  // rather than splitting it all at once. A field's leading newline (after a commit id) is not part of it.
  let at = 0;
  const next = (): string | undefined => {
    if (at > stdout.length) return undefined;
    let end = stdout.indexOf('\0', at);
    if (end < 0) end = stdout.length;
    const field = stdout.charCodeAt(at) === 10 ? stdout.slice(at + 1, end) : stdout.slice(at, end);
    at = end + 1;
    return field;
  };
  let current: RawChange[] = [];
  for (let field = next(); field !== undefined; field = next()) {
    if (field.startsWith(':')) {
      const [, mode = '', , blob = '', status = ''] = field.slice(1).split(' ');
      const renamed = status.startsWith('R') || status.startsWith('C');
      current.push({ status: status[0] ?? '', mode, blob, path: next() ?? '', to: renamed ? next() : undefined });
    } else if (/^[0-9a-f]{40,64}$/.test(field)) {
      current = byCommit.get(field) ?? [];
      byCommit.set(field, current);
    }
  }
  return byCommit;
}

/** `signal` stops the work between git processes (the runner stops the ones running). */
export function createGitPlumbing(runner: Runner, signal?: AbortSignal): GitPlumbing {
  // Exit codes listed in `answers` are answers (a patch that does not apply, an absent path), not failures.
  const gitIn =
    (gitDir: string, env: Record<string, string>) =>
    (
      args: readonly string[],
      options: { extraEnv?: Record<string, string>; input?: string; answers?: number[] } = {},
    ) => {
      signal?.throwIfAborted();
      return runner.run({
        argv: ['git', '--git-dir', gitDir, ...args],
        mode: 'read',
        env: { ...BRO_GIT_IDENTITY, ...env, ...options.extraEnv },
        input: options.input,
        okExitCodes: options.answers ?? [],
      });
    };

  // Commands in a work tree (the rebase workspace).
  const gitAt =
    (repo: string, env: Record<string, string> = {}) =>
    (args: readonly string[]) => {
      signal?.throwIfAborted();
      return runner.run({ argv: ['git', ...args], cwd: repo, mode: 'read', env: { ...BRO_GIT_IDENTITY, ...env } });
    };

  /** Tag → commit of the tags `for-each-ref` lists with these arguments. */
  const tagsOf = async (gitDir: string, args: readonly string[] = []) => {
    const { stdout } = await gitIn(
      gitDir,
      {},
    )(['for-each-ref', ...args, '--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)', 'refs/tags']);
    const tags = new Map<string, string>();
    for (const line of stdout.split('\n')) {
      const [name, object, peeled] = line.split('\0');
      if (name && object) tags.set(name, peeled || object);
    }
    return tags;
  };

  return {
    tagCommits: (gitDir) => tagsOf(gitDir),

    async amProgress(repo) {
      const { stdout } = await gitAt(repo)(['rev-parse', '--git-path', 'rebase-apply']);
      const dir = isAbsolute(stdout.trim()) ? stdout.trim() : join(repo, stdout.trim());
      const [next, last] = await Promise.all(
        ['next', 'last'].map((f) => readFile(join(dir, f), 'utf8').then(Number, () => NaN)),
      );
      return next && last ? { next, last } : undefined;
    },

    async conflicted(repo) {
      // "<mode> <blob> <stage>\t<path>": stage 2 is HEAD's side.
      const { stdout } = await gitAt(repo)(['ls-files', '--unmerged', '-z']);
      const stages = new Map<string, Set<string>>();
      for (const entry of nulSeparated(stdout)) {
        const path = entry.slice(entry.indexOf('\t') + 1);
        stages.set(path, (stages.get(path) ?? new Set()).add(entry.slice(0, entry.indexOf('\t')).split(' ')[2] ?? ''));
      }
      return [...stages].map(([path, s]) => ({ path, deletedByHead: !s.has('2') }));
    },

    async formatPatches(repo, from, options) {
      const { stdout } = await gitAt(repo, { GIT_CONFIG_GLOBAL: devNull })([
        'format-patch',
        '--stdout',
        '--zero-commit',
        '--no-signature',
        options.numbered ? '--numbered' : '--no-numbered',
        '--subject-prefix=PATCH',
        `--abbrev=${options.abbrev}`,
        '--diff-algorithm=myers',
        '--src-prefix=a/',
        '--dst-prefix=b/',
        `${from}..HEAD`,
      ]);
      // Each patch starts with the mbox "From <zero id> <fixed date>" line; --stdout puts a blank line
      // between patches, which is no part of either (a patch's last line is a diff line, never blank).
      const patches = stdout ? `${stdout}\n`.split(/^(?=From 0{40} Mon Sep 17 00:00:00 2001$)/m) : [];
      return patches.map((p) => (p.endsWith('\n\n') ? p.slice(0, -1) : p));
    },

    async open(gitDir, options = { objects: 'scratch' }) {
      const root = await mkdtemp(join(tmpdir(), 'bro-patches-'));
      const objects = join(root, 'objects');
      await mkdir(join(objects, 'info'), { recursive: true });
      await mkdir(join(objects, 'pack'), { recursive: true });
      const env: Record<string, string> =
        options.objects === 'scratch'
          ? { GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(gitDir, 'objects') }
          : {};
      const git = gitIn(gitDir, env);
      const readers: BlobReader[] = [];
      let files = 0;

      return {
        async entries(treeish, paths) {
          if (!paths.length) return [];
          const { stdout } = await git([
            '--literal-pathspecs',
            'ls-tree',
            '-r',
            '-z',
            '--full-tree',
            treeish,
            '--',
            ...paths,
          ]);
          return nulSeparated(stdout);
        },

        async index(entries) {
          const file = join(root, `index-${files++}`);
          const extraEnv = { GIT_INDEX_FILE: file };
          // ls-tree's lines are what update-index --index-info reads. No entries, no file: an empty index.
          // Written here when it can be (SHA-1 ids): one git process less per index.
          const parsed = entries.map((line) => {
            const tab = line.indexOf('\t');
            const [mode = '', , blob = ''] = line.slice(0, tab).split(' ');
            return { mode, blob, path: line.slice(tab + 1) };
          });
          const written = entries.length ? writeIndex(parsed) : undefined;
          if (written) await writeFile(file, written);
          else if (entries.length)
            await git(['update-index', '-z', '--index-info'], { extraEnv, input: `${entries.join('\0')}\0` });
          return {
            async apply(patch, options = {}) {
              // An index git writes keeps the version it read (2, which list() reads), and is never split.
              const args = ['-c', 'core.splitIndex=false', 'apply', '--cached', '-v', '--whitespace=nowarn'];
              if (options.check) args.push('--check');
              if (options.reverse) args.push('--reverse');
              if (options.context !== undefined) args.push(`-C${options.context}`);
              if (options.threeWay) args.push('--3way');
              const { exitCode, stdout, stderr } = await git(args, { extraEnv, input: patch, answers: [1, 128] });
              return { ok: exitCode === 0, output: `${stdout}\n${stderr}`.trim() };
            },
            async unmerged() {
              const { stdout } = await git(['ls-files', '--unmerged', '-z'], { extraEnv });
              return [...new Set(nulSeparated(stdout).map((entry) => entry.slice(entry.indexOf('\t') + 1)))];
            },
            async readFile(path) {
              const { exitCode, stdout } = await git(['cat-file', 'blob', `:${path}`], { extraEnv, answers: [128] });
              return exitCode === 0 ? stdout : undefined;
            },
            async list() {
              const read = await readFile(file).then(readIndex, () => [] as IndexEntry[]);
              if (read) return read;
              const { stdout } = await git(['ls-files', '--stage', '-z'], { extraEnv });
              return nulSeparated(stdout).map((line) => {
                const tab = line.indexOf('\t');
                const [mode = '', blob = '', stage = '0'] = line.slice(0, tab).split(' ');
                return { mode, blob, stage: Number(stage), path: line.slice(tab + 1) };
              });
            },
            async save() {
              const copy = `${file}-saved`;
              const saved = await copyFile(file, copy).then(
                () => true,
                () => false, // no file yet: the index is empty
              );
              return () => (saved ? copyFile(copy, file) : rm(file, { force: true }));
            },
            async dispose() {
              await rm(file, { force: true });
              await rm(`${file}-saved`, { force: true });
            },
          };
        },

        async changes(base, commits, pathspec, options) {
          if (!commits.length || !pathspec.length) return new Map();
          // Each stdin line "<commit> <base>" is read as a commit and its parent: the diff from base to commit.
          // `only` (--diff-filter) picks what is listed after renames are found: it does not change them.
          const filter = options.only ? [`--diff-filter=${options.only}`] : [];
          const argv = [
            '--literal-pathspecs',
            'diff-tree',
            '--stdin',
            '-r',
            '--raw',
            '-z',
            options.renames ? '--find-renames' : '--no-renames',
            ...filter,
            '--',
            ...pathspec,
          ];
          const { stdout, stderr } = await git(argv, { input: commits.map((c) => `${c} ${base}\n`).join('') });
          // diff-tree --stdin stops at a line it cannot read, says so on stderr, and still exits 0.
          if (stderr.trim())
            throw new SubprocessError(
              ['git', ...argv],
              'exit',
              { exitCode: 0, output: stderr },
              `git diff-tree --stdin failed: ${stderr.trim()}`,
            );
          return readRaw(stdout);
        },

        async renamesSince(base, commits, pathspec) {
          if (!commits.length || !pathspec.length) return new Map();
          const { stdout } = await git([
            '--literal-pathspecs',
            'log',
            '--reverse',
            '--find-renames',
            '--diff-filter=R',
            '--raw',
            '-z',
            '--no-abbrev',
            '--format=%H',
            ...commits,
            `^${base}`,
            '--',
            ...pathspec,
          ]);
          return readRaw(stdout);
        },

        async history(tips, options = {}) {
          const children = new Map<string, string[]>();
          const listed = new Set<string>();
          if (tips.length) {
            const input = [...new Set(tips), ...(options.except ? [`^${options.except}`] : [])].join('\n');
            const { stdout } = await git(['rev-list', '--parents', '--stdin'], { input: `${input}\n` });
            for (const line of stdout.split('\n')) {
              const [commit, ...parents] = line.split(' ');
              if (!commit) continue;
              listed.add(commit);
              for (const parent of parents)
                (children.get(parent) ?? children.set(parent, []).get(parent)!).push(commit);
            }
          }
          const descendants = new Map<string, Set<string>>();
          return {
            containing(ancestor, commits) {
              if (options.except && !listed.has(ancestor)) return undefined;
              let reached = descendants.get(ancestor);
              if (!reached) {
                reached = new Set([ancestor]);
                for (const queue = [ancestor]; queue.length;) {
                  for (const child of children.get(queue.pop()!) ?? [])
                    if (!reached.has(child)) queue.push(reached.add(child) && child);
                }
                descendants.set(ancestor, reached);
              }
              return new Set(commits.filter((c) => reached.has(c)));
            },
          };
        },

        async resolveCommits(names) {
          if (!names.length) return [];
          const { stdout } = await git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
            input: names.map((n) => `${n}^{commit}\n`).join(''),
          });
          return stdout
            .split('\n')
            .slice(0, names.length)
            .map((line) => (/^[0-9a-f]{40,64} commit$/.test(line) ? line.split(' ')[0] : undefined));
        },

        async treeIds(commits, dirs) {
          const names = commits.flatMap((c) => dirs.map((d) => (d === '.' ? `${c}^{tree}` : `${c}:${d}`)));
          if (!names.length) return new Map();
          const { stdout } = await git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
            input: names.map((n) => `${n}\n`).join(''),
          });
          const lines = stdout.split('\n');
          return new Map(
            commits.map((c, i) => [
              c,
              dirs.map((_, j) => {
                const line = lines[i * dirs.length + j] ?? '';
                return /^[0-9a-f]{40,64} [a-z]+$/.test(line) ? line.split(' ')[0] : undefined;
              }),
            ]),
          );
        },

        blobs() {
          const reader = catFileBatch(runner, ['git', '--git-dir', gitDir, 'cat-file', '--batch'], env, signal);
          readers.push(reader);
          return reader;
        },

        async dispose() {
          await Promise.allSettled(readers.map((r) => r.close()));
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  };
}

/**
 * `git cat-file --batch`: each request is an object name on a line; each answer
 * `<oid> <type> <size>\n<content>\n`, or `<name> missing\n`. Answers come in
 * the order asked, so a queue of waiting readers matches them.
 */
function catFileBatch(runner: Runner, argv: string[], env: Record<string, string>, signal?: AbortSignal): BlobReader {
  let child: LongLived | undefined;
  let failure: Error | undefined;
  const waiting: { resolve: (text: string | undefined) => void; reject: (error: Error) => void }[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  const memo = new Map<string, Promise<string | undefined>>();

  const drain = () => {
    for (;;) {
      const eol = buffer.indexOf(10);
      if (eol < 0 || !waiting.length) return;
      const header = buffer.subarray(0, eol).toString('utf8');
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        buffer = buffer.subarray(eol + 1);
        waiting.shift()!.resolve(undefined);
        continue;
      }
      const size = Number(header.split(' ')[2]);
      if (buffer.length < eol + 1 + size + 1) return;
      const content = buffer.subarray(eol + 1, eol + 1 + size).toString('utf8');
      buffer = buffer.subarray(eol + 1 + size + 1);
      waiting.shift()!.resolve(content);
    }
  };
  const fail = (error: Error) => {
    failure ??= error;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  const started = () => {
    if (child) return child;
    child = runner.start({ argv, env: { ...BRO_GIT_IDENTITY, ...env }, mode: 'read' });
    child.stdout.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      drain();
    });
    child.stdout.on('end', () =>
      fail(new SubprocessError(argv, 'exit', {}, `${argv.slice(3).join(' ')} ended before it answered`)),
    );
    return child;
  };
  return {
    read(blob) {
      const known = memo.get(blob);
      if (known) return known;
      const answer = new Promise<string | undefined>((resolve, reject) => {
        signal?.throwIfAborted();
        if (failure) throw failure;
        waiting.push({ resolve, reject });
        started().write(`${blob}\n`);
      });
      memo.set(blob, answer);
      return answer;
    },
    async close() {
      if (!child) return;
      const ending = child;
      child = undefined;
      try {
        await ending.end();
      } finally {
        fail(new SubprocessError(argv, 'exit', {}, 'the blob reader is closed'));
      }
    },
  };
}
