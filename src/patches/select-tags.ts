import { compareVersions, isReleaseVersion } from '../config/version.js';
import type { Adapters } from '../adapters/index.js';
import { UsageError } from '../shared/errors.js';
import type { Target } from './check/check-report.js';
import { releaseTags, resolveRef, type Upstream } from './open-upstream.js';
import { versionAt } from './upstream-version.js';

/**
 * Which upstream tags to check. Releases are ordered by version, not by
 * ancestry: Bottlerocket tags its releases on release branches.
 *  - all: every release tag newer than the series' base (the default);
 *  - since: every release tag newer than a tag or commit;
 *  - tags: exactly these (any tag or commit), in the order given.
 */
export type TagChoice = { kind: 'all' } | { kind: 'since'; ref: string } | { kind: 'tags'; tags: readonly string[] };

export async function selectTags(
  adapters: Adapters,
  upstream: Upstream,
  baseVersion: string,
  choice: TagChoice,
): Promise<Target[]> {
  if (choice.kind === 'tags')
    return Promise.all(choice.tags.map((tag) => resolveRef(adapters, upstream, tag, '--tags')));
  const since = choice.kind === 'since' ? await versionOfRef(adapters, upstream, choice.ref) : baseVersion;
  const releases = releaseTags(upstream);
  const newest = releases.at(-1)?.tag;
  if (choice.kind === 'since' && newest && compareVersions(since, newest) > 0) {
    throw new UsageError(`--since ${choice.ref}: newer than every release tag of ${upstream.shownUrl}`, {
      hint: `Its newest release tag is ${newest}.`,
    });
  }
  return releases.filter((t) => compareVersions(t.tag, since) > 0);
}

/** The release a --since ref stands for: a version such as v1.0.4, else what upstream's version file says at that commit. */
async function versionOfRef(adapters: Adapters, upstream: Upstream, ref: string): Promise<string> {
  if (isReleaseVersion(ref)) return ref.replace(/^v/, '');
  const target = await resolveRef(adapters, upstream, ref, '--since');
  const version = await versionAt(adapters.git, upstream.mirror, upstream.source, target.commit);
  if (!version) {
    throw new UsageError(
      `--since ${ref}: cannot tell which ${upstream.source} release ${target.commit.slice(0, 12)} belongs to`,
      {
        hint: `Its ${upstream.source === 'bottlerocket' ? 'Release.toml' : 'VERSION file'} names no version; pass a release tag such as v1.0.4.`,
      },
    );
  }
  return version;
}
