import { availableParallelism } from 'node:os';
import type { GitPlumbing, Scratch } from '../adapters/git-plumbing.js';
import { mapLimit } from '../concurrency.js';
import type { Series, SourceName } from '../config/series.js';
import { CHECK_SCHEMA_VERSION, type CheckReport } from './check-report.js';
import { checkTag, prepareSeries, type Backports, type CheckMemo, type Target } from './check-tag.js';
import { toSeriesPatch, type SeriesPatch } from './load-series.js';
import { readTagTrees } from './read-tag-trees.js';

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
  /** Tags checked at once (default: one per CPU). */
  concurrency?: number;
}

/**
 * The series against every target tag. Tags are independent (each has its own
 * index), so they run concurrently, one per CPU: each tag is a short chain of
 * small git processes.
 */
export async function checkSeries(plumbing: GitPlumbing, input: CheckSeriesInput): Promise<CheckReport> {
  const scratch = await plumbing.open(input.gitDir, { objects: input.objects ?? 'scratch' });
  try {
    const series = prepareSeries(input.series.patches.map((p) => toSeriesPatch(p.name, p.content)));
    const { patches } = series;
    const memo: CheckMemo = new Map();
    // At its own base the series must apply cleanly. Applying it there also writes the blobs that
    // each patch's `index` line names, which a three-way merge of any patch after the first needs.
    const all = [input.base, ...input.targets];
    const trees = await readTagTrees(scratch, series, input.base.commit, all);
    const { backports, warnings } = await findBackports(scratch, input, patches, all);
    const check = (target: Target) => checkTag(scratch, series, trees.get(target.commit)!, target, memo, backports);
    const atBase = await check(input.base);
    warnings.push(
      ...atBase.patches
        .filter((p) => p.status !== 'clean')
        .map((p) => `${p.patch} is ${p.status}, not clean, at its own base ${input.base.tag}: regenerate it (bro patches rebase --onto ${input.base.tag}) before trusting the results.`),
    );
    const tags = await mapLimit(input.targets, input.concurrency ?? availableParallelism(), check);
    return {
      schemaVersion: CHECK_SCHEMA_VERSION,
      kind: 'bro.patches.check',
      source: input.source,
      url: input.url,
      series: { base: input.series.base, baseCommit: input.base.commit, digest: input.series.digest, patches: patches.map((p) => p.name) },
      tags,
      ok: tags.every((t) => t.ok),
      warnings,
    };
  } finally {
    await scratch.dispose();
  }
}

/** Which targets have in their history the upstream commit each backport patch names. */
async function findBackports(scratch: Scratch, input: CheckSeriesInput, patches: readonly SeriesPatch[], targets: readonly Target[]) {
  const backports = new Map<string, { commit: string; in: ReadonlySet<string> }>();
  const warnings: string[] = [];
  for (const { name, backport } of patches) {
    if (!backport) continue;
    const containing = await scratch.containing(backport, targets.map((t) => t.commit));
    if (containing) backports.set(name, { commit: backport, in: containing });
    else warnings.push(`${name} says it backports upstream commit ${backport}, which ${input.url} does not have: it is checked by its content only.`);
  }
  return { backports: backports as Backports, warnings };
}
