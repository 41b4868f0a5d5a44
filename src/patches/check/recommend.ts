import type { Advice, AdviceKind, Equivalent, PatchResult, PatchStatus, TagResult } from './check-report.js';

const KIND: Record<PatchStatus, AdviceKind> = {
  clean: 'keep',
  offset: 'keep',
  fuzz: 'rebase',
  '3way': 'rebase',
  moved: 'rebase',
  upstreamed: 'drop',
  replaced: 'drop',
  conflict: 'hand',
  missing: 'hand',
  blocked: 'first',
};

/**
 * What to do next with each patch: the newest tag's verdict decides, and the
 * run of tags that ends there says since when. What upstream has of the
 * patch in its own form (find-equivalents.ts) comes first: all of it → drop,
 * naming upstream's form, its version and the mapping of our fields to its;
 * part of it → port, naming what upstream has nothing for.
 */
export function recommend(
  patches: readonly string[],
  tags: readonly TagResult[],
  equivalents: readonly (readonly Equivalent[])[] = [],
): Advice[] {
  return patches.map((patch, column) => {
    const results = tags
      .map((t) => ({ tag: t.tag, result: t.patches[column] }))
      .filter((r): r is { tag: string; result: PatchResult } => r.result !== undefined);
    const parts = [...(equivalents[column] ?? [])];
    const withParts = parts.length ? { parts } : {};
    const newest = results.at(-1);
    if (!newest) return { patch, kind: 'keep', text: 'no tag checked', ...withParts };
    let first = results.length - 1;
    while (first > 0 && results[first - 1]!.result.status === newest.result.status) first--;
    const since = results[first]!.tag;
    const { result } = newest;
    if (result.status === 'upstreamed') {
      return {
        patch,
        kind: 'drop',
        since,
        text: `upstreamed in ${since}: drop it${result.backport ? ` (upstream commit ${result.backport.slice(0, 12)})` : ''}`,
        ...withParts,
      };
    }
    const theirs = parts.filter((p) => p.upstream);
    const order = (tag: string) => tags.findIndex((t) => t.tag === tag);
    if (theirs.length) {
      const latest = theirs.map((p) => p.upstream!.tag).reduce((a, b) => (order(b) > order(a) ? b : a));
      const has = upstreamSays(theirs);
      if (result.status === 'replaced')
        return {
          patch,
          kind: 'drop',
          since: latest,
          text: `upstreamed in another form by ${latest}: drop it. ${has}`,
          parts,
        };
      const lacking = [
        ...parts.filter((p) => !p.upstream).map((p) => p.ours),
        ...theirs.flatMap((p) => (p.upstream!.lacks ? [p.upstream!.lacks] : [])),
      ];
      return {
        patch,
        kind: 'port',
        since: latest,
        text: `partly upstreamed by ${latest}: ${has}. Upstream has no equivalent of ${list(lacking)}: keep only that part, on upstream's form`,
        parts,
      };
    }
    switch (result.status) {
      case 'clean':
      case 'offset':
        return {
          patch,
          kind: KIND[result.status],
          text: `applies as it is to ${newest.tag}: nothing to do`,
          ...withParts,
        };
      case 'moved':
        return {
          patch,
          kind: 'rebase',
          since,
          text: `moved in ${since} to ${list((result.moves ?? []).map((m) => `\`${m.to}\``))}: \`bro patches rebase\` handles it`,
          ...withParts,
        };
      case 'fuzz':
      case '3way':
        return {
          patch,
          kind: 'rebase',
          since,
          text: `applies only with ${result.status === 'fuzz' ? 'fuzz' : 'a three-way merge'} from ${since}: \`bro patches rebase\` handles it`,
          ...withParts,
        };
      case 'conflict':
        return { patch, kind: 'hand', since, text: `conflicts from ${since}: needs a hand rebase`, ...withParts };
      case 'missing': {
        const gone = goneSince(results, result.missing ?? []);
        return {
          patch,
          kind: 'hand',
          since: gone[0]?.tag ?? since,
          text: `${list(gone.map((g) => `\`${g.file}\` gone from ${g.tag}`))}: port it by hand to where upstream moved that code, or drop it`,
          ...withParts,
        };
      }
      case 'blocked':
        return {
          patch,
          kind: 'first',
          since,
          text: `blocked from ${since} by ${list((result.blockedBy ?? []).map((b) => `\`${b}\``))}: rebase ${result.blockedBy?.length === 1 ? 'that one' : 'those'} first`,
          ...withParts,
        };
      case 'replaced':
        return { patch, kind: 'drop', since, text: `upstreamed in another form from ${since}: drop it`, ...withParts };
    }
  });
}

/** Each file missing at the newest tag, with the first tag of the run of tags up to the newest that lack it, oldest first. */
function goneSince(
  results: readonly { tag: string; result: PatchResult }[],
  files: readonly string[],
): { file: string; tag: string }[] {
  return files
    .map((file) => {
      let i = results.length - 1;
      while (i > 0 && results[i - 1]!.result.missing?.includes(file)) i--;
      return { file, tag: results[i]!.tag, at: i };
    })
    .sort((a, b) => a.at - b.at)
    .map(({ file, tag }) => ({ file, tag }));
}

/**
 * The parts upstream has: what of ours, since when, upstream's form and how our fields map onto its; parts
 * upstream has in the same way are named together.
 */
function upstreamSays(parts: readonly Equivalent[]): string {
  const groups = new Map<string, Equivalent[]>();
  for (const part of parts) {
    const u = part.upstream!;
    const renamed = (u.mapping ?? []).filter((m) => m.ours !== m.upstream);
    const mapping = renamed.length
      ? ` (${list(renamed.map((m) => (m.upstream ? `our \`${m.ours}\` is its \`${m.upstream}\`` : `our \`${m.ours}\` has no counterpart`)))})`
      : '';
    const userData = u.userData
      ? `: set \`${u.userData.key} = "${u.userData.value}"\` in the admin container's user data`
      : '';
    const how = `${u.what}${mapping}${userData}`;
    groups.set(how, [...(groups.get(how) ?? []), part]);
  }
  return [...groups]
    .map(([how, group]) => `${list(group.map((p) => `${p.ours} (${p.upstream!.tag})`))}: ${how}`)
    .join('; ');
}

const list = (items: readonly string[]) =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
