import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitPlumbing } from '../../adapters/git-plumbing.js';
import type { Git } from '../../adapters/git.js';
import { createByRename, exists } from '../../adapters/fs.js';
import type { Project } from '../../adapters/project.js';
import type { Series } from '../../config/series.js';
import { PatchError, StepError } from '../../shared/errors.js';
import { parseFormatPatch } from '../../config/patch-file.js';
import { checkSeries } from '../check/check-series.js';
import { short } from '../check/way-forward.js';
import type { Advice, PatchResult, Target } from '../check/check-report.js';
import { refreshSeries, type RefreshResult } from './refresh.js';
import {
  REBASE_STATE_VERSION,
  writeRebaseState,
  type RebaseState,
  type RebaseWorkspace,
  type SettingMove,
} from './rebase-state.js';
import { rewritePaths } from '../rewrite-paths.js';

/**
 * Rebase: the newest series onto an upstream tag, in a git checkout of its
 * own (`<work>/rebase/<source>/`), with `git am --3way`, one commit per patch.
 *  1. The check at that tag says which patches upstream already has, as
 *     they are or in its own form with the advice to drop them (left out:
 *     `git am --3way` would stop on them, apply nothing, or give the node a
 *     second copy of what upstream gives), and which files upstream renamed
 *     (the patch is pointed at the new path).
 *     Checking in the workspace's own repository also stores the blobs of the
 *     series applied at its base, which a three-way merge of any patch after
 *     the first one touching a file needs.
 *  2. `git am --3way` of the rest. When it goes through, the commits are
 *     exported (refresh.ts) into patches/<source>/<new base>/.
 *  3. When a patch conflicts, the checkout is left at the conflict and the
 *     error says exactly what to run; `bro patches refresh` exports the
 *     result once `git am` has finished.
 */

export interface RebaseInput {
  series: Series;
  /** The upstream mirror. */
  mirror: string;
  base: Target;
  onto: Target;
  newBase: string;
  workspace: RebaseWorkspace;
  /** Discard a rebase that is stopped at a conflict in the workspace. */
  restart: boolean;
  /** The command that refreshes this rebase, for the instructions. */
  refreshCommand: string;
}

export async function rebaseSeries(
  deps: { git: Git; plumbing: GitPlumbing; project: Project },
  input: RebaseInput,
): Promise<RefreshResult> {
  const { git, plumbing } = deps;
  const { workspace, onto, series } = input;
  await ensureCheckout(git, input.mirror, workspace.dir);
  const stopped = await plumbing.amProgress(workspace.dir);
  if (stopped && !input.restart) {
    throw new StepError(
      'rebase',
      `A rebase is stopped at patch ${stopped.next} of ${stopped.last} in ${workspace.dir}`,
      {
        hint: `Finish it (git am --continue there, then \`${input.refreshCommand}\`), or pass --restart to throw it away and start again.`,
      },
    );
  }

  const report = await checkSeries(plumbing, {
    source: series.source,
    url: input.mirror,
    gitDir: join(workspace.dir, '.git'),
    objects: 'repository',
    series,
    base: input.base,
    targets: [onto],
  });
  const verdicts = report.tags[0]?.patches ?? [];
  const advice = report.advice ?? [];
  if (!(await git.hasCommit(join(workspace.dir, '.git'), onto.commit)))
    await git.fetchCommit(workspace.dir, input.mirror, onto.commit);
  await git.resetTo(workspace.dir, onto.commit);

  const state: RebaseState = {
    schemaVersion: REBASE_STATE_VERSION,
    kind: 'bro.patches.rebase',
    source: series.source,
    from: { base: series.base, commit: input.base.commit },
    onto: { ref: onto.tag, commit: onto.commit },
    newBase: input.newBase,
    patches: series.patches.map((patch, i) => ({
      name: patch.name,
      subject: parseFormatPatch(patch.content).subject,
      moves: verdicts[i]?.moves ?? [],
      ...leftOut(verdicts[i], advice[i], onto.tag),
    })),
  };
  await rm(workspace.amDir, { recursive: true, force: true });
  await mkdir(workspace.amDir, { recursive: true });
  const files: string[] = [];
  for (const [i, patch] of series.patches.entries()) {
    const planned = state.patches[i]!;
    if (planned.dropped) continue;
    const file = join(workspace.amDir, patch.name);
    await writeFile(file, rewritePaths(patch.content, new Map(planned.moves.map((m) => [m.from, m.to]))));
    files.push(file);
  }
  await writeRebaseState(workspace, state);

  try {
    if (files.length) await git.am(workspace.dir, files, { threeWay: true });
  } catch (error) {
    if (!(await replayResolutions(git, plumbing, workspace.dir))) {
      throw await stoppedAt(
        plumbing,
        input,
        files,
        state.patches.filter((p) => p.dropped),
        error,
      );
    }
  }
  return refreshSeries(deps, workspace, state, { refreshCommand: input.refreshCommand });
}

/**
 * When rerere is on in the checkout and its recorded resolutions resolved
 * every conflict of the stopped patch (nothing left unmerged, the change
 * staged), `git am --continue`, as often as that holds. True when the whole
 * series went in; false when a patch still needs a person.
 */
async function replayResolutions(git: Git, plumbing: GitPlumbing, dir: string): Promise<boolean> {
  for (;;) {
    if (!(await plumbing.amProgress(dir))) return false;
    if ((await plumbing.conflicted(dir)).length || !(await git.hasStagedChanges(dir))) return false;
    if (await git.amContinue(dir)) return true;
  }
}

/** The error for a `git am` that stopped: which patch, which files, and what to run. */
async function stoppedAt(
  plumbing: GitPlumbing,
  input: RebaseInput,
  files: readonly string[],
  dropped: RebaseState['patches'],
  error: unknown,
): Promise<Error> {
  const progress = await plumbing.amProgress(input.workspace.dir);
  if (!progress) return error instanceof Error ? error : new Error(String(error));
  const file = files[progress.next - 1] ?? '';
  const name = file.slice(file.lastIndexOf('/') + 1);
  // git am numbers the patches it was given from 0001; the series' own number is the patch's.
  const number = /^(\d{4})-/.exec(name)?.[1];
  const cause =
    number && error instanceof Error
      ? Object.assign(new Error(error.message.replace(/Patch failed at \d{4}\b/g, `Patch failed at ${number}`)), {
          cause: error.cause,
        })
      : error;
  const { dir } = input.workspace;
  const conflicted = await plumbing.conflicted(dir);
  const deleted = conflicted.filter((c) => c.deletedByHead).map((c) => c.path);
  const marked = conflicted.filter((c) => !c.deletedByHead).map((c) => c.path);
  const what: string[] = [];
  const steps = [`  cd ${dir}`];
  if (marked.length) {
    what.push(`conflict in ${marked.join(', ')}`);
    steps.push(
      `  # edit the conflict markers (<<<<<<< … >>>>>>>) out of: ${marked.join(' ')}`,
      `  git add ${marked.join(' ')}`,
    );
  }
  if (deleted.length) {
    what.push(`${input.onto.tag} deleted ${deleted.join(', ')}, which it changes`);
    steps.push(`  git rm ${deleted.join(' ')}    # leave it deleted; or \`git add\` it to keep the patch's version`);
  }
  if (!conflicted.length) {
    what.push('it does not apply even with a three-way merge');
    steps.push(
      '  git am --show-current-patch=diff     # the change to make by hand',
      '  # make it, then `git add` the files you changed',
    );
  }
  steps.push(
    '  git am --continue          # or `git am --skip` to drop the patch',
    '  # repeat for any later patch that stops (`git am --abort` gives up)',
    `  ${input.refreshCommand}`,
  );
  return new PatchError(
    name,
    `${name} does not apply to ${input.onto.tag}: ${what.join('; ')}.\nThe rebase stopped at ${number ?? `patch ${progress.next}`} (the ${ordinal(progress.next)} of the ${progress.last} patches git am applies), in ${dir}.` +
      `${dropped.length ? ` Left out: ${dropped.map((d) => `${d.name} (${d.dropped})`).join('; ')}.` : ''} To finish it:\n${steps.join('\n')}`,
    {
      cause,
      hint: `The last command writes patches/${input.series.source}/${input.newBase}/ from the finished rebase.`,
    },
  );
}

/**
 * Whether a patch is left out at the tag, and why: upstream has the change
 * itself (`upstreamed`), or has all of it in its own form and the check
 * advises dropping it (`replaced`). The settings such a patch added that
 * upstream has under another key are kept with it, for migrating user data.
 * A patch upstream has only part of (advice `port`) is carried.
 */
function leftOut(
  verdict: PatchResult | undefined,
  advice: Advice | undefined,
  tag: string,
): { dropped?: string; settings?: SettingMove[] } {
  if (verdict?.status === 'upstreamed') return { dropped: `already upstream in ${tag}` };
  if (verdict?.status !== 'replaced' || advice?.kind !== 'drop') return {};
  const parts = (advice.parts ?? []).filter((p) => p.upstream);
  const settings = parts.flatMap((p): SettingMove[] => {
    const from = p.ours.replace(/^`|`$/g, '');
    const to = p.upstream!.key;
    if (p.kind !== 'setting' || !to || to === from) return [];
    const fields = (p.upstream!.mapping ?? []).flatMap((m) =>
      m.upstream && m.upstream !== m.ours ? [[m.ours, m.upstream] as const] : [],
    );
    return [{ from, to, fields: Object.fromEntries(fields) }];
  });
  const mapped = (m: SettingMove) =>
    `\`${m.from}\` → \`${m.to}\`${
      Object.keys(m.fields).length
        ? ` (${Object.entries(m.fields)
            .map(([a, b]) => `${a} → ${b}`)
            .join(', ')})`
        : ''
    }`;
  const others = parts.filter((p) => !(p.kind === 'setting' && settings.some((m) => m.to === p.upstream!.key)));
  const forms = [...settings.map(mapped), ...new Set(others.map(short))];
  return {
    dropped: `upstream has it in another form in ${tag}${forms.length ? `: ${forms.join(', ')}` : ''}`,
    ...(settings.length ? { settings } : {}),
  };
}

const ordinal = (n: number) =>
  `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th')}`;

/** A checkout of the mirror at `dir`, cloned on first use (sharing the mirror's objects) beside it and renamed into place. */
export async function ensureCheckout(git: Git, mirror: string, dir: string): Promise<void> {
  if (!(await exists(join(dir, '.git')))) await createByRename(dir, (tmp) => git.cloneShared(mirror, tmp));
}
