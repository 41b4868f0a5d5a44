import type { GeneratedChange } from './set-admin-source.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Git } from '../../adapters/git.js';
import type { Project } from '../../adapters/project.js';
import { chooseSeriesBase, SOURCES, type Series, type SourceName } from '../../config/series.js';
import type { ResolvedSource } from '../context.js';
import { InterruptedError, PatchError } from '../../shared/errors.js';
import { adminImageTag } from '../naming.js';
import { expectedLines, parseFormatPatch } from '../../config/patch-file.js';
import { z } from 'zod';
import { defineStep, type StepOutputs } from '../step.js';
import { checkDone, stepRecord } from '../state.js';
import { setAdminSource } from './set-admin-source.js';

/**
 * Patch: the series applied as one commit per patch on top of the pinned
 * commit, then bro's generated commits. The tree is clean afterwards: upstream
 * derives the build id from `git describe --dirty`. On failure the checkout is
 * restored to the pin (unless --keep-failed) and the error names the patch,
 * the file, the hunk and the lines it expected.
 */

export async function selectSeries(
  project: Project,
  source: SourceName,
  version: string,
  warn: (message: string) => void,
): Promise<Series | undefined> {
  const choice = chooseSeriesBase(source, await project.listSeriesBases(source), version);
  if (!choice) return undefined;
  if (choice.warning) warn(choice.warning);
  return project.readSeries(source, choice.base);
}

/** A fixed date for generated commits, so their hashes are stable across reruns. */
const GENERATED_DATE = '2000-01-01T00:00:00Z';

export interface ApplyOptions {
  keepFailed: boolean;
}

/**
 * Resets the checkout to the pin and applies the series and generated changes. Returns the new HEAD.
 * A failure leaves the checkout as it is: the caller's rollback restores it (or, with --keep-failed,
 * leaves the conflict for hand resolution).
 */
export async function applySeries(
  git: Git,
  source: ResolvedSource,
  series: Series | undefined,
  generated: readonly GeneratedChange[],
  options: ApplyOptions,
): Promise<string> {
  await git.resetTo(source.dir, source.commit);
  let applying: string | undefined;
  try {
    for (const patch of series?.patches ?? []) {
      applying = patch.name;
      try {
        await git.am(source.dir, [patch.path]);
      } catch (error) {
        if (error instanceof InterruptedError) throw error;
        const diagnosis = await diagnose(git, source.dir, patch.path);
        await git.amAbort(source.dir);
        if (options.keepFailed) {
          // Leave the conflict in place for hand resolution: a three-way am writes conflict markers.
          await git.am(source.dir, [patch.path], { threeWay: true }).catch(() => undefined);
        }
        throw new PatchError(
          patch.name,
          `${series?.source} patch ${patch.name} does not apply to ${source.ref} (${source.commit.slice(0, 12)}):\n${diagnosis}`,
          {
            cause: error,
            hint: options.keepFailed
              ? `The conflict is left in ${source.dir}: resolve it and \`git am --continue\` to try the fix (the next bro build refuses to discard it; --discard-changes does). To make it part of the series, run \`bro patches rebase --source ${source.name} --onto ${source.ref}\`, resolve there, then \`bro patches refresh\`.`
              : `Run \`bro patches check --source ${series?.source}\` to see every patch's status, or rerun with --keep-failed to resolve by hand.`,
          },
        );
      }
    }
    applying = undefined;
    for (const change of generated) {
      applying = change.message.split('\n')[0];
      await change.apply(source.dir);
      await git.commitAll(source.dir, change.message, GENERATED_DATE);
    }
  } catch (error) {
    if (error instanceof PatchError || error instanceof InterruptedError) throw error;
    throw new PatchError(applying ?? '(series)', `Applying ${applying} failed`, { cause: error });
  }
  const dirty = await git.status(source.dir);
  if (dirty.length) {
    throw new PatchError(
      '(series)',
      `The ${source.name} tree is dirty after patching:\n${dirty.slice(0, 10).join('\n')}`,
      {
        hint: 'A dirty tree changes the build id (git describe --dirty). Check that no patch leaves untracked files.',
      },
    );
  }
  return git.head(source.dir);
}

/**
 * Explains why a patch does not apply: git's own words, plus the hunk's
 * expected lines and what the file has there now.
 */
export async function diagnose(git: Git, dir: string, patchPath: string): Promise<string> {
  const { output } = await git.applyCheck(dir, patchPath);
  const parsed = parseFormatPatch(await readFile(patchPath, 'utf8'));
  const failed = /error: patch failed: (.+):(\d+)/.exec(output);
  const missing = /error: (.+?): (?:No such file or directory|does not exist in index)/.exec(output);
  if (failed) {
    const [, file = '', lineText = '0'] = failed;
    const line = Number(lineText);
    const filePatch = parsed.files.find((f) => f.oldPath === file);
    const index = filePatch?.hunks.findIndex((h) => h.oldStart === line) ?? -1;
    const hunk = index >= 0 ? filePatch?.hunks[index] : undefined;
    const lines = [`  file ${file}, hunk ${index + 1} of ${filePatch?.hunks.length ?? '?'} (at line ${line})`];
    if (hunk) {
      lines.push('  expected:', ...expectedLines(hunk).map((l) => `    | ${l}`));
      const actual = await readFile(join(dir, file), 'utf8').then(
        (t) => t.split('\n').slice(Math.max(0, line - 1), Math.max(0, line - 1) + hunk.oldLines),
        () => [] as string[],
      );
      lines.push(`  found at line ${line}:`, ...actual.map((l) => `    | ${l}`));
    }
    return lines.join('\n');
  }
  if (missing) return `  file ${missing[1]} does not exist in the tree`;
  return output
    .split('\n')
    .filter((l) => l.startsWith('error'))
    .map((l) => `  ${l}`)
    .join('\n');
}

/** What resetting the checkout would destroy that bro did not make. */
export interface UserWork {
  /** A `git am` stopped at a conflict (--keep-failed). */
  amStopped: boolean;
  /** `git status --porcelain` lines: changed and untracked files (ignored ones, build caches, are not the user's work). */
  changed: string[];
  /** Commits that neither upstream nor bro made, oldest first, and that are not in the series. */
  commits: { sha: string; subject: string }[];
}

const hasWork = (work: UserWork) => work.amStopped || work.changed.length > 0 || work.commits.length > 0;

/**
 * The user's work in a checkout. A commit whose change is a patch the series lists (the user
 * committed a fix and put it into the series with `git format-patch`) is not at risk: the series
 * applies it again.
 */
export async function userWork(git: Git, source: ResolvedSource, series: Series | undefined): Promise<UserWork> {
  const amStopped = await git.amInProgress(source.dir);
  const changed = await git.status(source.dir);
  let commits = await git.foreignCommits(source.dir, source.commit);
  if (commits.length && series?.patches.length) {
    const listed = new Set(
      (await git.patchIds(source.dir, series.patches.map((p) => p.content).join(''))).map((p) => p.patchId),
    );
    const mails = await git.formatCommits(
      source.dir,
      commits.map((c) => c.sha),
    );
    const inSeries = new Set(
      (await git.patchIds(source.dir, mails)).filter((p) => listed.has(p.patchId)).map((p) => p.commit),
    );
    commits = commits.filter((c) => !inSeries.has(c.sha));
  }
  return { amStopped, changed, commits };
}

/** The work as lines for a message, at most 20 files and 10 commits. */
function describeWork(work: UserWork): string[] {
  const lines: string[] = [];
  if (work.amStopped) lines.push('a `git am` stopped at a conflict (left by --keep-failed)');
  lines.push(
    ...work.changed
      .slice(0, 20)
      .map((line) => `changed: ${line.slice(3)}${line.startsWith('??') ? ' (untracked)' : ''}`),
  );
  if (work.changed.length > 20) lines.push(`… and ${work.changed.length - 20} more changed files`);
  lines.push(...work.commits.slice(0, 10).map((c) => `commit not made by bro: ${c.sha.slice(0, 12)} ${c.subject}`));
  if (work.commits.length > 10) lines.push(`… and ${work.commits.length - 10} more commits`);
  return lines;
}

/** The number `git format-patch --start-number` should give the next patch of a series. */
export const nextPatchNumber = (series: Series | undefined) =>
  Math.max(0, ...(series?.patches ?? []).map((p) => Number(p.name.slice(0, 4)))) + 1;

function refuseToDiscard(
  source: ResolvedSource,
  work: UserWork,
  seriesDir: string,
  series: Series | undefined,
): PatchError {
  const count = work.commits.length;
  const keep = count
    ? `commit the rest, then \`git -C ${source.dir} format-patch -${count} --start-number ${nextPatchNumber(series)} -o ${seriesDir}\` and list the new ${count === 1 ? 'file' : 'files'} at the end of its series file`
    : `commit it, \`git -C ${source.dir} format-patch -1 --start-number ${nextPatchNumber(series)} -o ${seriesDir}\` and list the new file at the end of its series file`;
  return new PatchError(
    '(series)',
    `${source.dir} has work that rerunning would discard:\n${describeWork(work)
      .map((w) => `  ${w}`)
      .join('\n')}`,
    {
      hint: `Keep it by making it part of the series (${keep}; or \`git am --continue\` a kept conflict, then \`bro patches rebase\`), or rerun with --discard-changes to throw it away (bro saves a copy first).`,
    },
  );
}

/**
 * Saves the work --discard-changes throws away as one patch file (the user's commits, then the
 * uncommitted changes as one more commit), before anything is discarded. Returns its path.
 */
async function saveDiscarded(
  git: Git,
  source: ResolvedSource,
  work: UserWork,
  dir: string,
): Promise<string | undefined> {
  const commits = await git.formatCommits(
    source.dir,
    work.commits.map((c) => c.sha),
  );
  const uncommitted = await git.snapshotWork(
    source.dir,
    `Work discarded by bro build --discard-changes in ${source.name}/`,
  );
  const mails = commits + uncommitted;
  if (!mails) return undefined;
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${source.name}.patch`);
  await writeFile(path, mails, { flag: 'wx' });
  return path;
}

/** The series base for the admin container: its VERSION without the `v`. */
const baseVersion = (version: string) => version.replace(/^v/, '');

/** What the patch of one source records (`patch:<source>`): the commit at the tip of the patched checkout. */
const PatchedSchema = z.object({ head: z.string() });

export const patchStep = defineStep({
  id: 'patch',
  title: 'Apply the patch series',
  external: false,
  needs: ['sources'],
  async run(ctx, input, task, { force }) {
    const { sources, adminVersion } = input.sources;
    const { git, project, warn } = ctx.adapters;
    const versions: Record<SourceName, string> = {
      bottlerocket: ctx.version.upstream,
      'admin-container': baseVersion(adminVersion),
    };
    const generated: Record<SourceName, GeneratedChange[]> = {
      bottlerocket: [setAdminSource(ctx.variant, adminImageTag(adminVersion, ctx.version))],
      'admin-container': [],
    };
    const out: StepOutputs['patch'] = {
      series: { bottlerocket: undefined, 'admin-container': undefined },
      patchedHeads: { bottlerocket: '', 'admin-container': '' },
    };
    const summary: string[] = [];
    for (const name of SOURCES) {
      const source = sources[name];
      const series = await selectSeries(project, name, versions[name], warn);
      out.series[name] = series;
      const id = `patch:${name}`;
      const started = new Date();
      const work = await userWork(git, source, series);
      if (hasWork(work)) {
        const seriesDir = series?.dir ?? join(project.root, 'patches', name, versions[name]);
        if (!ctx.options.discardChanges) throw refuseToDiscard(source, work, seriesDir, series);
        const saved = await saveDiscarded(git, source, work, join(ctx.workspace.root, '.bro', 'discarded'));
        warn(
          `--discard-changes: discarding in ${source.dir}:\n${describeWork(work)
            .map((w) => `  ${w}`)
            .join('\n')}${
            saved
              ? `\nSaved first as ${saved}; to get it back after the build: git -C ${source.dir} am --3way ${saved}`
              : '\n(Nothing to save: a stopped `git am` holds no change of its own.)'
          }`,
        );
      }
      const { digest, done } = await checkDone(ctx.state, id, {
        inputs: {
          commit: source.commit,
          series: series?.digest ?? null,
          generated: generated[name].map((g) => [g.message, g.inputs]),
        },
        outputs: PatchedSchema,
        force,
        // The checkout is still what the patch left: at that commit, clean.
        verify: async ({ head }) =>
          head === (await git.head(source.dir)) && (await git.status(source.dir)).length === 0,
      });
      let head: string;
      if (done) {
        head = done.outputs.head;
        summary.push(`${name}: up to date`);
      } else {
        task.output = `${name}: applying ${series?.patches.length ?? 0} patches`;
        // Until the series is whole, the run's rollback puts the checkout back at the pin.
        const release = ctx.rollback.add(
          `${name}/ reset to the pin, ${source.ref} (${source.commit.slice(0, 12)})`,
          () => git.resetTo(source.dir, source.commit),
        );
        try {
          head = await applySeries(git, source, series, generated[name], { keepFailed: ctx.options.keepFailed });
        } catch (error) {
          // --keep-failed: the conflict stays for hand resolution.
          if (error instanceof PatchError && ctx.options.keepFailed && (await git.amInProgress(source.dir))) release();
          throw error;
        }
        release();
        await ctx.state.put(id, stepRecord('done', digest, { head }, started));
        summary.push(
          `${name}: ${series?.patches.length ?? 0} patches${generated[name].length ? ` + ${generated[name].length} generated` : ''}`,
        );
      }
      out.patchedHeads[name] = head;
    }
    task.title = `Apply the patch series: ${summary.join(', ')}`;
    return out;
  },
});
