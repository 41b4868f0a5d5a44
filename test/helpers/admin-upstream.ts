import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { parse } from 'smol-toml';
import { parseSeriesFile } from '../../src/config/series.js';
import { REPO_ROOT } from './git-fixtures.js';
import { FIXED_GIT_IDENTITY, sealedEnv } from './env.js';

/**
 * The real admin container, with our patch series applied, for the tests that
 * run real programs (sshd, shellcheck, bash) on the patched files. Nothing of
 * upstream is copied into this repository: the tree is cloned from the git
 * bundle in ../shared/upstream (relative to the project root; see its
 * README), into a temporary directory, and the series is applied with `git am`.
 */

export const ADMIN_BUNDLE = 'bottlerocket-admin-container.bundle';
export const ADMIN_SERIES_DIR = join(REPO_ROOT, 'patches', 'admin-container', '0.5.2');

/** The environment every program these tests start gets: the sealed allowlist, the C locale and a fixed git identity. */
export function adminEnv(extra: Record<string, string> = {}): Record<string, string> {
  return sealedEnv({ LC_ALL: 'C', HOME: tmpdir(), ...FIXED_GIT_IDENTITY, ...extra });
}

/**
 * Where ../shared/upstream is: next to the project root or, when the project
 * is a linked git worktree, next to its main checkout. Undefined when absent.
 */
export async function findSharedUpstream(): Promise<string | undefined> {
  const candidates = [join(REPO_ROOT, '..', 'shared', 'upstream')];
  const common = await execa('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], {
    cwd: REPO_ROOT,
    env: adminEnv(),
    extendEnv: false,
    reject: false,
  });
  if (common.exitCode === 0 && common.stdout.trim())
    candidates.push(join(dirname(common.stdout.trim()), '..', 'shared', 'upstream'));
  return candidates.map((c) => resolve(c)).find((c) => existsSync(join(c, ADMIN_BUNDLE)));
}

/**
 * The admin container ref a Bottlerocket base uses, as the shipped variant names it:
 * `[sources.admin-container.refs]` for that tag, else `[sources.admin-container] ref`.
 */
export function adminBase(bottlerocketTag?: string): string {
  const variant = parse(readFileSync(join(REPO_ROOT, 'variants', 'aws-k8s-1.18.toml'), 'utf8')) as {
    sources: { 'admin-container': { ref: string; refs?: Record<string, string> } };
  };
  const admin = variant.sources['admin-container'];
  return (bottlerocketTag && admin.refs?.[bottlerocketTag]) || admin.ref;
}

export interface PatchedAdminTree {
  /** Work tree of the admin container at the base with the series applied. */
  tree: string;
  base: string;
  /** Files the series changes (paths relative to the tree). */
  changed: string[];
  /** A file as upstream has it at the base (before the series). */
  atBase(path: string): Promise<string>;
  cleanup(): void;
}

export type PatchedAdminResult = { tree: PatchedAdminTree } | { skip: string };

/**
 * Clones the bundle to a temporary bare mirror (as ../shared/upstream/README.md
 * says), checks out the base and applies the series with `git am`. Returns the
 * reason to skip when ../shared/upstream is absent.
 */
export async function patchedAdminTree(base = adminBase(), seriesDir = ADMIN_SERIES_DIR): Promise<PatchedAdminResult> {
  const upstream = await findSharedUpstream();
  if (!upstream)
    return {
      skip: `../shared/upstream/${ADMIN_BUNDLE} is absent (relative to the project root): cannot build the real patched admin container`,
    };
  const root = mkdtempSync(join(tmpdir(), 'bro-admin-upstream-'));
  const env = adminEnv();
  const git = (cwd: string, ...args: string[]) => execa('git', args, { cwd, env, extendEnv: false });
  try {
    await git(root, 'clone', '--quiet', '--mirror', join(upstream, ADMIN_BUNDLE), 'admin-container.git');
    await git(root, 'clone', '--quiet', '--no-checkout', join(root, 'admin-container.git'), 'tree');
    const tree = join(root, 'tree');
    await git(tree, 'checkout', '--quiet', '--detach', base);
    const names = parseSeriesFile(join(seriesDir, 'series'), readFileSync(join(seriesDir, 'series'), 'utf8'));
    await git(tree, 'am', '--quiet', ...names.map((n) => join(seriesDir, n)));
    const changed = (await git(tree, 'diff', '--name-only', base, 'HEAD')).stdout.split('\n').filter(Boolean);
    return {
      tree: {
        tree,
        base,
        changed,
        atBase: async (path) =>
          (
            await execa('git', ['show', `${base}:${path}`], {
              cwd: tree,
              env,
              extendEnv: false,
              stripFinalNewline: false,
            })
          ).stdout,
        cleanup: () => rmSync(root, { recursive: true, force: true }),
      },
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
