import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TAIL_LINES, telltaleLine, type Command, type RunResult } from '../../adapters/runner.js';
import { startClock } from './elapsed.js';
import type { BuildContext } from '../context.js';
import { StepError, SubprocessError } from '../../shared/errors.js';

/**
 * The long external commands of a build (cargo make, docker) write their full
 * output to their own log under `<work>/.bro/logs/`; the progress line shows
 * the time and the latest output line; a failure shows the last lines and the log's path.
 */

/** Where the logs of a workspace go. */
export const logsDir = (broDir: string) => join(broDir, 'logs');

/** Starts `<work>/.bro/logs/<name>.log` afresh and returns its path. */
export async function openLog(ctx: BuildContext, name: string): Promise<string> {
  const dir = logsDir(ctx.workspace.broDir);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.log`);
  await writeFile(path, '', { mode: 0o600 });
  return path;
}

export interface LoggedOptions {
  /** How long the last run of this command took, for the estimate on the progress line. */
  previousMs?: number;
  /** The deadline: no output for this long fails the command (default: the runner's). */
  quietTimeoutMs?: number;
  /** What to do when the deadline passes, for the error. */
  quietHint?: string;
}

/**
 * Runs a long command with its output in `logFile`. `progress` shows its latest line after the time
 * it has run, and the clock moves while the command is quiet. A failure shows the runner's tail of
 * its output (the last `TAIL_LINES`) and the log's path.
 */
export async function runLogged(
  ctx: BuildContext,
  step: string,
  command: Command,
  logFile: string,
  progress: (line: string) => void,
  options: LoggedOptions = {},
): Promise<RunResult> {
  const { runner, redactor } = ctx.adapters;
  const shown = redactor.redact(command.argv.join(' '));
  await appendFile(logFile, `$ ${shown}${command.cwd ? `  (in ${command.cwd})` : ''}\n`);
  const clock = startClock(
    {
      title: '',
      set output(line: string) {
        progress(line);
      },
    },
    options.previousMs,
  );
  try {
    return await runner.run({ ...command, logFile, onLine: clock.line, quietTimeoutMs: options.quietTimeoutMs });
  } catch (error) {
    if (!(error instanceof SubprocessError) || (error.reason !== 'exit' && error.reason !== 'timeout')) throw error;
    const tail = error.detail.output ?? '';
    const rerun = 'Fix the cause and rerun: finished steps are not redone.';
    const details = `The last ${TAIL_LINES} lines of its output:\n${tail}`;
    // The tail is printed once, in the final report; the headline is the program's own error.
    if (error.reason === 'timeout') {
      // One hint for every region that timed out alike; each log is named in its details.
      throw new StepError(step, error.message, {
        cause: error,
        details: `${details}\nThe full log is ${logFile}.`,
        hint: `${options.quietHint ? `${options.quietHint} ` : ''}${rerun}`,
      });
    }
    throw new StepError(step, `${shown} failed (exit code ${error.detail.exitCode}): ${headline(tail)}`, {
      cause: error,
      details,
      hint: `The full log is ${logFile}. ${rerun}`,
    });
  } finally {
    clock.stop();
  }
}

/**
 * The line that says what went wrong. cargo-make closes a failed task with its own lines
 * ("[cargo-make] ERROR - Error while executing command, exit code: 1", "[cargo-make] WARN -
 * Build Failed."), which say only that it failed: the program's error (pubsys', cargo's) is above them.
 */
export function headline(tail: string): string {
  const own = (line: string) => /^\[cargo-make\] (ERROR|WARN) - /.test(line) || line.startsWith('$ ');
  return (
    telltaleLine(
      tail
        .split('\n')
        .filter((l) => !own(l))
        .join('\n'),
    ) || telltaleLine(tail)
  );
}

/** Refuses a checkout with changes: upstream derives names from `git describe --dirty`, and the build would not be the recorded one. */
export async function assertCleanTree(ctx: BuildContext, step: string, dir: string): Promise<void> {
  const dirty = await ctx.adapters.git.status(dir);
  if (dirty.length) {
    throw new StepError(
      step,
      `Refusing to build from a dirty tree: ${dir} has changes:\n${dirty
        .slice(0, 10)
        .map((l) => `  ${l}`)
        .join('\n')}`,
      {
        hint: 'The AMI name and build id would change. Keep changes as patches in patches/ and rerun `bro build --from patch`, or discard them.',
      },
    );
  }
}
