import { tagOk, type Equivalent, type TagResult } from './check-report.js';

/**
 * A patch whose every part upstream has in its own form at a tag (and does
 * all of: no part it `lacks`) is `replaced` there, whatever applying it says:
 * applying it would give the node a second copy of what upstream gives.
 * A patch upstream has as it is stays `upstreamed`.
 */
export function markReplaced(tags: readonly TagResult[], equivalents: readonly (readonly Equivalent[])[]): TagResult[] {
  const order = new Map(tags.map((t, i) => [t.tag, i]));
  // A part found at the base or before the first target counts from the first target.
  const from = equivalents.map((parts) =>
    parts.length && parts.every((p) => p.upstream && !p.upstream.lacks)
      ? Math.max(...parts.map((p) => order.get(p.upstream!.tag) ?? 0))
      : Infinity,
  );
  return tags.map((tag, i) => {
    const patches = tag.patches.map((result, column) =>
      i >= from[column]! && result.status !== 'upstreamed'
        ? { patch: result.patch, status: 'replaced' as const, applies: result.status }
        : result,
    );
    return { ...tag, patches, ok: tagOk(patches) };
  });
}
