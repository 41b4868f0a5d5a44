import type { Advice, AdviceKind, PatchResult, PatchStatus, TagResult } from './check-report.js';
import type { UpstreamSetting } from './find-upstream-settings.js';

const KIND: Record<PatchStatus, AdviceKind> = {
  clean: 'keep',
  offset: 'keep',
  fuzz: 'rebase',
  '3way': 'rebase',
  moved: 'rebase',
  upstreamed: 'drop',
  conflict: 'hand',
  missing: 'hand',
  blocked: 'first',
};

/** Per patch: the upstream settings found for those it adds, and the fields of those it adds that upstream has not. */
export type SettingsFound = ReadonlyMap<string, { found: readonly UpstreamSetting[]; notFound: readonly string[] }>;

export function recommend(patches: readonly string[], tags: readonly TagResult[], settings: SettingsFound = new Map()): Advice[] {
  return patches.map((patch, column) => {
    const results = tags.map((t) => ({ tag: t.tag, result: t.patches[column] })).filter((r): r is { tag: string; result: PatchResult } => r.result !== undefined);
    const newest = results.at(-1);
    const replaced = settings.get(patch)?.found ?? [];
    const notFound = settings.get(patch)?.notFound ?? [];
    if (!newest) return { patch, kind: 'keep', text: 'no tag checked' };
    let first = results.length - 1;
    while (first > 0 && KIND[results[first - 1]!.result.status] === KIND[newest.result.status] && results[first - 1]!.result.status === newest.result.status) first--;
    const since = results[first]!.tag;
    const { result } = newest;
    const replacing = replaced.length ? `: upstream's ${list(replaced.map((s) => `\`${s.key}\` (${s.tag})`))} replace${replaced.length === 1 ? 's' : ''} ours` : '';
    if (replaced.length) {
      // Upstream's own model has the settings: whatever the patch's verdict, the setting is upstream's now.
      const latest = replaced.map((s) => s.tag).reduce((a, b) => (tags.findIndex((t) => t.tag === b) > tags.findIndex((t) => t.tag === a) ? b : a));
      if (!notFound.length) return { patch, kind: 'drop', since: latest, text: `upstreamed in ${latest}: drop it${replacing}`, settings: [...replaced] };
      return {
        patch,
        kind: 'hand',
        since: latest,
        text: `partly upstreamed by ${latest}${replacing}; upstream has nothing for ${list(notFound.map((f) => `\`${f}\``))}: keep only that part, by hand`,
        settings: [...replaced],
      };
    }
    switch (result.status) {
      case 'clean':
      case 'offset':
        return { patch, kind: 'keep', text: `applies as it is to ${newest.tag}: nothing to do` };
      case 'upstreamed':
        return { patch, kind: 'drop', since, text: `upstreamed in ${since}: drop it${result.backport ? ` (upstream commit ${result.backport.slice(0, 12)})` : ''}` };
      case 'moved':
        return { patch, kind: 'rebase', since, text: `moved in ${since} to ${list((result.moves ?? []).map((m) => `\`${m.to}\``))}: \`bro patches rebase\` handles it` };
      case 'fuzz':
      case '3way':
        return { patch, kind: 'rebase', since, text: `applies only with ${result.status === 'fuzz' ? 'fuzz' : 'a three-way merge'} from ${since}: \`bro patches rebase\` handles it` };
      case 'conflict':
        return { patch, kind: 'hand', since, text: `conflicts from ${since}: needs a hand rebase` };
      case 'missing':
        return { patch, kind: 'hand', since, text: `${list((result.missing ?? []).map((m) => `\`${m}\``))} gone from ${since}: port it by hand to where upstream moved that code, or drop it` };
      case 'blocked':
        return { patch, kind: 'first', since, text: `blocked from ${since} by ${list((result.blockedBy ?? []).map((b) => `\`${b}\``))}: rebase ${result.blockedBy?.length === 1 ? 'that one' : 'those'} first` };
    }
  });
}

const list = (items: readonly string[]) => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);
