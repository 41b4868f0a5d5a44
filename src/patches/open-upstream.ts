import type { GitPlumbing } from '../adapters/git-plumbing.js';
import { redactUrlCredentials } from '../adapters/redactor.js';
import type { SourceName } from '../config/series.js';
import { DEFAULT_ADMIN_CONTAINER_URL, DEFAULT_BOTTLEROCKET_URL, type Variant } from '../config/variant.js';
import { compareVersions, isReleaseVersion } from '../config/version.js';
import type { Adapters } from '../adapters/index.js';
import { ConfigError, StepError, UsageError } from '../shared/errors.js';
import { urlForSource } from '../config/variant.js';
import type { Target } from './check/check-report.js';
import { versionAt } from './upstream-version.js';

/**
 * The upstream repository a series is checked or rebased against: its URL
 * (BRO_*_URL, else the variant file's, else upstream's public one), its cached
 * mirror, brought up to date so new tags are seen, and its tags.
 */
export interface Upstream {
  source: SourceName;
  url: string;
  /** The URL without credentials, for output. */
  shownUrl: string;
  mirror: string;
  /** Tag → commit. */
  tags: ReadonlyMap<string, string>;
  /** The variant file's `sources.<source>.ref`, when it names one. */
  variantRef?: string;
  /** The variant the project builds (the variant file's `name`), when it has one. */
  variantName?: string;
}

export interface UpstreamOptions {
  /** A variant file whose source URLs and refs to use; default: the first one, if any. */
  variant?: string;
  /** Fetch new tags into an existing mirror (default); false works offline from the cache. */
  fetch: boolean;
}

const DEFAULT_URL: Record<SourceName, string> = {
  bottlerocket: DEFAULT_BOTTLEROCKET_URL,
  'admin-container': DEFAULT_ADMIN_CONTAINER_URL,
};

export async function openUpstream(
  adapters: Adapters,
  plumbing: GitPlumbing,
  source: SourceName,
  options: UpstreamOptions,
): Promise<Upstream> {
  const { project, mirrors } = adapters;
  const name = options.variant ?? (await project.listVariants())[0];
  const variant: Variant | undefined = name === undefined ? undefined : await project.readVariant(name);
  const url = urlForSource(source, variant?.sources[source].url ?? DEFAULT_URL[source], adapters.env);
  const shownUrl = redactUrlCredentials(url);
  let mirror: string;
  try {
    const ensured = await mirrors.ensure(url);
    if (!ensured.created && options.fetch) await mirrors.update(url);
    mirror = ensured.path;
  } catch (error) {
    throw new StepError('fetch', `Cannot fetch the ${source} repository from ${shownUrl}`, {
      cause: error,
      hint: (await mirrors.exists(url))
        ? 'Check your network, or pass --no-fetch to use the cached mirror as it is.'
        : 'Check the URL and your network.',
    });
  }
  return {
    source,
    url,
    shownUrl,
    mirror,
    tags: await plumbing.tagCommits(mirror),
    variantRef: variant?.sources[source].ref,
    variantName: variant?.name,
  };
}

/** Upstream's release tags (vX.Y.Z), oldest first. */
export function releaseTags(upstream: Upstream): Target[] {
  return [...upstream.tags]
    .filter(([tag]) => /^v\d+\.\d+\.\d+$/.test(tag))
    .sort(([a], [b]) => compareVersions(a, b))
    .map(([tag, commit]) => ({ tag, commit }));
}

/** A tag or commit of the upstream, for --since, --tags, --onto and --base. */
export async function resolveRef(adapters: Adapters, upstream: Upstream, ref: string, option: string): Promise<Target> {
  const commit = upstream.tags.get(ref) ?? (await adapters.git.resolveCommit(upstream.mirror, ref));
  if (!commit) {
    const known = releaseTags(upstream).map((t) => t.tag);
    throw new UsageError(`${option} ${ref}: ${upstream.shownUrl} has no such tag or commit`, {
      hint: known.length
        ? `Its release tags run from ${known[0]} to ${known[known.length - 1]}.`
        : 'It has no release tags.',
    });
  }
  return { tag: ref, commit };
}

/**
 * The commit a series was written against: `--base`, else tag v<base>, else
 * the variant file's ref for the source when upstream's version file there
 * says <base> (the admin container's 0.5.2 is an untagged commit).
 */
export async function findBase(
  adapters: Adapters,
  upstream: Upstream,
  base: string,
  explicit?: string,
): Promise<Target> {
  if (explicit) return resolveRef(adapters, upstream, explicit, '--base');
  for (const tag of [`v${base}`, base]) {
    const commit = upstream.tags.get(tag);
    if (commit) return { tag, commit };
  }
  if (upstream.variantRef) {
    const target = await resolveRef(adapters, upstream, upstream.variantRef, `sources.${upstream.source}.ref`);
    if ((await versionAt(adapters.git, upstream.mirror, upstream.source, target.commit)) === base) {
      return { tag: /^[0-9a-f]{40}$/.test(target.tag) ? target.tag.slice(0, 12) : target.tag, commit: target.commit };
    }
  }
  throw new ConfigError(
    `patches/${upstream.source}/${base}`,
    `names base ${base}, but ${upstream.shownUrl} has no tag v${base}`,
    {
      hint: `Pass --base <commit> (the upstream commit the series was written against), or set sources.${upstream.source}.ref in the variant file to it.`,
    },
  );
}

/** The series directory name for a rebase onto `target`: its release (v1.5.0 → 1.5.0), else what upstream's version file says there. */
export async function seriesBaseFor(adapters: Adapters, upstream: Upstream, target: Target): Promise<string> {
  if (isReleaseVersion(target.tag)) return target.tag.replace(/^v/, '');
  const version = await versionAt(adapters.git, upstream.mirror, upstream.source, target.commit);
  if (!version) {
    throw new UsageError(
      `--onto ${target.tag}: cannot tell which ${upstream.source} release it is, to name the new series`,
      {
        hint: 'Rebase onto a release tag such as v1.5.0.',
      },
    );
  }
  return version;
}
