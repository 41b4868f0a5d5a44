import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lastLines, telltaleLine, type Command, type RunResult } from '../../adapters/runner.js';
import type { BuildContext } from '../context.js';
import { StepError, SubprocessError } from '../../shared/errors.js';

/**
 * The long external commands of a build (cargo make, docker) write their full
 * output to their own log under `<work>/.bro/logs/`; the progress line shows
 * the latest output line; a failure shows the last 50 lines and the log's path.
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

export const TAIL_LINES = 50;

export async function runLogged(
  ctx: BuildContext,
  step: string,
  command: Command,
  logFile: string,
  onLine?: (line: string) => void,
): Promise<RunResult> {
  const { runner, redactor } = ctx.adapters;
  const shown = redactor.redact(command.argv.join(' '));
  await appendFile(logFile, `$ ${shown}${command.cwd ? `  (in ${command.cwd})` : ''}\n`);
  try {
    return await runner.run({ ...command, logFile, onLine });
  } catch (error) {
    if (!(error instanceof SubprocessError) || error.reason !== 'exit') throw error;
    const tail = lastLines(await readFile(logFile, 'utf8'), TAIL_LINES);
    // The tail is printed once, in the final report; the headline is the program's own error.
    throw new StepError(step, `${shown} failed (exit code ${error.detail.exitCode}): ${headline(tail)}`, {
      cause: error,
      details: `The last ${TAIL_LINES} lines of its output:\n${tail}`,
      hint: `The full log is ${logFile}. Fix the cause and rerun: finished steps are not redone.`,
    });
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
