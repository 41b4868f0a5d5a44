import type { GitPlumbing } from '../../adapters/git-plumbing.js';
import type { Git } from '../../adapters/git.js';
import type { Project } from '../../adapters/project.js';
import { join } from 'node:path';
import { asWritten, withoutRecord, type Patch } from '../../config/series.js';
import { ConfigError, StepError } from '../../shared/errors.js';
import { parseFormatPatch } from '../../config/patch-file.js';
import type { RebaseState, RebaseWorkspace, SettingMove } from './rebase-state.js';

/**
 * Refresh: the commits of the rebase workspace, from the tag it was rebased
 * onto to HEAD, exported back into patches/<source>/<new base>/ (quilt
 * refresh, gbp pq export). A commit whose change and message are the same as
 * its original patch's keeps the original file's bytes; the others are
 * written by `git format-patch` with fixed options, so exporting twice gives
 * the same bytes. Author, date and message (with its Upstream-Status line)
 * come from the commit, which `git am` took from the original patch.
 */

export interface RefreshedPatch {
  name: string;
  outcome: 'unchanged' | 'refreshed' | 'new';
  moves: { from: string; to: string }[];
}

export interface RefreshResult {
  /** patches/<source>/<base>/, relative to the project. */
  shownDir: string;
  base: string;
  patches: RefreshedPatch[];
  /** Patches of the original series that are not in the new one, and why (with the settings upstream has under another key). */
  dropped: { name: string; reason: string; settings?: SettingMove[] }[];
}

export async function refreshSeries(
  deps: { git: Git; plumbing: GitPlumbing; project: Project },
  workspace: RebaseWorkspace,
  state: RebaseState,
  options: { force?: boolean; refreshCommand?: string } = {},
): Promise<RefreshResult> {
  const { git, plumbing, project } = deps;
  const progress = await plumbing.amProgress(workspace.dir);
  if (progress) {
    const conflicted = await plumbing.conflicted(workspace.dir);
    throw new StepError(
      'refresh',
      `The rebase in ${workspace.dir} is still stopped at patch ${progress.next} of ${progress.last}`,
      {
        hint: conflicted.length
          ? `Resolve ${conflicted.map((c) => c.path).join(', ')}, \`git add\` ${conflicted.length === 1 ? 'it' : 'them'} and run \`git am --continue\` there, then refresh again.`
          : 'Finish it there with `git am --continue` (or `git am --skip` to drop that patch), then refresh again.',
      },
    );
  }
  const dirty = await git.status(workspace.dir);
  if (dirty.length) {
    throw new StepError(
      'refresh',
      `${workspace.dir} has changes that are not committed:\n${dirty.slice(0, 10).join('\n')}`,
      {
        hint: 'Commit them (git commit --amend to fold them into the last patch) or discard them, then refresh again.',
      },
    );
  }

  const original = await project.readSeries(state.source, state.from.base).then(
    (s) => s.patches,
    () => [] as Patch[],
  );
  const byName = new Map(original.map((p) => [p.name, p]));
  const unclaimed = state.patches.filter((p) => !p.dropped);
  // In the style of the original series: its blob-id length, numbered "[PATCH n/m]" or not.
  const style = {
    abbrev: /^index ([0-9a-f]+)\.\./m.exec(original[0]?.content ?? '')?.[1]?.length ?? 12,
    numbered: /^Subject: \[PATCH \d+\/\d+\]/m.test(original[0]?.content ?? ''),
  };
  const written: { name: string; content: string }[] = [];
  const patches: RefreshedPatch[] = [];
  let number = Math.max(0, ...state.patches.map((p) => Number(/^\d+/.exec(p.name)?.[0] ?? 0)));
  for (const exported of await plumbing.formatPatches(workspace.dir, state.onto.commit, style)) {
    const subject = normalize(parseFormatPatch(exported).subject);
    // Commits match their original patch by subject, in order; a commit with a new subject is a new patch.
    const at = unclaimed.findIndex((p) => normalize(p.subject) === subject);
    const planned = at >= 0 ? unclaimed.splice(at, 1)[0] : undefined;
    const before = planned && byName.get(planned.name);
    if (planned && before && sameChange(before.content, exported)) {
      written.push({ name: planned.name, content: before.content });
      patches.push({ name: planned.name, outcome: 'unchanged', moves: planned.moves });
    } else {
      const name = planned?.name ?? `${String(++number).padStart(4, '0')}-${slug(subject)}.patch`;
      written.push({ name, content: exported });
      patches.push({ name, outcome: planned ? 'refreshed' : 'new', moves: planned?.moves ?? [] });
    }
  }
  const dropped = [
    ...state.patches
      .filter((p) => p.dropped)
      .map((p) => ({ name: p.name, reason: p.dropped!, ...(p.settings ? { settings: p.settings } : {}) })),
    ...unclaimed.map((p) => ({
      name: p.name,
      reason: 'no commit in the rebase workspace has its subject (skipped or squashed during git am)',
    })),
  ];
  if (!options.force) await refuseToOverwrite(project, state, written, options.refreshCommand ?? 'bro patches refresh');
  const dir = await project.writeSeries(state.source, state.newBase, written);
  return { shownDir: project.display(dir), base: state.newBase, patches, dropped };
}

/**
 * The series directory is overwritten only when it is as bro last wrote it, or already holds what
 * is about to be written: a comment added to `series`, a `Subject:` edited by hand, is the user's
 * work, and git may not have it yet.
 */
async function refuseToOverwrite(
  project: Project,
  state: RebaseState,
  written: readonly { name: string; content: string }[],
  refreshCommand: string,
): Promise<void> {
  const files = await project.readSeriesFiles(state.source, state.newBase);
  if (!files || Object.keys(files).length === 0 || asWritten(files) === true) return;
  const list = written.map((p) => `${p.name}\n`).join('');
  const changed = Object.keys(files)
    .filter((name) =>
      name === 'series'
        ? withoutRecord(files.series ?? '') !== list
        : files[name] !== written.find((p) => p.name === name)?.content,
    )
    .sort();
  if (!changed.length) return;
  const shown = project.display(join(project.root, 'patches', state.source, state.newBase));
  throw new ConfigError(
    `${shown}/`,
    `${asWritten(files) === 'no-record' ? 'was not written by bro patches refresh' : 'was edited since bro patches refresh wrote it'}, and refreshing would overwrite ${changed.join(', ')}`,
    {
      hint: `Keep the edits: make them in the rebase workspace (a comment in series cannot be kept: bro writes series), or copy them away. Then \`${refreshCommand} --force\` overwrites the directory.`,
    },
  );
}

const normalize = (subject: string) => subject.replace(/\s+/g, ' ').trim();

/** The same diff and the same message: the original's bytes can stay. */
function sameChange(a: string, b: string): boolean {
  const pa = parseFormatPatch(a);
  const pb = parseFormatPatch(b);
  return (
    diffPart(a) === diffPart(b) &&
    pa.subject === pb.subject &&
    pa.body === pb.body &&
    pa.from === pb.from &&
    pa.date === pb.date
  );
}

function diffPart(text: string): string {
  const start = text.search(/^diff --git /m);
  const body = start < 0 ? '' : text.slice(start);
  const signature = body.search(/^-- $/m);
  return (signature < 0 ? body : body.slice(0, signature)).trimEnd();
}

/** git format-patch's file name for a subject: runs of other characters become "-", at most 52 characters. */
export function slug(subject: string): string {
  return (
    subject
      .replace(/[^A-Za-z0-9._]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 52)
      .replace(/[-.]+$/, '') || 'patch'
  );
}
