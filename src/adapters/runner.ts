import { createWriteStream, type WriteStream } from 'node:fs';
import { SubprocessError, InterruptedError } from '../errors.js';
import type { Redactor } from './redactor.js';

/**
 * The one way bro runs an external program (git, cargo, docker, make).
 * argv arrays only, never a shell string. Every call says whether it reads or
 * writes: in dry-run, writes are recorded for the plan and not run.
 */
export interface Command {
  argv: readonly string[];
  cwd?: string;
  /** Extra environment, merged over the process environment. */
  env?: Record<string, string>;
  /** `read` calls always run. `write` calls are skipped in dry-run. */
  mode: 'read' | 'write';
  /** Fed to the process on stdin (e.g. a password for `docker login --password-stdin`). */
  input?: string;
  /** Append the full output here. */
  logFile?: string;
  /** Called with each output line, for progress display. */
  onLine?: (line: string) => void;
  /** Exit codes that are not failures (e.g. `git diff --quiet` returns 1). */
  okExitCodes?: readonly number[];
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when the command was recorded but not run (dry-run write). */
  skipped: boolean;
}

export interface Runner {
  readonly dryRun: boolean;
  run(command: Command): Promise<RunResult>;
  /** Commands that dry-run did not run, in order. */
  readonly skipped: readonly Command[];
  /** Stops every running child (whole process group). */
  killAll(signal?: NodeJS.Signals): void;
}

export interface RunnerOptions {
  dryRun: boolean;
  /** The environment children start from (the process environment, or a test's). */
  env: NodeJS.ProcessEnv;
  redactor: Redactor;
  /** Debug log of every command (already redacted). */
  log?: (line: string) => void;
}

export function createRunner(options: RunnerOptions): Runner {
  const skipped: Command[] = [];
  type Child = { pid?: number; kill: (signal?: NodeJS.Signals) => boolean };
  const running = new Set<Child>();
  // Children stopped by killAll(); commands started afterwards (rollbacks) run normally.
  const killed = new WeakSet<Child>();

  return {
    dryRun: options.dryRun,
    skipped,
    killAll(signal = 'SIGTERM') {
      for (const child of running) {
        killed.add(child);
        if (child.pid === undefined) continue;
        try {
          // Children are started detached, so -pid is their process group.
          process.kill(-child.pid, signal);
        } catch {
          child.kill(signal);
        }
      }
    },
    async run(command) {
      const shown = options.redactor.redact(command.argv.join(' '));
      if (command.mode === 'write' && options.dryRun) {
        skipped.push(command);
        options.log?.(`[dry-run] ${shown}`);
        return { exitCode: 0, stdout: '', stderr: '', skipped: true };
      }
      options.log?.(`$ ${shown}${command.cwd ? `  (in ${command.cwd})` : ''}`);
      const { execa } = await import('execa');
      const [file, ...args] = command.argv;
      if (!file) throw new SubprocessError([], 'spawn', {}, 'Empty command');
      let log: WriteStream | undefined;
      if (command.logFile) log = createWriteStream(command.logFile, { flags: 'a', mode: 0o600 });
      const child = execa(file, args, {
        cwd: command.cwd,
        env: { ...options.env, ...command.env },
        extendEnv: false,
        input: command.input,
        stdin: command.input === undefined ? 'ignore' : undefined,
        reject: false,
        all: true,
        detached: true,
        stripFinalNewline: true,
        maxBuffer: 256 * 1024 * 1024,
      });
      running.add(child);
      if ((command.onLine || log) && child.all) {
        let pending = '';
        child.all.on('data', (chunk: Buffer) => {
          const text = options.redactor.redact(chunk.toString('utf8'));
          log?.write(text);
          if (!command.onLine) return;
          pending += text;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) command.onLine(line);
        });
      }
      const result = await child;
      running.delete(child);
      if (log) await new Promise<void>((resolve) => log.end(resolve));
      const stdout = String(result.stdout ?? '');
      const stderr = String(result.stderr ?? '');
      const output = options.redactor.redact(String(result.all ?? ''));
      if (killed.has(child)) {
        throw new InterruptedError(`Interrupted while running: ${shown}`);
      }
      if (result.failed && result.exitCode === undefined) {
        const reason = result.signal ? 'signal' : 'spawn';
        throw new SubprocessError(
          command.argv,
          reason,
          { signal: result.signal, output },
          reason === 'spawn'
            ? `Could not start ${file}: ${options.redactor.redact(result.shortMessage ?? '')}`
            : `${shown} was killed by ${result.signal}`,
          {
            cause: result.cause ?? undefined,
            hint: reason === 'spawn' ? `Install ${file} and make sure it is on PATH.` : undefined,
          },
        );
      }
      const exitCode = result.exitCode ?? 0;
      if (exitCode !== 0 && !(command.okExitCodes ?? []).includes(exitCode)) {
        throw new SubprocessError(
          command.argv,
          'exit',
          { exitCode, output },
          `${shown} failed with exit code ${exitCode}${output ? `:\n${lastLines(output, 20)}` : ''}`,
        );
      }
      return { exitCode, stdout, stderr, skipped: false };
    },
  };
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
