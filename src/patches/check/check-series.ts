import type { GitPlumbing, History, Scratch } from '../../adapters/git-plumbing.js';
import { settled } from '../../shared/concurrency.js';
import type { Series, SourceName } from '../../config/series.js';
import { CHECK_SCHEMA_VERSION, tagOk, type CheckReport } from './check-report.js';
import { openFileBatch, type FileInput } from './apply-files.js';
import { checkPatchAtTags } from './check-patch.js';
import { type Target } from './check-report.js';
import { patchDependencies, prepareSeries, startTag, type Backports } from './check-tag.js';
import { toSeriesPatch, type SeriesPatch } from '../load-series.js';
import { addedSettings, findUpstreamSettings, type UpstreamSetting } from './find-upstream-settings.js';
import { readTagTrees, type TagTree } from './read-tag-trees.js';
import { recommend, type SettingsFound } from './recommend.js';

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
    // At its own base the series must apply cleanly. Applying it there also writes the blobs that
    // each patch's `index` line names, which a three-way merge of any patch after the first needs.
    const all = [input.base, ...input.targets];
    // The commits since the base are enough to tell which tags have a commit made after the base (a backport's, a
    // rename's); for one the base already reaches, the whole history is read.
    let history: Promise<History> | undefined;
    let whole: Promise<History> | undefined;
    const historyOf = () => (history ??= scratch.history(all.map((t) => t.commit), { except: input.base.commit }));
    const wholeHistory = () => (whole ??= scratch.history(all.map((t) => t.commit)));
    const [trees, { backports, warnings }] = await settled([readTagTrees(scratch, series, input.base.commit, all, historyOf), findBackports(scratch, input, patches, all, historyOf, wholeHistory)] as const);
    // A tag given twice (--tags v1.0.5,v1.0.5) is checked once.
    const states = new Map(all.map((t) => [`${t.tag}\0${t.commit}`, startTag(t, trees.get(t.commit)!, backports)]));
    const blobs = scratch.blobs();
    // Patches on files no earlier patch touches are checked at the same time as those.
    const tools = { open: (inputs: FileInput[]) => openFileBatch(scratch, inputs), blobs };
    const waitFor = patchDependencies(series, [...trees.values()].map((t) => t.renames));
    const done: Promise<void>[] = [];
    for (const [i, patch] of patches.entries()) {
      // What a patch makes is kept for the patches that build on it (and whose three-way merges need its blobs).
      const keep = input.objects === 'repository' || waitFor.some((deps) => deps.includes(i));
      done[i] = settled(waitFor[i]!.map((j) => done[j]!)).then(() => checkPatchAtTags(patch, i, [...states.values()], tools, keep));
    }
    // Upstream's settings are looked for while git applies the patches: they need only the tags' files.
    const looking = settingsUpstream(patches, all, trees, (blob) => blobs.read(blob));
    const [settings] = await settled([looking, settled(done)] as const);
    const result = (t: Target) => {
      const state = states.get(`${t.tag}\0${t.commit}`)!;
      return { tag: t.tag, commit: t.commit, ok: tagOk(state.results), patches: state.results };
    };
    const atBase = result(input.base);
    warnings.push(
      ...atBase.patches
        .filter((p) => p.status !== 'clean')
        .map((p) => `${p.patch} is ${p.status}, not clean, at its own base ${input.base.tag}: regenerate it (bro patches rebase --onto ${input.base.tag}) before trusting the results.`),
    );
    const tags = input.targets.map(result);
    return {
      schemaVersion: CHECK_SCHEMA_VERSION,
      kind: 'bro.patches.check',
      source: input.source,
      url: input.url,
      series: { base: input.series.base, baseCommit: input.base.commit, digest: input.series.digest, patches: patches.map((p) => p.name) },
      tags,
      ok: tags.every((t) => t.ok),
      warnings,
      advice: recommend(patches.map((p) => p.name), tags, settings),
    };
  } finally {
    await scratch.dispose();
  }
}

/** For each patch that adds settings to upstream's model: which of them upstream's own model gained since the base, and at which tag. */
async function settingsUpstream(patches: readonly SeriesPatch[], tags: readonly Target[], trees: ReadonlyMap<string, TagTree>, read: (blob: string) => Promise<string | undefined>): Promise<SettingsFound> {
  const found = new Map<string, { found: UpstreamSetting[]; notFound: string[] }>();
  const files = tags.map((t) => ({ tag: t.tag, files: new Map([...trees.get(t.commit)!.entries].map(([path, entry]) => [path, entry.split(' ')[2]!])) }));
  for (const patch of patches) {
    const added = addedSettings(patch);
    if (!added.length) continue;
    // Upstream's model at the base (the first of `tags`) having a field means the patch does not add it.
    const at = await findUpstreamSettings(added, files, read);
    const already = new Set(at.filter((s) => s.tag === tags[0]?.tag).map((s) => s.field));
    found.set(patch.name, {
      found: at.filter((s) => !already.has(s.field)),
      notFound: added.filter((a) => !already.has(a.field) && !at.some((s) => s.field === a.field)).map((a) => a.field),
    });
  }
  return found;
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
    if (commit) backports.set(name, { commit: backport!, in: history.containing(commit, commits) ?? (await wholeHistory()).containing(commit, commits)! });
    else warnings.push(`${name} says it backports upstream commit ${backport}, which ${input.url} does not have: it is checked by its content only.`);
  }
  return { backports: backports as Backports, warnings };
}
