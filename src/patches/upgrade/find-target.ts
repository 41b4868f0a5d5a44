import type { GitTrees } from '../../adapters/git-trees.js';
import { compareVersions, isReleaseVersion } from '../../config/version.js';
import { UsageError } from '../../shared/errors.js';
import type { Target } from '../check/check-report.js';
import { releaseTags, type Upstream } from '../open-upstream.js';

/**
 * The tag an upgrade goes to: a release tag of upstream, not older than the
 * series it starts from, whose tree still has the variant (upstream keeps a
 * variant's model in `sources/models/src/<variant>`, and from v1.x its build
 * definition in `variants/<variant>`). Any other tag is refused (exit 2), and
 * the error names the newest tag the variant can go to.
 */
export async function findTarget(
  trees: GitTrees,
  upstream: Upstream,
  variant: string,
  to: string,
  base: string,
): Promise<Target> {
  const commit = upstream.tags.get(to);
  const refuse = async (why: string) => {
    const last = await lastTagWithVariant(trees, upstream, variant);
    return new UsageError(`--to ${to}: ${why}`, {
      hint: last
        ? `The newest release of ${upstream.shownUrl} that has ${variant} is ${last}: upgrade to it (\`--to ${last}\`), or to a release between v${base} and it.`
        : `No release tag of ${upstream.shownUrl} has ${variant}: check the variant name.`,
    });
  };
  if (!commit || !isReleaseVersion(to))
    throw await refuse(commit ? 'is not a release tag (vX.Y.Z)' : `${upstream.shownUrl} has no such tag`);
  if (compareVersions(to, base) < 0)
    throw await refuse(`is older than the series it would start from, patches/bottlerocket/${base}/`);
  const [hasModel, hasDir] = await trees.exists(upstream.mirror, variantPaths(commit, variant));
  if (!hasModel && !hasDir) throw await refuse(`upstream no longer ships ${variant} there`);
  return { tag: to, commit };
}

const variantPaths = (commit: string, variant: string) => [
  `${commit}:sources/models/src/${variant}`,
  `${commit}:variants/${variant}`,
];

/** The newest release tag whose tree has the variant, from one `git cat-file --batch-check` over every tag. */
export async function lastTagWithVariant(
  trees: GitTrees,
  upstream: Upstream,
  variant: string,
): Promise<string | undefined> {
  const tags = releaseTags(upstream).reverse();
  const found = await trees.exists(
    upstream.mirror,
    tags.flatMap((t) => variantPaths(t.commit, variant)),
  );
  return tags.find((_, i) => found[2 * i] || found[2 * i + 1])?.tag;
}
