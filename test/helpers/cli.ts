import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { sealedEnv } from './env.js';
import { REPO_ROOT } from './git-fixtures.js';

/** The built bin, for a test that starts bro as its own process (after `npm run build`). */
export const BRO_BIN = join(REPO_ROOT, 'dist/src/bin/bro.js');

/** A test project and its cache; `command` and `version` default to `build` and 1.0.4-hc1. */
export interface BroTarget {
  project: string;
  cacheDir: string;
  command?: string;
  version?: string;
}

/** `bro <command> aws-k8s-1.18 --version <version>` on the target's project and cache, then `more`. */
export function broArgv(target: BroTarget, ...more: string[]): string[] {
  const { project, cacheDir, command = 'build', version = '1.0.4-hc1' } = target;
  return [command, 'aws-k8s-1.18', '--version', version, '--project-dir', project, '--cache-dir', cacheDir, ...more];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** stderr says it is a terminal (120×40), where bro would choose the interactive task list. */
  stderrIsTTY?: boolean;
  /** The width that terminal reports (default 120). */
  columns?: number;
}

/** Runs bro in-process, exactly as the bin does, with captured output and a sealed environment plus `env`. */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  options: CliOptions = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _encoding, callback) {
        append(String(chunk));
        callback();
      },
    });
  const err = sink((s) => (stderr += s));
  const code = await main(argv, {
    env: sealedEnv(env),
    stdout: sink((s) => (stdout += s)),
    stderr: options.stderrIsTTY ? Object.assign(err, { isTTY: true, columns: options.columns ?? 120, rows: 40 }) : err,
  });
  return { code, stdout, stderr };
}
