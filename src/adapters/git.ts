import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Runner } from './runner.js';

/**
 * Git, one small async function per git command (np's git-util style).
 * Every command works on bro's own repositories (the mirror cache and the
 * workspace) or reads a remote: none is a side effect outside them, so all
 * run in the dry run too, which prepares the workspace for real.
 */

/** Fixed identity and dates so that applying the same series twice gives the same commits. */
export const BRO_GIT_IDENTITY: Record<string, string> = {
  GIT_AUTHOR_NAME: 'bro',
  GIT_AUTHOR_EMAIL: 'bro@localhost',
  GIT_COMMITTER_NAME: 'bro',
  GIT_COMMITTER_EMAIL: 'bro@localhost',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

export interface Git {
  /** The commit a ref names on a remote, without fetching; undefined when the remote lacks it. */
  lsRemote(url: string, ref: string): Promise<string | undefined>;
  /** With `onProgress`: git's progress lines (objects, MiB, rate), as it prints them. */
  cloneMirror(url: string, dest: string, onProgress?: (line: string) => void): Promise<void>;
  fetchMirror(gitDir: string, onProgress?: (line: string) => void): Promise<void>;
  /** The commit a ref or sha names in a repository, or undefined. */
  resolveCommit(gitDir: string, ref: string): Promise<string | undefined>;
  hasCommit(gitDir: string, sha: string): Promise<boolean>;
  /** Contents of a file at a revision, or undefined when absent. */
  showFile(gitDir: string, rev: string, path: string): Promise<string | undefined>;
  cloneShared(source: string, dest: string): Promise<void>;
  fetchCommit(repo: string, remote: string, sha: string): Promise<void>;
  /** Force the work tree to `commit` (detached), removing untracked but not ignored files. */
  resetTo(repo: string, commit: string): Promise<void>;
  head(repo: string): Promise<string>;
  /** `git status --porcelain` lines, ignored files excluded. */
  status(repo: string): Promise<string[]>;
  am(repo: string, patchFiles: readonly string[], options?: { threeWay?: boolean }): Promise<void>;
  amAbort(repo: string): Promise<void>;
  /** Commits on HEAD that neither upstream (`base`, tags, remote branches) nor bro (its committer identity) made, oldest first. */
  foreignCommits(repo: string, base: string): Promise<{ sha: string; subject: string }[]>;
  /** `git patch-id --stable` of each patch in `mails` (format-patch output) that has a diff, with the commit its `From` line names: the same change has the same id wherever it applies. */
  patchIds(repo: string, mails: string): Promise<{ patchId: string; commit: string }[]>;
  /** Each commit as `git format-patch --stdout` writes it. */
  formatCommits(repo: string, shas: readonly string[]): Promise<string>;
  /** The changes of the work tree not in HEAD (untracked files too, not ignored ones) as one format-patch mail; '' when there are none. The index is left alone. */
  snapshotWork(repo: string, subject: string): Promise<string>;
  /** `git am --continue`: false when it stopped again (the next patch conflicts). */
  amContinue(repo: string): Promise<boolean>;
  /** Whether the index differs from HEAD (a stopped `git am` whose change rerere or a person staged). */
  hasStagedChanges(repo: string): Promise<boolean>;
  /** Turns on rerere in the checkout, staging what a recorded resolution resolves (rerere.autoUpdate). */
  enableRerere(repo: string): Promise<void>;
  /** The repository's own git directory (the checkout's .git), absolute. */
  gitDir(repo: string): Promise<string>;
  /** Whether a `git am` is stopped in the checkout (a conflict left for hand resolution). */
  amInProgress(repo: string): Promise<boolean>;
  /** `git apply --check -v`, returning git's own explanation when it fails. */
  applyCheck(repo: string, patchFile: string): Promise<{ ok: boolean; output: string }>;
  commitAll(repo: string, message: string, date: string): Promise<void>;
  /** Whether `path` is in a git work tree and not ignored there: a file written there shows up in `git status`, one `git add -A` from a commit. */
  wouldTrack(path: string): Promise<boolean>;
}

export function createGit(runner: Runner): Git {
  // Workspace and cache operations are bro's own, not side effects outside it: they run in dry-run too.
  const run = async (
    args: readonly string[],
    options: {
      cwd?: string;
      input?: string;
      okExitCodes?: number[];
      env?: Record<string, string>;
      onLine?: (line: string) => void;
    } = {},
  ) => runner.run({ ...options, argv: ['git', ...args], mode: 'read', env: { ...BRO_GIT_IDENTITY, ...options.env } });

  const git: Git = {
    async lsRemote(url, ref) {
      if (/^[0-9a-f]{40}$/.test(ref)) return undefined;
      const { stdout } = await run([
        'ls-remote',
        '--',
        url,
        ref,
        `${ref}^{}`,
        `refs/tags/${ref}`,
        `refs/tags/${ref}^{}`,
      ]);
      const refs = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const [sha, name] = line.split('\t');
        if (sha && name) refs.set(name, sha);
      }
      for (const name of [`refs/tags/${ref}^{}`, `refs/tags/${ref}`, `refs/heads/${ref}`, ref]) {
        const sha = refs.get(name);
        if (sha) return sha;
      }
      return undefined;
    },
    // --progress: git prints its progress only to a terminal unless asked; --quiet without a reader.
    async cloneMirror(url, dest, onProgress) {
      await run(['clone', '--mirror', onProgress ? '--progress' : '--quiet', '--', url, dest], { onLine: onProgress });
    },
    async fetchMirror(gitDir, onProgress) {
      await run(['--git-dir', gitDir, 'fetch', '--prune', '--force', onProgress ? '--progress' : '--quiet', 'origin'], {
        onLine: onProgress,
      });
    },
    async resolveCommit(gitDir, ref) {
      const { stdout, exitCode } = await run(
        ['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`],
        {
          okExitCodes: [1, 128],
        },
      );
      return exitCode === 0 ? stdout.trim() : undefined;
    },
    async hasCommit(gitDir, sha) {
      const { exitCode } = await run(['--git-dir', gitDir, 'cat-file', '-e', `${sha}^{commit}`], {
        okExitCodes: [1, 128],
      });
      return exitCode === 0;
    },
    async showFile(gitDir, rev, path) {
      const { stdout, exitCode } = await run(['--git-dir', gitDir, 'show', `${rev}:${path}`], { okExitCodes: [128] });
      return exitCode === 0 ? stdout : undefined;
    },
    async cloneShared(source, dest) {
      await run(['clone', '--quiet', '--shared', '--no-checkout', '--', source, dest]);
    },
    async fetchCommit(repo, remote, sha) {
      await run(['fetch', '--quiet', remote, sha], { cwd: repo });
    },
    async resetTo(repo, commit) {
      await run(['am', '--abort'], { cwd: repo, okExitCodes: [1, 128] });
      await run(['checkout', '--quiet', '--force', '--detach', commit], { cwd: repo });
      await run(['reset', '--quiet', '--hard', commit], { cwd: repo });
      // -d but not -x: ignored build caches (build/, target/) survive.
      await run(['clean', '--quiet', '-d', '--force'], { cwd: repo });
    },
    async head(repo) {
      return (await run(['rev-parse', 'HEAD'], { cwd: repo })).stdout.trim();
    },
    async status(repo) {
      const { stdout } = await run(['status', '--porcelain', '--untracked-files=all'], { cwd: repo });
      return stdout.split('\n').filter(Boolean);
    },
    async am(repo, patchFiles, options = {}) {
      await run(
        [
          'am',
          '--quiet',
          '--committer-date-is-author-date',
          ...(options.threeWay ? ['--3way'] : []),
          '--',
          ...patchFiles,
        ],
        {
          cwd: repo,
        },
      );
    },
    async amAbort(repo) {
      await run(['am', '--abort'], { cwd: repo, okExitCodes: [1, 128] });
    },
    async amContinue(repo) {
      const { exitCode } = await run(['am', '--quiet', '--continue'], { cwd: repo, okExitCodes: [1, 128] });
      return exitCode === 0;
    },
    async hasStagedChanges(repo) {
      const { exitCode } = await run(['diff', '--cached', '--quiet'], { cwd: repo, okExitCodes: [1] });
      return exitCode === 1;
    },
    async enableRerere(repo) {
      await run(['config', 'rerere.enabled', 'true'], { cwd: repo });
      await run(['config', 'rerere.autoUpdate', 'true'], { cwd: repo });
    },
    async gitDir(repo) {
      return (await run(['rev-parse', '--path-format=absolute', '--git-dir'], { cwd: repo })).stdout.trim();
    },
    async foreignCommits(repo, base) {
      const { stdout } = await run(
        ['log', '--reverse', '--format=%H%x09%ce%x09%s', 'HEAD', '--not', base, '--tags', '--remotes', '--'],
        { cwd: repo },
      );
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t'))
        .filter(([, email]) => email !== BRO_GIT_IDENTITY.GIT_COMMITTER_EMAIL)
        .map(([sha = '', , subject = '']) => ({ sha, subject }));
    },
    async patchIds(repo, mails) {
      const { stdout } = await run(['patch-id', '--stable'], { cwd: repo, input: mails });
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [patchId = '', commit = ''] = line.split(' ');
          return { patchId, commit };
        });
    },
    async formatCommits(repo, shas) {
      let mails = '';
      for (const sha of shas) mails += (await run(['format-patch', '--stdout', '-1', sha], { cwd: repo })).stdout;
      return mails;
    },
    async snapshotWork(repo, subject) {
      const { stdout: gitDir } = await run(['rev-parse', '--absolute-git-dir'], { cwd: repo });
      const env = { GIT_INDEX_FILE: `${gitDir.trim()}/bro-snapshot-index` };
      try {
        await run(['read-tree', 'HEAD'], { cwd: repo, env });
        await run(['add', '--all'], { cwd: repo, env });
        const tree = (await run(['write-tree'], { cwd: repo, env })).stdout.trim();
        if (tree === (await run(['rev-parse', 'HEAD^{tree}'], { cwd: repo })).stdout.trim()) return '';
        const commit = (
          await run(['commit-tree', tree, '-p', 'HEAD', '-F', '-'], { cwd: repo, input: subject })
        ).stdout.trim();
        return (await run(['format-patch', '--stdout', '-1', commit], { cwd: repo })).stdout;
      } finally {
        await rm(env.GIT_INDEX_FILE, { force: true });
      }
    },
    async amInProgress(repo) {
      const { stdout } = await run(['rev-parse', '--path-format=absolute', '--git-path', 'rebase-apply'], {
        cwd: repo,
      });
      return stat(stdout.trim()).then(
        () => true,
        () => false,
      );
    },
    async applyCheck(repo, patchFile) {
      const { exitCode, stderr, stdout } = await run(['apply', '--check', '-v', patchFile], {
        cwd: repo,
        okExitCodes: [1, 128],
      });
      return { ok: exitCode === 0, output: `${stdout}\n${stderr}`.trim() };
    },
    async commitAll(repo, message, date) {
      await run(['add', '--all'], { cwd: repo });
      // The message on stdin: it has several lines, which argv shown in logs and errors should not.
      await run(['commit', '--quiet', '--no-verify', '--allow-empty', '--file=-'], {
        cwd: repo,
        input: message,
        env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
      });
    },
    async wouldTrack(path) {
      // check-ignore: 0 ignored, 1 not ignored, 128 not in a work tree (or another failure: then say nothing).
      const { exitCode } = await run(['check-ignore', '--quiet', '--no-index', '--', path], {
        cwd: dirname(path),
        okExitCodes: [1, 128],
      });
      return exitCode === 1;
    },
  };
  return git;
}
