import type { GitPlumbing, History, Scratch } from '../../adapters/git-plumbing.js';
import { settled } from '../../shared/concurrency.js';
import type { Series, SourceName } from '../../config/series.js';
import { CHECK_SCHEMA_VERSION, PASSING, tagOk, type CheckReport } from './check-report.js';
import { openFileBatch, type FileInput } from './apply-files.js';
import { checkPatchAtTags } from './check-patch.js';
import { type Target } from './check-report.js';
import { patchDependencies, prepareSeries, startTag, type Backports } from './check-tag.js';
import { toSeriesPatch, type SeriesPatch } from '../load-series.js';
import { findEquivalents, type TagFiles } from './find-equivalents.js';
import { patchParts, type Part } from './patch-parts.js';
import { readTagTrees } from './read-tag-trees.js';
import { recommend } from './recommend.js';
import { markReplaced } from './mark-replaced.js';
import { findWayForward, variantPaths } from './way-forward.js';

export interface CheckSeriesInput {
  source: SourceName;
  /** For the report; already free of credentials. */
  url: string;
  /** The repository: a bare mirror, or the rebase workspace's .git. */
  gitDir: string;
  /** Where the blobs that applying patches makes go (default: a scratch directory, thrown away). */
  objects?: 'scratch' | 'repository';
  series: Series;
  base: Target;
  targets: readonly Target[];
  /** The variant the project builds from this source (bottlerocket): the report says up to which tag upstream ships it. */
  variant?: string;
}

/**
 * The series against every target tag, patch by patch: each patch is checked
 * at every tag at once (check-patch.ts), so the git processes it takes do not
 * grow with the number of tags; what differs between tags is only the input
 * of those processes. The trees come from a few git processes for all tags
 * (read-tag-trees.ts), file contents from one long-lived `git cat-file --batch`.
 */
export async function checkSeries(plumbing: GitPlumbing, input: CheckSeriesInput): Promise<CheckReport> {
  const scratch = await plumbing.open(input.gitDir, { objects: input.objects ?? 'scratch' });
  try {
    const series = prepareSeries(input.series.patches.map((p) => toSeriesPatch(p.name, p.content)));
    const { patches } = series;
    const parts = patches.map(patchParts);
    // At its own base the series must apply cleanly. Applying it there also writes the blobs that
    // each patch's `index` line names, which a three-way merge of any patch after the first needs.
    const all = [input.base, ...input.targets];
    // The commits since the base are enough to tell which tags have a commit made after the base (a backport's, a
    // rename's); for one the base already reaches, the whole history is read.
    let history: Promise<History> | undefined;
    let whole: Promise<History> | undefined;
    const historyOf = () =>
      (history ??= scratch.history(
        all.map((t) => t.commit),
        { except: input.base.commit },
      ));
    const wholeHistory = () => (whole ??= scratch.history(all.map((t) => t.commit)));
    // Beside the files the series touches: the directories where upstream may have what a patch gives in its own form.
    const around = [...contextPaths(parts), ...(input.variant ? variantPaths(input.variant) : [])];
    const [trees, { backports, warnings }] = await settled([
      readTagTrees(
        scratch,
        { paths: [...series.paths, ...around], reads: series.reads },
        input.base.commit,
        all,
        historyOf,
      ),
      findBackports(scratch, input, patches, all, historyOf, wholeHistory),
    ] as const);
    // A tag given twice (--tags v1.0.5,v1.0.5) is checked once.
    const states = new Map(all.map((t) => [`${t.tag}\0${t.commit}`, startTag(t, trees.get(t.commit)!, backports)]));
    const blobs = scratch.blobs();
    // Patches on files no earlier patch touches are checked at the same time as those.
    const tools = { open: (inputs: FileInput[]) => openFileBatch(scratch, inputs), blobs };
    const waitFor = patchDependencies(
      series,
      [...trees.values()].map((t) => t.renames),
    );
    const done: Promise<void>[] = [];
    for (const [i, patch] of patches.entries()) {
      // What a patch makes is kept for the patches that build on it (and whose three-way merges need its blobs).
      const keep = input.objects === 'repository' || waitFor.some((deps) => deps.includes(i));
      done[i] = settled(waitFor[i]!.map((j) => done[j]!)).then(() =>
        checkPatchAtTags(patch, i, [...states.values()], tools, keep),
      );
    }
    // Upstream's own forms of what the patches give are looked for while git applies them: they need only the tags' files.
    const files: TagFiles[] = all.map((t) => ({
      tag: t.tag,
      files: new Map([...trees.get(t.commit)!.entries].map(([path, entry]) => [path, entry.split(' ')[2]!])),
    }));
    const read = (blob: string) => blobs.read(blob);
    const looking = findEquivalents(parts, files, read);
    const [equivalents] = await settled([looking, settled(done)] as const);
    const result = (t: Target) => {
      const state = states.get(`${t.tag}\0${t.commit}`)!;
      return { tag: t.tag, commit: t.commit, ok: tagOk(state.results), patches: state.results };
    };
    const atBase = result(input.base);
    const broken = atBase.patches.filter((p) => !PASSING.has(p.status));
    warnings.push(
      ...broken.map(
        (p) =>
          `${p.patch} is ${p.status} at its own base ${input.base.tag}: the series does not apply there as it is. Regenerate it (bro patches rebase --onto ${input.base.tag}) before trusting the results.`,
      ),
    );
    const tags = markReplaced(input.targets.map(result), equivalents);
    const report: CheckReport = {
      schemaVersion: CHECK_SCHEMA_VERSION,
      kind: 'bro.patches.check',
      source: input.source,
      url: input.url,
      series: {
        base: input.series.base,
        baseCommit: input.base.commit,
        digest: input.series.digest,
        patches: patches.map((p) => p.name),
      },
      tags,
      ok: tags.every((t) => t.ok),
      warnings,
      advice: recommend(
        patches.map((p) => p.name),
        tags,
        equivalents,
      ),
    };
    const forward =
      input.variant &&
      (await findWayForward({
        scratch,
        blobs,
        variant: input.variant,
        report,
        tree: (t) => trees.get(t.commit)!,
        baseTag: input.base.tag,
        baseShips: trees.get(input.base.commit)!.entries.has(variantPaths(input.variant)[0]!),
      }));
    return forward ? { ...report, forward } : report;
  } finally {
    await scratch.dispose();
  }
}

/** The directories upstream's own form of a part may be in: the template's directory, the helper's, the scripts beside sshd_config. */
function contextPaths(parts: readonly Part[][]): string[] {
  const dirs = parts
    .flat()
    .flatMap((p) =>
      p.kind === 'rendered'
        ? [p.file.slice(0, p.file.lastIndexOf('/'))]
        : p.kind === 'helper' || p.kind === 'sshd'
          ? [p.dir]
          : [],
    );
  return [...new Set(dirs)];
}

/** Which targets have in their history the upstream commit each backport patch names. */
async function findBackports(
  scratch: Scratch,
  input: CheckSeriesInput,
  patches: readonly SeriesPatch[],
  targets: readonly Target[],
  historyOf: () => Promise<History>,
  wholeHistory: () => Promise<History>,
) {
  const backports = new Map<string, { commit: string; in: ReadonlySet<string> }>();
  const warnings: string[] = [];
  const naming = patches.filter((p) => p.backport);
  if (!naming.length) return { backports: backports as Backports, warnings };
  const commits = targets.map((t) => t.commit);
  const [resolved, history] = await Promise.all([scratch.resolveCommits(naming.map((p) => p.backport!)), historyOf()]);
  for (const [i, { name, backport }] of naming.entries()) {
    const commit = resolved[i];
    if (commit)
      backports.set(name, {
        commit: backport!,
        in: history.containing(commit, commits) ?? (await wholeHistory()).containing(commit, commits)!,
      });
    else
      warnings.push(
        `${name} says it backports upstream commit ${backport}, which ${input.url} does not have: it is checked by its content only.`,
      );
  }
  return { backports: backports as Backports, warnings };
}
