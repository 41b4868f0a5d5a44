import { join } from 'node:path';
import { createAdapters } from '../../adapters/index.js';
import { createRollback } from '../../adapters/rollback.js';
import { prepareDir } from '../../adapters/user-paths.js';
import { createGitPlumbing, type GitPlumbing } from '../../adapters/git-plumbing.js';
import { SOURCES, type SourceName } from '../../config/series.js';
import { ConfigError, ExitError, formatError, isBroError, UsageError } from '../../shared/errors.js';
import { throwFailure } from '../../shared/concurrency.js';
import type { Adapters } from '../../adapters/index.js';
import type { CommonOptions } from '../../build/index.js';
import type { Io } from '../io.js';
import type { CheckReport } from '../../patches/index.js';
import { checkSeries, planAt } from '../../patches/index.js';
import { formatCheckReports, type ReportFormat } from '../../patches/index.js';
import { loadNewestSeries } from '../../patches/index.js';
import { findBase, openUpstream, releaseTags, resolveRef, seriesBaseFor } from '../../patches/index.js';
import { rebaseSeries } from '../../patches/index.js';
import { readRebaseState, rebaseWorkspace } from '../../patches/index.js';
import { refreshSeries, type RefreshResult } from '../../patches/index.js';
import { selectTags, type TagChoice } from '../../patches/index.js';

/** `bro patches check|rebase|refresh`: the commands' glue; the work is in src/patches/. */

export interface UpstreamCommandOptions extends CommonOptions {
  source: SourceName;
  /** The series to use, by its base (default: the newest). */
  series?: string;
  variant?: string;
  base?: string;
  fetch: boolean;
}

export interface CheckOptions extends Omit<UpstreamCommandOptions, 'source'> {
  /** The sources to check: given with --source, else every source with a series. */
  sources: readonly SourceName[] | 'all';
  tags: TagChoice;
  format: ReportFormat;
  /** A check with no tag to check passes (else it is a usage error: a nightly job that checks nothing must not go green). */
  allowEmpty: boolean;
}

/**
 * The adapters for one command, under the run's one rollback: on SIGINT,
 * SIGTERM or SIGHUP the running git processes are stopped, no new one
 * starts, and the command unwinds through its cleanup (the scratch area is
 * removed) to exit 130.
 */
async function withTools<T>(
  options: CommonOptions,
  io: Io,
  work: (tools: { adapters: Adapters; plumbing: GitPlumbing }) => Promise<T>,
): Promise<T> {
  const adapters = createAdapters({ ...options, dryRun: false, env: io.env, stderr: io.stderr });
  await prepareDir({ option: '--cache-dir', from: options.cacheDirFrom ?? '--cache-dir' }, options.cacheDir);
  const rollback = createRollback();
  try {
    return await rollback.run(adapters.runner, () =>
      work({ adapters, plumbing: createGitPlumbing(adapters.runner, rollback.signal) }),
    );
  } finally {
    for (const warning of adapters.warnings) io.stderr.write(`! ${warning}\n`);
  }
}

/** The newest series of the source, its upstream (mirror up to date), and the commit it was written against. */
async function openSeries(
  { adapters, plumbing }: { adapters: Adapters; plumbing: GitPlumbing },
  options: UpstreamCommandOptions,
) {
  const series = await loadNewestSeries(adapters.project, options.source, options.series);
  const upstream = await openUpstream(adapters, plumbing, options.source, options);
  return { series, upstream, base: await findBase(adapters, upstream, series.base, options.base) };
}

/**
 * `bro patches check`: each source's series against its upstream's tags, the
 * sources at once. Every report that could be made is printed; the exit code
 * is the worst of them (2 for a source that could not be checked, 1 for a
 * series that needs work).
 */
export async function runCheck(options: CheckOptions, io: Io): Promise<void> {
  const { reports, failures } = await withTools(options, io, async (tools) => {
    const sources = options.sources === 'all' ? await sourcesWithSeries(tools.adapters, options) : options.sources;
    const settled = await Promise.allSettled(sources.map((source) => checkSource(tools, { ...options, source })));
    // A lone source fails as any command does; with several, the others' reports are still printed.
    throwFailure(
      settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : [])),
      (failed) => (sources.length === 1 ? failed[0] : undefined),
    );
    return {
      reports: settled.flatMap((s) => (s.status === 'fulfilled' ? [tools.adapters.redactor.redactValue(s.value)] : [])),
      failures: settled.flatMap((s, i) =>
        s.status === 'rejected'
          ? [
              {
                code: isBroError(s.reason) ? s.reason.exitCode : 1,
                text: tools.adapters.redactor.redact(`${sources[i]}: ${formatError(s.reason, options.debug)}`),
              },
            ]
          : [],
      ),
    };
  });
  admitForward(reports);
  if (reports.length) io.stdout.write(formatCheckReports(reports, options.format));
  for (const report of reports) for (const warning of report.warnings) io.stderr.write(`! ${warning}\n`);
  for (const { text } of failures) io.stderr.write(`${text}\n`);
  const codes = [...reports.map((r) => (r.ok ? 0 : 1)), ...failures.map((f) => f.code)];
  const worst = Math.max(0, ...codes);
  if (worst) throw new ExitError(worst);
}

/** The admin container's way forward: to the version Bottlerocket's way forward defaults to. */
function admitForward(reports: CheckReport[]): void {
  const bottlerocket = reports.find((r) => r.source === 'bottlerocket')?.forward;
  const admin = reports.findIndex((r) => r.source === 'admin-container');
  const tag = bottlerocket?.adminVersion && `v${bottlerocket.adminVersion}`;
  if (!tag || admin < 0 || !reports[admin]!.tags.some((t) => t.tag === tag)) return;
  reports[admin] = {
    ...reports[admin]!,
    forward: { ...planAt(reports[admin]!, tag, bottlerocket.command), defaultOf: bottlerocket.tag },
  };
}

/** The sources that have a series under patches/; a usage error for options that name one source's tags. */
async function sourcesWithSeries(adapters: Adapters, options: CheckOptions): Promise<SourceName[]> {
  const sources: SourceName[] = [];
  for (const source of SOURCES) if ((await adapters.project.listSeriesBases(source)).length) sources.push(source);
  if (!sources.length) {
    throw new ConfigError(
      adapters.project.display(join(adapters.project.root, 'patches')),
      'has no patch series for any source',
      {
        hint: 'Create patches/<source>/<upstream version>/series listing git format-patch files, e.g. patches/bottlerocket/1.0.4/series.',
      },
    );
  }
  const oneSource = [
    options.base !== undefined && '--base',
    options.series !== undefined && '--series',
    options.tags.kind === 'tags' && '--tags',
    options.tags.kind === 'since' && '--since',
  ].filter(Boolean);
  if (sources.length > 1 && oneSource.length) {
    throw new UsageError(
      `${oneSource.join(' and ')} name${oneSource.length === 1 ? 's' : ''} refs of one upstream, and ${sources.join(' and ')} both have a series`,
      {
        hint: `Add --source ${sources[0]} (or --source ${sources[1]}).`,
      },
    );
  }
  return sources;
}

async function checkSource(
  tools: { adapters: Adapters; plumbing: GitPlumbing },
  options: CheckOptions & { source: SourceName },
): Promise<CheckReport> {
  const { series, upstream, base } = await openSeries(tools, options);
  const targets = await selectTags(tools.adapters, upstream, series.base, options.tags);
  if (!targets.length && !options.allowEmpty) {
    const newest = releaseTags(upstream).at(-1)?.tag;
    const after = options.tags.kind === 'since' ? `--since ${options.tags.ref}` : `the series base ${series.base}`;
    throw new UsageError(
      `No ${options.source} tags to check: ${upstream.shownUrl} has no release tag newer than ${after}${newest ? ` (its newest is ${newest})` : ''}, and a check that checks nothing does not pass`,
      {
        hint: 'Pass an older --since or --tags, or --allow-empty to accept an empty check (exit 0).',
      },
    );
  }
  return checkSeries(tools.plumbing, {
    source: options.source,
    url: upstream.shownUrl,
    gitDir: upstream.mirror,
    series,
    base,
    targets,
    ...(options.source === 'bottlerocket' && upstream.variantName ? { variant: upstream.variantName } : {}),
  });
}

export interface RebaseOptions extends UpstreamCommandOptions {
  onto: string;
  restart: boolean;
}

export interface RefreshOptions extends CommonOptions {
  source: SourceName;
  /** Overwrite the series directory even where it differs from what bro last wrote. */
  force?: boolean;
}

const rebaseRoot = (options: CommonOptions) => options.workDir ?? join(options.projectDir, 'work');

/** How the user runs refresh for this project and work directory. */
function refreshCommand(options: CommonOptions & { source: SourceName }): string {
  const flags = [`--source ${options.source}`];
  if (options.workDir) flags.push(`--work-dir ${options.workDir}`);
  if (options.projectDir !== process.cwd()) flags.push(`--project-dir ${options.projectDir}`);
  return `bro patches refresh ${flags.join(' ')}`;
}

export async function runRebase(options: RebaseOptions, io: Io): Promise<void> {
  const result = await withTools(options, io, async (tools) => {
    const { adapters, plumbing } = tools;
    const { series, upstream, base } = await openSeries(tools, options);
    const onto = await resolveRef(adapters, upstream, options.onto, '--onto');
    return rebaseSeries(
      { git: adapters.git, plumbing, project: adapters.project },
      {
        series,
        mirror: upstream.mirror,
        base,
        onto,
        newBase: await seriesBaseFor(adapters, upstream, onto),
        workspace: rebaseWorkspace(rebaseRoot(options), options.source),
        restart: options.restart,
        refreshCommand: refreshCommand(options),
      },
    );
  });
  io.stdout.write(`Rebased the ${options.source} series onto ${options.onto}.\n${formatRefresh(result)}\n`);
  io.stdout.write(`Check it: bro patches check --source ${options.source} --tags ${options.onto}\n`);
}

export async function runRefresh(options: RefreshOptions, io: Io): Promise<void> {
  const workspace = rebaseWorkspace(rebaseRoot(options), options.source);
  const state = await readRebaseState(workspace, options.source);
  const result = await withTools(options, io, ({ adapters, plumbing }) =>
    refreshSeries({ git: adapters.git, plumbing, project: adapters.project }, workspace, state, {
      force: options.force,
      refreshCommand: refreshCommand(options),
    }),
  );
  io.stdout.write(`${formatRefresh(result)}\n`);
  io.stdout.write(`Check it: bro patches check --source ${options.source} --tags ${state.onto.ref}\n`);
}

function formatRefresh(result: RefreshResult): string {
  const width = Math.max(0, ...[...result.patches, ...result.dropped].map((p) => p.name.length));
  const lines = [`Wrote ${result.shownDir}/ (${result.patches.length} patches):`];
  for (const p of result.patches) {
    const moves = p.moves.map((m) => `${m.from} → ${m.to}`).join(', ');
    lines.push(`  ${p.name.padEnd(width)}  ${p.outcome}${moves ? ` (moved: ${moves})` : ''}`);
  }
  for (const d of result.dropped) lines.push(`  ${d.name.padEnd(width)}  dropped: ${d.reason}`);
  return lines.join('\n');
}
