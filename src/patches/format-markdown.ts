import type { CheckReport } from './check-report.js';
export function formatMarkdown(reports: readonly CheckReport[]): string {
  return reports.map((r) => r.source).join('\n');
}
