import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BRO_GIT_IDENTITY } from './git.js';
import type { Runner } from './runner.js';

/**
 * Git for reading upstream trees as files without a checkout of the whole
 * tree: a part of a commit (with patches applied on top) written to a
 * directory through a temporary index, which paths exist at many commits
 * in one process, and a diff of two files by git itself.
 */
export interface GitTrees {
  /**
   * Writes `paths` (directories or files) of `commit`, with `patchFiles`
   * applied in order (`git apply --cached`, which must go through cleanly),
   * under `dest`, which is emptied first. Symlinks stay symlinks. `repo` is
   * a checkout whose object store may take the blobs the patches make.
   */
  extract(
    repo: string,
    commit: string,
    patchFiles: readonly string[],
    paths: readonly string[],
    dest: string,
  ): Promise<void>;
  /** For each `<commit>:<path>`, whether it exists, in one `git cat-file --batch-check`. */
  exists(gitDir: string, specs: readonly string[]): Promise<boolean[]>;
  /** Files of `commit` (under `paths`) whose contents have `text`. */
  grep(gitDir: string, commit: string, text: string, paths?: readonly string[]): Promise<string[]>;
  /** A unified diff of two files (`git diff --no-index`), their names shown relative to `cwd`; empty when the same. */
  diffFiles(cwd: string, before: string, after: string): Promise<string>;
}

export function createGitTrees(runner: Runner): GitTrees {
  const run = (
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string>; input?: string; okExitCodes?: number[] } = {},
  ) => runner.run({ ...options, argv: ['git', ...args], mode: 'read', env: { ...BRO_GIT_IDENTITY, ...options.env } });
  return {
    async extract(repo, commit, patchFiles, paths, dest) {
      await rm(dest, { recursive: true, force: true });
      await mkdir(dest, { recursive: true });
      const env = { GIT_INDEX_FILE: join(dest, '.git-index') };
      try {
        await run(['read-tree', commit], { cwd: repo, env });
        for (const file of patchFiles) await run(['apply', '--cached', '--', file], { cwd: repo, env });
        const { stdout } = await run(['ls-files', '-z', '--', ...paths], { cwd: repo, env });
        await run(['checkout-index', '-z', '--stdin', `--prefix=${dest}/`], { cwd: repo, env, input: stdout });
      } finally {
        await rm(env.GIT_INDEX_FILE, { force: true });
      }
    },
    async exists(gitDir, specs) {
      if (!specs.length) return [];
      const { stdout } = await run(['--git-dir', gitDir, 'cat-file', '--batch-check=%(objecttype)'], {
        input: `${specs.join('\n')}\n`,
      });
      const lines = stdout.split('\n');
      return specs.map((_, i) => !/missing$/.test(lines[i] ?? 'missing'));
    },
    async grep(gitDir, commit, text, paths = []) {
      const { stdout } = await run(['--git-dir', gitDir, 'grep', '-l', '-F', '-e', text, commit, '--', ...paths], {
        okExitCodes: [1],
      });
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(commit.length + 1));
    },
    async diffFiles(cwd, before, after) {
      const { stdout } = await run(
        ['diff', '--no-index', '--no-color', '--no-ext-diff', '--no-prefix', '--', before, after],
        {
          cwd,
          okExitCodes: [1],
        },
      );
      return stdout;
    },
  };
}
