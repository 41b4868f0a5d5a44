import type { BlobReader, Scratch } from '../../adapters/git-plumbing.js';
import { compareVersions } from '../../config/version.js';
import type { CheckReport, Equivalent, TagResult, UpgradeAction, WayForward } from './check-report.js';
import type { TagTree } from './read-tag-trees.js';

/**
 * The way forward: the newest tag checked that still ships the variant (its
 * `variants/<name>/` in upstream's tree), the variant that follows it where
 * upstream drops it, the admin container version upstream's models default
 * to there, and what `bro upgrade <variant> --to <tag>` would do with each patch.
 */

/** The file whose presence says a Bottlerocket tag ships a variant. */
export const variantPaths = (variant: string) => [`variants/${variant}/Cargo.toml`];

export async function findWayForward(input: {
  scratch: Scratch;
  blobs: BlobReader;
  variant: string;
  report: CheckReport;
  tree: (tag: TagResult) => TagTree;
  /** The series' base, and whether it ships the variant. */
  baseTag: string;
  baseShips: boolean;
}): Promise<WayForward | undefined> {
  const { report, variant } = input;
  const ships = report.tags.map((t) => input.tree(t).entries.has(variantPaths(variant)[0]!));
  const last = ships.lastIndexOf(true);
  const first = report.tags[0];
  if (last < 0 && input.baseShips && first) {
    // The series is on the last release that ships the variant already.
    const base = {
      tag: input.baseTag,
      command: `bro upgrade ${variant} --to ${input.baseTag}`,
      carries: report.series.patches.length,
    };
    const patches = report.series.patches.map((patch) => ({
      patch,
      action: 'keep' as const,
      why: `already on ${input.baseTag}`,
    }));
    return {
      ...base,
      patches,
      variant,
      leaves: { tag: first.tag, ...(await successor(input.scratch, first.commit, variant)) },
    };
  }
  if (last < 0) return undefined;
  const target = report.tags[last]!;
  const gone = report.tags[last + 1];
  const leaves = gone && { tag: gone.tag, ...(await successor(input.scratch, gone.commit, variant)) };
  const adminVersion = await adminDefault(input.scratch, input.blobs, target.commit);
  return {
    ...planAt(report, target.tag, `bro upgrade ${variant} --to ${target.tag}`),
    variant,
    ...(leaves ? { leaves } : {}),
    ...(adminVersion ? { adminVersion } : {}),
  };
}

/** What `bro upgrade` would do with each patch of the report at `tag`. */
export function planAt(report: CheckReport, tag: string, command: string): WayForward {
  const at = report.tags.find((t) => t.tag === tag);
  const order = new Map(report.tags.map((t, i) => [t.tag, i]));
  const here = order.get(tag) ?? -1;
  const patches = (at?.patches ?? []).map((result, column) => {
    const parts = report.advice?.[column]?.parts ?? [];
    const has = (p: Equivalent) => p.upstream !== undefined && (order.get(p.upstream.tag) ?? -1) <= here;
    const theirs = parts.filter(has);
    const left = [
      ...parts.filter((p) => !has(p)).map((p) => p.ours),
      ...theirs.flatMap((p) => (p.upstream!.lacks ? [p.upstream!.lacks.split(':')[0]!] : [])),
    ];
    const step = (action: UpgradeAction, why: string) => ({ patch: result.patch, action, why });
    if (result.status === 'upstreamed') return step('drop', 'upstream has this change');
    if (result.status === 'replaced')
      return step('drop', `upstream has it in its own form: ${[...new Set(theirs.map(short))].join(', ')}`);
    if (theirs.length && left.length) return step('port', `upstream has the rest; carry only ${left.join(', ')}`);
    switch (result.status) {
      case 'clean':
      case 'offset':
        return step('keep', 'applies as it is');
      case 'fuzz':
      case '3way':
      case 'moved':
        return step('rebase', `git am --3way applies it (${result.status})`);
      default:
        return step('stop', `${result.status}: a person resolves it, then the upgrade goes on`);
    }
  });
  return { tag, command, carries: patches.filter((p) => p.action !== 'drop').length, patches };
}

/** Upstream's form of a part, in a few words: its key, the user data that turns it on, its file. */
export const short = (p: Equivalent) => {
  const u = p.upstream!;
  return u.key ? `\`${u.key}\`` : u.userData ? `user data \`${u.userData.key}\`` : u.file ? `\`${u.file}\`` : u.what;
};

/** The variant of the same family (aws-k8s-1.18 → aws-k8s-*) with the lowest version above ours, at a commit. */
async function successor(scratch: Scratch, commit: string, variant: string): Promise<{ successor?: string }> {
  const m = /^(.*-)(\d+(?:\.\d+)*)$/.exec(variant);
  if (!m) return {};
  const [, family, version] = m;
  const names = new Set(
    (await scratch.entries(commit, ['variants'])).map((line) => line.slice(line.indexOf('\t') + 1).split('/')[1]!),
  );
  const next = [...names]
    .flatMap((n) => (n.startsWith(family!) && /^\d+(\.\d+)*$/.test(n.slice(family!.length)) ? [n] : []))
    .filter((n) => compareVersions(n.slice(family!.length), version!) > 0)
    .sort((a, b) => compareVersions(a.slice(family!.length), b.slice(family!.length)))[0];
  return next ? { successor: next } : {};
}

/** The admin container version upstream's models default to at a commit (`…/bottlerocket-admin:v0.8.0`). */
async function adminDefault(scratch: Scratch, blobs: BlobReader, commit: string): Promise<string | undefined> {
  // Its host-containers defaults first (shared-defaults/aws-host-containers.toml, or defaults.toml before those).
  const first = (line: string) => (/host-containers|\/defaults\.toml$/.test(line) ? 0 : 1);
  const tomls = (await scratch.entries(commit, ['sources/models']))
    .filter((line) => line.endsWith('.toml'))
    .sort((a, b) => first(a) - first(b));
  for (const line of tomls) {
    const blob = line.slice(0, line.indexOf('\t')).split(' ')[2]!;
    const version = /bottlerocket-admin:v(\d+\.\d+\.\d+)/.exec((await blobs.read(blob)) ?? '')?.[1];
    if (version) return version;
  }
  return undefined;
}
