import type { CheckReport, PatchResult, PatchStatus } from '../check/check-report.js';
import { cell, describe, forwardSummary, number, runsOf } from './format-check.js';
import { MEANING, STATUS_ORDER } from './format-markdown.js';

/**
 * The check as one self-contained HTML page (inline style, no script, no
 * fetch), for a CI artifact: per source, the matrix with one colour per
 * status and a legend, what to do next with each patch, and the details of
 * each run of tags with the same verdict.
 */

const COLOUR: Record<PatchStatus, { bg: string; fg: string }> = {
  clean: { bg: '#2da44e', fg: '#fff' },
  offset: { bg: '#8ed1a0', fg: '#0b3d1a' },
  fuzz: { bg: '#f2cc60', fg: '#3d2e00' },
  '3way': { bg: '#f0883e', fg: '#fff' },
  moved: { bg: '#a371f7', fg: '#fff' },
  upstreamed: { bg: '#d0d7de', fg: '#24292f' },
  replaced: { bg: '#9ecbff', fg: '#0a3069' },
  conflict: { bg: '#cf222e', fg: '#fff' },
  missing: { bg: '#24292f', fg: '#fff' },
  blocked: { bg: '#8c6d4f', fg: '#fff' },
};

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** Advice sentences mark paths and commands with backticks. */
const withCode = (s: string) =>
  s
    .split(/`([^`]*)`/)
    .map((part, i) => (i % 2 ? `<code>${escape(part)}</code>` : escape(part)))
    .join('');

const STYLE = `
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #24292f; margin: 24px; }
h1 { font-size: 24px; margin: 0 0 8px; } h2 { font-size: 20px; margin: 32px 0 4px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 8px; } h4 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: #57606a; margin: 0 0 12px; }
table.matrix { border-collapse: collapse; font-size: 12px; }
table.matrix th, table.matrix td { border: 1px solid #fff; padding: 2px 8px; text-align: center; white-space: nowrap; }
table.matrix thead th { background: #f6f8fa; position: sticky; top: 0; }
table.matrix th.tag { text-align: left; background: #f6f8fa; font-weight: 600; }
${STATUS_ORDER.map((s) => `.s-${s === '3way' ? 'threeway' : s} { background: ${COLOUR[s].bg}; color: ${COLOUR[s].fg}; }`).join('\n')}
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 10px 0 0; padding: 0; list-style: none; font-size: 12px; }
.legend span { display: inline-block; padding: 1px 8px; border-radius: 3px; margin-right: 4px; }
ul.advice { padding-left: 20px; } ul.advice li { margin: 4px 0; }
.kind { display: inline-block; min-width: 52px; padding: 0 6px; border-radius: 3px; font-size: 12px; text-align: center; margin-right: 6px; }
.k-drop { background: #d0d7de; } .k-rebase { background: #a371f7; color: #fff; } .k-hand { background: #cf222e; color: #fff; }
.k-first { background: #8c6d4f; color: #fff; } .k-keep { background: #2da44e; color: #fff; } .k-port { background: #f0883e; color: #fff; }
.k-stop { background: #cf222e; color: #fff; } .forward { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; background: #f6f8fa; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; padding: 1px 4px; border-radius: 3px; }
pre { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; padding: 8px 12px; border-radius: 4px; overflow-x: auto; margin: 4px 0 8px; }
.run { margin: 6px 0; } .warn { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 4px; }
details summary { cursor: pointer; color: #0969da; }
`.trim();

function statusClass(status: PatchStatus): string {
  return `s-${status === '3way' ? 'threeway' : status}`;
}

function cellHtml(result: PatchResult): string {
  const label = result.status === 'offset' ? cell(result) : result.status;
  return `<td class="${statusClass(result.status)}" title="${escape(`${result.patch}: ${describe(result)[0]}`)}">${escape(label)}</td>`;
}

export function formatHtml(reports: readonly CheckReport[]): string {
  const body = reports.map(source).join('\n');
  const legend = `<ul class="legend">${STATUS_ORDER.map((s) => `<li><span class="${statusClass(s)}">${escape(s)}</span>${escape(MEANING[s])}</li>`).join('')}</ul>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bro patches check</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>bro patches check</h1>
${legend}
${body}
</body>
</html>
`;
}

function source(report: CheckReport): string {
  const { series, tags } = report;
  const passing = tags.filter((t) => t.ok).length;
  const out: string[] = [];
  out.push(
    `<h2 id="${escape(report.source)}">${escape(report.source)}: ${tags.length ? `${passing} of ${tags.length} tags take the series as it is` : 'no tags to check'}</h2>`,
  );
  out.push(
    `<p class="meta">Series <code>${escape(series.base)}</code> (${series.patches.length} patches) against ${tags.length} tag${tags.length === 1 ? '' : 's'} of <code>${escape(report.url)}</code>.</p>`,
  );
  for (const warning of report.warnings) out.push(`<p class="warn">${escape(warning)}</p>`);
  if (!tags.length) return out.join('\n');
  if (report.forward) {
    const [head = '', ...rest] = forwardSummary(report);
    out.push(
      `<div class="forward"><h3 id="${escape(report.source)}-forward">The way forward</h3><p><b>${withCode(head)}</b> ${rest.map(withCode).join(' ')}</p>`,
      '<ul class="advice">',
    );
    for (const p of report.forward.patches)
      out.push(
        `<li><span class="kind k-${p.action}">${escape(p.action)}</span><b>${escape(number(p.patch))}</b> ${withCode(p.why)}</li>`,
      );
    out.push('</ul></div>');
  }
  if (report.advice?.length) {
    out.push(`<h3 id="${escape(report.source)}-next">What to do next</h3>`, '<ul class="advice">');
    for (const a of report.advice)
      out.push(
        `<li><span class="kind k-${a.kind}">${escape(a.kind)}</span><b>${escape(number(a.patch))}</b> ${withCode(a.text)}</li>`,
      );
    out.push('</ul>');
  }
  out.push(
    '<h3>Each tag</h3>',
    '<table class="matrix">',
    `<thead><tr><th class="tag">tag</th>${series.patches.map((p) => `<th title="${escape(p)}">${escape(number(p))}</th>`).join('')}</tr></thead>`,
    '<tbody>',
  );
  for (const tag of tags)
    out.push(`<tr><th class="tag">${escape(tag.tag)}</th>${tag.patches.map(cellHtml).join('')}</tr>`);
  out.push('</tbody>', '</table>');
  out.push(
    '<ul class="advice">',
    ...series.patches.map((p) => `<li><b>${escape(number(p))}</b> <code>${escape(p)}</code></li>`),
    '</ul>',
  );
  const details = series.patches.flatMap((name, i) => {
    const runs = runsOf(report, i);
    if (!runs.length) return [];
    return [
      `<h4><code>${escape(name)}</code></h4>`,
      ...runs.map((run) => {
        const [summary = '', ...lines] = describe(run.result);
        const span = run.first === run.last ? run.first : `${run.first} … ${run.last}`;
        const head = `<span class="kind ${statusClass(run.result.status)}">${escape(run.result.status)}</span><b>${escape(span)}</b>: ${escape(summary)}`;
        return `<div class="run">${head}${lines.length ? `<details><summary>details</summary><pre>${escape(lines.join('\n'))}</pre></details>` : ''}</div>`;
      }),
    ];
  });
  if (details.length)
    out.push(
      `<h3 id="${escape(report.source)}-details">Details, at the first tag of each run of tags with the same verdict</h3>`,
      ...details,
    );
  return out.join('\n');
}
