import { KUBELET_SETTINGS } from './formats.js';
import { registryAuthTable, type PreviewReport } from './preview.js';

const scalar = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
const inline = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.entries(value)
        .map(([k, v]) => `${k}=${scalar(v)}`)
        .join(' ')
    : scalar(value);

const table = (rows: string[][]): string[] => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd(),
  );
};

export const problems = (count: number) => `${count} ${count === 1 ? 'problem' : 'problems'}`;

/** The readable summary of an already redacted report. */
export function formatPreview(report: PreviewReport, outDir: string | undefined): string {
  const { node } = report;
  const sample = (s: boolean) => (s ? ' (SAMPLE)' : '');
  const lines = [
    `Preview of ${report.variant} ${report.version}, user data ${report.userData}`,
    `Node: ${node.instanceType.value}${sample(node.instanceType.sample)}, ${node.cpus.value} CPUs${sample(node.cpus.sample)}, region ${node.region.value}${sample(node.region.sample)}`,
    '',
    'Generated at boot (settings the user data leaves unset):',
    ...report.generated.flatMap((g) => [
      `  ${g.key} = ${scalar(g.value)}`,
      `      ${g.sample ? '' : 'by '}${g.generator}: ${g.note}`,
    ]),
  ];
  const containerd = report.files.find((f) => f.name === 'containerd-config-toml');
  if (containerd) {
    lines.push('', `containerd: ${containerd.path}`);
    if (report.registryAuths.length === 0) lines.push('  no registry auths (settings.cri-registry-auths is not set)');
    for (const auth of report.registryAuths) {
      lines.push(`  ${registryAuthTable(auth.name)}`);
      for (const field of ['username', 'password', 'auth'] as const) {
        const value = auth[field];
        if (value === undefined) continue;
        lines.push(
          `    ${field} = ${JSON.stringify(value)}  ${auth.mismatches.includes(field) ? '✖ does not come back exactly' : '✔ comes back exactly'}`,
        );
      }
    }
  }
  const kubelet = report.files.find((f) => f.name === 'kubelet-config');
  if (kubelet) {
    lines.push('', `kubelet: ${kubelet.path}`);
    lines.push(
      ...table(
        [...KUBELET_SETTINGS, 'maxPods'].map((field) => [
          field,
          field in report.kubelet ? inline(report.kubelet[field]) : '(not set)',
        ]),
      ),
    );
  }
  if (report.notes.length) lines.push('', 'Notes:', ...report.notes.map((n) => `  - ${n}`));
  lines.push(
    '',
    `Rendered ${report.files.length} files${outDir ? ` into ${outDir}` : ''}: ${report.files.map((f) => f.name).join(', ')}`,
  );
  if (report.inputProblems.length)
    lines.push(
      '',
      `✖ ${problems(report.inputProblems.length)} in what was given (the user data, the options):`,
      ...report.inputProblems.map((p) => `  - ${p}`),
    );
  if (report.problems.length)
    lines.push(
      '',
      `✖ ${problems(report.problems.length)} in the patch series' templates:`,
      ...report.problems.map((p) => `  - ${p}`),
    );
  if (!report.inputProblems.length && !report.problems.length)
    lines.push('✔ The node accepts this user data, and every file it writes is valid.');
  return lines.join('\n');
}
