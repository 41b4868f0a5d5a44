import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { sealedEnv } from './env.js';

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
