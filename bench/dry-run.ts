/**
 * Benchmark: a warm rerun of `bro build --dry-run` (mirror cache and workspace
 * present) and `bro --help`, against the cold first run, all measured in this
 * process run. Targets: warm dry run < 3 s, --help < 300 ms (2-core machine).
 *
 *   node dist/bench/dry-run.js               # synthetic upstream (no network)
 *   BRO_BOTTLEROCKET_URL=… BRO_ADMIN_CONTAINER_URL=… node dist/bench/dry-run.js   # the real upstream
 */
import { spawnSync } from 'node:child_process';
import { commitAll, git, makeUpstream, writeFiles } from '../test/helpers/git-fixtures.js';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = join(root, 'dist', 'src', 'bin', 'bro.js');

function time(label: string, argv: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [bin, ...argv], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${label} failed (${result.status}):\n${result.stderr}`);
  return ms;
}

/** The tests' upstream-like repos, grown to a tree of some size so checkouts and status have work to do. */
function syntheticUpstream(dir: string): { bottlerocket: string; admin: string; adminCommit: string } {
  const upstream = makeUpstream(dir);
  const files: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) files[`packages/p${i % 100}/f${i}.spec`] = `Name: p${i}\n`.repeat(20);
  writeFiles(upstream.bottlerocket, files);
  git(upstream.bottlerocket, 'checkout', '--quiet', 'v1.0.4');
  commitAll(upstream.bottlerocket, 'packages');
  git(upstream.bottlerocket, 'tag', '-f', '-a', '-m', 'v1.0.4', 'v1.0.4');
  return { bottlerocket: upstream.bottlerocket, admin: upstream.adminContainer, adminCommit: upstream.adminCommit };
}

export function main(): void {
  const scratch = mkdtempSync(join(tmpdir(), 'bro-bench-'));
  try {
    const project = join(scratch, 'project');
    mkdirSync(project);
    cpSync(join(root, 'variants'), join(project, 'variants'), { recursive: true });
    rmSync(join(project, 'variants', 'sources.lock.json'), { force: true });
    cpSync(join(root, 'patches'), join(project, 'patches'), { recursive: true });
    cpSync(join(root, 'Infra.toml.tpl'), join(project, 'Infra.toml.tpl'));
    let urls: { bottlerocket: string; admin: string };
    let what: string;
    if (process.env.BRO_BOTTLEROCKET_URL && process.env.BRO_ADMIN_CONTAINER_URL) {
      urls = { bottlerocket: process.env.BRO_BOTTLEROCKET_URL, admin: process.env.BRO_ADMIN_CONTAINER_URL };
      what = 'the real upstream (BRO_*_URL)';
    } else {
      const synthetic = syntheticUpstream(join(scratch, 'upstream'));
      urls = synthetic;
      rmSync(join(project, 'patches'), { recursive: true, force: true });
      const variantFile = join(project, 'variants', 'aws-k8s-1.18.toml');
      writeFileSync(
        variantFile,
        readFileSync(variantFile, 'utf8').replace(/^ref = "[0-9a-f]{40}"$/m, `ref = "${synthetic.adminCommit}"`),
      );
      what = 'a synthetic upstream (set BRO_BOTTLEROCKET_URL and BRO_ADMIN_CONTAINER_URL for the real one)';
    }
    const env = {
      ...process.env,
      BRO_BOTTLEROCKET_URL: urls.bottlerocket,
      BRO_ADMIN_CONTAINER_URL: urls.admin,
      CI: 'true',
    };
    const args = [
      'build',
      'aws-k8s-1.18',
      '--version',
      '1.0.4-hc1',
      '--dry-run',
      '--project-dir',
      project,
      '--cache-dir',
      join(scratch, 'cache'),
    ];
    const cold = time('cold dry run', args, env);
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push(time('warm dry run', args, env));
    const help: number[] = [];
    for (let i = 0; i < 10; i++) help.push(time('--help', ['--help'], env));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const w = median(warm);
    const h = median(help);
    console.log(`bro dry-run benchmark against ${what}`);
    console.log(`  cold dry run (clone mirrors, check out, patch): ${cold.toFixed(0)} ms`);
    console.log(
      `  warm dry run (median of 5):                     ${w.toFixed(0)} ms  (${(cold / w).toFixed(1)}x faster than cold; target < 3000 ms: ${w < 3000 ? 'met' : 'MISSED'})`,
    );
    console.log(
      `  bro --help (median of 10):                      ${h.toFixed(0)} ms  (target < 300 ms: ${h < 300 ? 'met' : 'MISSED'})`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
