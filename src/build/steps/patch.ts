import type { GeneratedChange } from './set-admin-source.js';
import { readFile } from 'node:fs/promises';
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

/**
 * What resetting the checkout would destroy that bro did not make: changed or untracked files, a
 * `git am` stopped at a conflict (--keep-failed), commits that neither upstream nor bro made.
 * Ignored files (build caches) are not the user's work.
 */
export async function userWork(git: Git, source: ResolvedSource): Promise<string[]> {
  const found: string[] = [];
  if (await git.amInProgress(source.dir)) found.push('a `git am` stopped at a conflict (left by --keep-failed)');
  const changed = await git.status(source.dir);
  found.push(
    ...changed.slice(0, 20).map((line) => `changed: ${line.slice(3)}${line.startsWith('??') ? ' (untracked)' : ''}`),
  );
  if (changed.length > 20) found.push(`… and ${changed.length - 20} more changed files`);
  const commits = await git.foreignCommits(source.dir, source.commit);
  found.push(...commits.slice(0, 10).map((c) => `commit not made by bro: ${c}`));
  if (commits.length > 10) found.push(`… and ${commits.length - 10} more commits`);
  return found;
}

function refuseToDiscard(source: ResolvedSource, work: readonly string[], base: string): PatchError {
  return new PatchError(
    '(series)',
    `${source.dir} has work that rerunning would discard:\n${work.map((w) => `  ${w}`).join('\n')}`,
    {
      hint: `Keep it by making it part of the series (commit it, \`git format-patch -1\` into patches/${source.name}/${base}/ and list it in its series file; or \`git am --continue\` a kept conflict, then \`bro patches rebase\`), or rerun with --discard-changes to throw it away.`,
    },
  );
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
      const work = await userWork(git, source);
      if (work.length && !ctx.options.discardChanges)
        throw refuseToDiscard(source, work, series?.base ?? versions[name]);
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
