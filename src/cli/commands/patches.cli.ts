import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Io } from '../io.js';
import type { SourceName } from '../../config/series.js';
import type { TagChoice } from '../../patches/index.js';
import { cacheDirOption, commonOptions, isDebug, projectDirOption } from '../options.js';

const sourceOption = (all: boolean) => {
  const option = new Option(
    '--source <source>',
    all
      ? "check only this upstream's series (default: every source with a series)"
      : 'which upstream the series patches',
  ).choices(['bottlerocket', 'admin-container']);
  return all ? option : option.default('bottlerocket');
};

/** How `bro patches check` writes its report. */
export const CHECK_FORMATS = ['text', 'json', 'markdown', 'html'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

/** --project-dir, --cache-dir and --work-dir as `bro build` has them, described for the patches commands. */
function addDirectoryOptions(command: Command, dirs: { cache: boolean; work: boolean; allSources?: boolean }): Command {
  command.addOption(projectDirOption());
  if (dirs.cache) command.addOption(cacheDirOption());
  if (dirs.work)
    command.addOption(
      new Option('--work-dir <dir>', 'where rebases happen: <work-dir>/rebase/<source>/ (default: <project-dir>/work)'),
    );
  return command.addOption(sourceOption(dirs.allSources ?? false));
}

/** Options of the commands that read upstream: which repository, which series base. */
function addUpstreamOptions(command: Command, work: boolean, allSources = false): Command {
  return addDirectoryOptions(command, { cache: true, work, allSources })
    .option(
      '--variant <name>',
      "take the upstream URL (and an untagged base's ref) from this variant file (default: the first)",
    )
    .option(
      '--base <ref>',
      "the upstream tag or commit the series was written against (default: tag v<base>, or the variant's ref)",
    )
    .option('--no-fetch', 'use the cached mirror as it is; do not fetch new tags');
}

function upstreamOptions(raw: Record<string, unknown>, io: Io, command: Command) {
  return {
    ...commonOptions(raw, io.env, isDebug(command)),
    source: (raw.source ?? 'bottlerocket') as SourceName,
    variant: raw.variant === undefined ? undefined : String(raw.variant),
    base: raw.base === undefined ? undefined : String(raw.base),
    fetch: raw.fetch !== false,
  };
}

const tagList = (value: string) => {
  const tags = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (!tags.length)
    throw new InvalidArgumentError('--tags needs at least one tag or commit, e.g. --tags v1.0.5,v1.0.6');
  return tags;
};

function tagChoice(raw: Record<string, unknown>): TagChoice {
  if (raw.tags !== undefined) return { kind: 'tags', tags: raw.tags as string[] };
  if (raw.since !== undefined) return { kind: 'since', ref: String(raw.since) };
  return { kind: 'all' };
}

export function registerPatches(program: Command, io: Io): void {
  const patches = program
    .command('patches')
    .description('check the patch series against upstream tags, rebase it onto a new tag, refresh it');

  addUpstreamOptions(
    patches
      .command('check')
      .description(
        'apply the newest series to upstream tags (no checkout) and report each patch: clean, offset, fuzz, 3way, conflict, moved, missing, upstreamed, blocked',
      )
      .addOption(
        new Option('--since <ref>', 'every release tag newer than this tag or commit').conflicts(['tags', 'allTags']),
      )
      .addOption(
        new Option('--tags <list>', 'exactly these tags or commits, comma-separated')
          .argParser(tagList)
          .conflicts(['allTags']),
      )
      .addOption(new Option('--all-tags', 'every release tag newer than the series base (the default)'))
      .addOption(new Option('--series <base>', 'check the series of this base, e.g. 1.0.4 (default: the newest)'))
      .addOption(
        new Option(
          '--format <format>',
          'text (a matrix), json (one versioned document per source, one per line), markdown (for $GITHUB_STEP_SUMMARY), html (one self-contained page)',
        )
          .choices(CHECK_FORMATS)
          .default('text'),
      )
      .addOption(new Option('--json', 'the same as --format json').conflicts(['format']))
      .addOption(
        new Option(
          '--allow-empty',
          'pass when there is no tag to check (default: exit 2, so a nightly job that checks nothing fails)',
        ),
      ),
    false,
    true,
  ).action(async (raw: Record<string, unknown>, command: Command) => {
    const { runCheck } = await import('./patches.js');
    const format: CheckFormat = raw.json ? 'json' : (raw.format as CheckFormat);
    await runCheck(
      {
        ...upstreamOptions(raw, io, command),
        sources: raw.source === undefined ? 'all' : [raw.source as SourceName],
        tags: tagChoice(raw),
        format,
        allowEmpty: raw.allowEmpty === true,
        ...(raw.series === undefined ? {} : { series: String(raw.series) }),
      },
      io,
    );
  });

  addUpstreamOptions(
    patches
      .command('rebase')
      .description(
        'apply the newest series onto an upstream tag with git am --3way in <work-dir>/rebase/<source>/ and write patches/<source>/<version>/; stops at a conflict with instructions',
      )
      .requiredOption('--onto <tag>', 'the upstream tag (or commit) to rebase onto, e.g. v1.5.0')
      .option('--restart', 'throw away a rebase that is stopped at a conflict and start again', false),
    true,
  ).action(async (raw: Record<string, unknown>, command: Command) => {
    const { runRebase } = await import('./patches.js');
    await runRebase(
      { ...upstreamOptions(raw, io, command), onto: String(raw.onto), restart: Boolean(raw.restart) },
      io,
    );
  });

  addDirectoryOptions(
    patches
      .command('refresh')
      .description(
        'export the commits of a finished rebase (after you resolved its conflicts) into patches/<source>/<version>/',
      ),
    { cache: false, work: true },
  )
    .option(
      '--force',
      'overwrite patches/<source>/<version>/ even where it differs from what bro last wrote there',
      false,
    )
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const { runRefresh } = await import('./patches.js');
      await runRefresh(
        {
          ...commonOptions(raw, io.env, isDebug(command)),
          source: raw.source as SourceName,
          force: Boolean(raw.force),
        },
        io,
      );
    });
}
