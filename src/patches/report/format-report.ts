import type { CheckReport } from '../check/check-report.js';
import { formatCheck } from './format-check.js';
import { formatHtml } from './format-html.js';
import { formatMarkdown } from './format-markdown.js';

export type ReportFormat = 'text' | 'json' | 'markdown' | 'html';

/**
 * The reports of one `bro patches check`, one per source, in a format:
 *  - text: each source's matrix and verdicts, one after the other;
 *  - json: JSON lines, one versioned CheckReport document per source (`jq` reads them as they are);
 *  - markdown: one document for $GITHUB_STEP_SUMMARY;
 *  - html: one self-contained page.
 */
export function formatCheckReports(reports: readonly CheckReport[], format: ReportFormat): string {
  switch (format) {
    case 'text':
      return `${reports.map(formatCheck).join('\n\n')}\n`;
    case 'json':
      return reports.map((r) => `${JSON.stringify(r)}\n`).join('');
    case 'markdown':
      return formatMarkdown(reports);
    case 'html':
      return formatHtml(reports);
  }
}
