import type { CheckReport, PatchResult, PatchStatus } from '../check/check-report.js';

/**
 * The check for people: a matrix (one row per tag, one column per patch),
 * then, per patch, each run of tags with the same verdict, with the details
 * (conflicting hunk, new path…) at the first tag of the run. --json has the
 * details of every tag.
 */

const CELL: Record<PatchStatus, string> = {
  clean: 'clean',
  offset: 'offset',
  fuzz: 'fuzz',
  '3way': '3way',
  conflict: 'CONFLICT',
  moved: 'moved',
  missing: 'missing',
  upstreamed: 'upstream',
  replaced: 'replaced',
  blocked: 'blocked',
};

/** The matrix cell: the status, or for an offset the largest shift, e.g. `+12`. */
export function cell(result: PatchResult): string {
  if (result.status !== 'offset' || !result.offsets?.length) return CELL[result.status];
  const shift = result.offsets.reduce((max, o) => (Math.abs(o.offset) > Math.abs(max) ? o.offset : max), 0);
  return shift > 0 ? `+${shift}` : String(shift);
}

export const number = (name: string) => /^(\d{4})-/.exec(name)?.[1] ?? name;

export function formatCheck(report: CheckReport): string {
  const out: string[] = [];
  const { series, tags } = report;
  out.push(
    `${report.source} series ${series.base} (${series.patches.length} patches) against ${tags.length} tag${tags.length === 1 ? '' : 's'} of ${report.url}`,
  );
  if (!tags.length) {
    out.push('', 'No tags to check: upstream has no release tag newer than the series base (or --since).');
    return out.join('\n');
  }
  const headers = ['tag', ...series.patches.map(number)];
  const rows = tags.map((t) => [t.tag, ...t.patches.map(cell)]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  out.push('', line(headers), ...rows.map(line));
  out.push('', 'Patches:', ...series.patches.map((p) => `  ${p}`));
  out.push(
    'Cells: clean | +N/-N applies N lines off | fuzz | 3way | CONFLICT | moved (file renamed upstream) | missing (file gone) | upstream (already upstream) | replaced (upstream has it in another form) | blocked (an earlier patch failed)',
  );

  const notes = series.patches.flatMap((name, i) => verdictRuns(report, i, name));
  if (notes.length)
    out.push('', 'Verdicts that need work (details at the first tag of each run; --json has every tag):', ...notes);
  if (report.advice?.length)
    out.push('', 'What to do next:', ...report.advice.map((a) => `  ${number(a.patch)}  ${a.text}`));
  if (report.forward) {
    out.push('', `Way forward: ${forwardSummary(report).join(' ').replace(/`/g, '')}`);
    out.push(
      ...report.forward.patches.map((p) => `  ${number(p.patch)}  ${p.action.padEnd(6)}  ${p.why.replace(/`/g, '')}`),
    );
  }
  const passing = tags.filter((t) => t.ok).length;
  out.push(
    '',
    passing === tags.length
      ? `${tags.length === 1 ? 'The tag takes' : `All ${tags.length} tags take`} the series as it is (clean or offset).`
      : `${passing} of ${tags.length} tags take the series as it is (clean or offset); ${tags.length - passing} need work.`,
  );
  return out.join('\n');
}

/**
 * The way forward in a sentence or two: the newest release to move to (and
 * where the variant leaves upstream), and how many patches it carries.
 * Backticks mark code, as in the advice; `forward.patches` says what
 * `bro upgrade` does with each.
 */
export function forwardSummary(report: CheckReport): string[] {
  const f = report.forward;
  if (!f) return [];
  const dropped = f.patches.filter((p) => p.action === 'drop').length;
  const what = f.variant ? `\`${f.variant}\`` : `the ${report.source} series`;
  return [
    f.defaultOf
      ? `${f.tag} is the admin container Bottlerocket ${f.defaultOf} defaults to.`
      : `${f.tag} is the newest release ${f.variant ? `that still ships ${what}` : `to move ${what} to`}${f.adminVersion ? ` (its admin container: v${f.adminVersion})` : ''}.`,
    ...(f.leaves
      ? [
          `${f.leaves.tag} drops ${what}${f.leaves.successor ? `; its successor there is \`${f.leaves.successor}\`` : ''}.`,
        ]
      : []),
    `There the series carries ${f.carries} of its ${report.series.patches.length} patches (${dropped} dropped). \`${f.command}\` would:`,
  ];
}

export interface VerdictRun {
  first: string;
  last: string;
  /** The verdict at the first tag of the run. */
  result: PatchResult;
  key: string;
}

/** Consecutive tags on which a patch (the `column`th) has the same verdict; none when it is clean or offset everywhere. */
export function runsOf(report: CheckReport, column: number): VerdictRun[] {
  const runs: VerdictRun[] = [];
  for (const tag of report.tags) {
    const result = tag.patches[column];
    if (!result) continue;
    const key = verdictKey(result);
    const run = runs[runs.length - 1];
    if (run && run.key === key) run.last = tag.tag;
    else runs.push({ first: tag.tag, last: tag.tag, result, key });
  }
  return runs.every((r) => r.result.status === 'clean' || r.result.status === 'offset') ? [] : runs;
}

/** Consecutive tags on which a patch has the same verdict, described once. */
function verdictRuns(report: CheckReport, column: number, name: string): string[] {
  const runs = runsOf(report, column);
  if (!runs.length) return [];
  return [
    `  ${name}`,
    ...runs.flatMap((r) => {
      const span = r.first === r.last ? r.first : `${r.first}..${r.last}`;
      const [summary, ...details] = describe(r.result);
      return [`    ${span.padEnd(17)} ${summary}`, ...details.map((d) => `${' '.repeat(22)}${d}`)];
    }),
  ];
}

/** Two verdicts are the same when they read the same (offsets and where upstream's lines are do not count). */
function verdictKey(r: PatchResult): string {
  return JSON.stringify([describe(r)[0], r.conflicts?.map((c) => [c.file, c.hunk, c.reason])]);
}

/** A one-line summary, then detail lines. */
export function describe(r: PatchResult): string[] {
  const moves = (r.moves ?? []).map((m) => `${m.from} → ${m.to}`).join(', ');
  switch (r.status) {
    case 'clean':
    case 'offset':
      return ['clean or offset'];
    case 'fuzz':
      return [`fuzz: applies only when git may relax the context (-C1): ${fuzzWhere(r)}`];
    case '3way':
      return ['3way: applies only with a three-way merge'];
    case 'moved':
      return [`moved: ${moves}; applies there${r.via === 'clean' || r.via === 'offset' ? '' : ` with ${r.via}`}`];
    case 'missing':
      return [`missing: ${(r.missing ?? []).join(', ')} no longer exist${r.missing?.length === 1 ? 's' : ''} upstream`];
    case 'upstreamed':
      if (r.backport)
        return [`upstreamed: the tag has upstream commit ${r.backport}, which this patch backports; drop the patch`];
      return [`upstreamed: the tag already has this change${moves ? ` (at ${moves})` : ''}; drop the patch`];
    case 'replaced':
      return [
        `replaced: upstream has what the patch gives in its own form (applying it: ${r.applies ?? 'not tried'}); see what to do next`,
      ];
    case 'blocked':
      return [`blocked: builds on ${(r.blockedBy ?? []).join(', ')}, which failed`];
    case 'conflict':
      return [`conflict${moves ? ` (after ${moves})` : ''}`, ...(r.conflicts ?? []).flatMap(conflictLines)];
  }
}

function fuzzWhere(r: PatchResult): string {
  const reduced = [...new Set((r.fuzz ?? []).map((f) => `${f.file}: context reduced to ${f.context}`))];
  if (reduced.length) return reduced.join('; ');
  // git relaxed nothing but the anchoring: a hunk written against the start or end of the file, which upstream extended.
  return (
    (r.offsets ?? [])
      .map((o) => `${o.file} hunk ${o.hunk} no longer sits at the start or end of the file`)
      .join('; ') || 'see --json'
  );
}

function conflictLines(c: NonNullable<PatchResult['conflicts']>[number]): string[] {
  if (c.reason && !c.expected.length) return [`${c.file ? `${c.file}: ` : ''}${c.reason}`];
  const lines = [
    `${c.file}, hunk ${c.hunk} of ${c.hunks} (written for line ${c.line}), expected:`,
    ...c.expected.map((l) => `  | ${l}`),
  ];
  if (!c.found) lines.push('upstream no longer has the file');
  else lines.push(`upstream has at line ${c.found.line}:`, ...c.found.lines.map((l) => `  | ${l}`));
  if (c.reason) lines.push(c.reason);
  return lines;
}
