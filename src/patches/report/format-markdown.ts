import type { CheckReport, PatchResult, PatchStatus } from '../check/check-report.js';
import { cell, describe, forwardSummary, number, runsOf } from './format-check.js';

/**
 * The check as GitHub-flavoured Markdown, for a CI job's summary
 * ($GITHUB_STEP_SUMMARY): per source, a table with the tags as rows and the
 * patches as columns (one symbol and colour per status, and a legend), what
 * to do next with each patch, then the details of each run of tags with the
 * same verdict, at its first tag.
 */

export const SYMBOL: Record<PatchStatus, string> = {
  clean: '🟢',
  offset: '🔵',
  fuzz: '🟡',
  '3way': '🟠',
  moved: '🟣',
  conflict: '🔴',
  missing: '⚫',
  upstreamed: '⚪',
  replaced: '🔘',
  blocked: '🟤',
};

/** What each status means, for the legend. */
export const MEANING: Record<PatchStatus, string> = {
  clean: 'applies as it is',
  offset: 'applies N lines off',
  fuzz: 'applies with less context',
  '3way': 'applies with a three-way merge',
  moved: 'file renamed upstream; applies there',
  conflict: 'does not apply',
  missing: 'file gone upstream',
  upstreamed: 'already upstream',
  replaced: 'upstream has it in another form',
  blocked: 'an earlier patch failed',
};

export const STATUS_ORDER: readonly PatchStatus[] = [
  'clean',
  'offset',
  'fuzz',
  '3way',
  'moved',
  'upstreamed',
  'replaced',
  'conflict',
  'missing',
  'blocked',
];

export function formatMarkdown(reports: readonly CheckReport[]): string {
  const out = ['# bro patches check', ''];
  for (const report of reports) out.push(...source(report), '');
  out.push(`**Legend:** ${STATUS_ORDER.map((s) => `${SYMBOL[s]} ${s} (${MEANING[s]})`).join(' · ')}`, '');
  return `${out.join('\n')}`;
}

/** Text in a table cell or a paragraph: Markdown's and HTML's special characters escaped. */
const text = (s: string) => s.replace(/[\\`*_[\]<>|~]/g, (c) => `\\${c}`);
/** Inline code that holds any backticks. */
const code = (s: string) => {
  const ticks = '`'.repeat(Math.max(0, ...[...s.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return `${ticks}${/^`|`$/.test(s) ? ` ${s} ` : s}${ticks}`.replace(/\|/g, '\\|');
};
/** A fenced block that holds any lines. */
const fenced = (lines: readonly string[]) => {
  const fence = '`'.repeat(Math.max(3, ...lines.map((l) => (/^\s*(`+)/.exec(l)?.[1]?.length ?? 0) + 1)));
  return [`${fence}text`, ...lines, fence];
};

export function markdownCell(result: PatchResult): string {
  return `${SYMBOL[result.status]} ${result.status === 'offset' ? cell(result) : result.status}`;
}

function source(report: CheckReport): string[] {
  const { series, tags } = report;
  const passing = tags.filter((t) => t.ok).length;
  const out = [
    `## ${text(report.source)}: ${tags.length ? `${passing} of ${tags.length} tags take the series as it is` : 'no tags to check'}`,
    '',
  ];
  out.push(
    `Series ${code(series.base)} (${series.patches.length} patches) against ${tags.length} tag${tags.length === 1 ? '' : 's'} of ${code(report.url)}.`,
    '',
  );
  for (const warning of report.warnings) out.push(`> ⚠️ ${text(warning)}`, '');
  if (!tags.length) return out;
  if (report.forward) {
    const [head = '', ...rest] = forwardSummary(report);
    out.push('### The way forward', '', `**${adviceText(head)}** ${rest.map(adviceText).join(' ')}`, '');
    out.push('| patch | upgrade | why |', '| --- | --- | --- |');
    out.push(
      ...report.forward.patches.map(
        (p) => `| **${number(p.patch)}** | ${p.action} | ${adviceText(p.why).replace(/\|/g, '\\|')} |`,
      ),
      '',
    );
  }
  if (report.advice?.length) {
    out.push(
      '### What to do next',
      '',
      ...report.advice.map((a) => `- **${number(a.patch)}** ${adviceText(a.text)}`),
      '',
    );
  }

  out.push(
    '### Each tag',
    '',
    `| tag | ${series.patches.map((p) => number(p)).join(' | ')} |`,
    `| --- | ${series.patches.map(() => ':---:').join(' | ')} |`,
  );
  for (const tag of tags) out.push(`| ${text(tag.tag)} | ${tag.patches.map(markdownCell).join(' | ')} |`);
  out.push('');
  out.push('Patches:', '', ...series.patches.map((p) => `- **${number(p)}** ${code(p)}`), '');

  const details = series.patches.flatMap((name, i) => {
    const runs = runsOf(report, i);
    if (!runs.length) return [];
    return [
      `#### ${code(name)}`,
      '',
      ...runs.flatMap((run) => {
        const [summary = '', ...lines] = describe(run.result);
        const span = run.first === run.last ? run.first : `${run.first} … ${run.last}`;
        const head = `${SYMBOL[run.result.status]} **${text(span)}**: ${text(summary)}`;
        if (!lines.length) return [head, ''];
        return [head, '', '<details><summary>details</summary>', '', ...fenced(lines), '', '</details>', ''];
      }),
    ];
  });
  if (details.length)
    out.push('### Details (at the first tag of each run of tags with the same verdict)', '', ...details);
  return out;
}

/** Advice sentences name paths and commands in backticks already; the rest is text. */
const adviceText = (s: string) =>
  s
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 ? part : text(part)))
    .join('');
