import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { SubprocessError, InterruptedError } from '../shared/errors.js';
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
  /** Append the full output here, instead of keeping it: the result's stdout and stderr are then empty. */
  logFile?: string;
  /** Called with each output line, for progress display. */
  onLine?: (line: string) => void;
  /** Exit codes that are not failures (e.g. `git diff --quiet` returns 1). */
  okExitCodes?: readonly number[];
  /** The deadline: a program that prints nothing for this long is stopped and fails (default `QUIET_TIMEOUT_MS`). */
  quietTimeoutMs?: number;
}

/** A program silent for an hour is hung: even cargo's longest link prints more often. */
export const QUIET_TIMEOUT_MS = 60 * 60_000;

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when the command was recorded but not run (dry-run write). */
  skipped: boolean;
}

/**
 * A long-lived program that answers requests written to its stdin on its
 * stdout, such as `git cat-file --batch`: one process for many questions.
 */
export interface LongLived {
  /** Writes to its stdin. */
  write(text: string): void;
  /** Its stdout, as it comes. */
  readonly stdout: Readable;
  /** Closes its stdin and waits for it to exit; rejects when it fails or was stopped by killAll(). */
  end(): Promise<void>;
}

export interface Runner {
  run(command: Command): Promise<RunResult>;
  /** Starts a long-lived reader (mode `read` only: it is never skipped); killAll() stops it too. */
  start(command: Pick<Command, 'argv' | 'cwd' | 'env' | 'mode'>): LongLived;
  /** Stops every running child (whole process group). */
  killAll(signal?: NodeJS.Signals): void;
  /** Tells `watcher` of each child's process group as it starts and ends (the workspace lock records them). */
  watchGroups(watcher: GroupWatcher | undefined): void;
}

export interface GroupWatcher {
  started(pgid: number, command: string): void;
  ended(pgid: number): void;
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
  type Child = ReturnType<typeof spawn>;
  const running = new Set<Child>();
  // Children stopped by killAll(); commands started afterwards (rollbacks) run normally.
  const killed = new WeakSet<Child>();
  let watcher: GroupWatcher | undefined;

  /**
   * The one way a child is started: detached (its pid is its process group, which killAll() and the
   * workspace lock know), in the running set while it runs, and its group reported to the watcher.
   */
  const spawnChild = (command: Pick<Command, 'argv' | 'cwd' | 'env'>, stdin: 'pipe' | 'ignore') => {
    const [file = '', ...args] = command.argv;
    const child = spawn(file, args, {
      cwd: command.cwd,
      env: childEnv(options.env, command.env),
      detached: true,
      stdio: [stdin, 'pipe', 'pipe'],
    });
    running.add(child);
    const group = child.pid;
    // Named by the program and its first argument only.
    if (group !== undefined) watcher?.started(group, command.argv.slice(0, 2).join(' '));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    }).finally(() => {
      running.delete(child);
      if (group !== undefined) watcher?.ended(group);
    });
    // A write after it died is reported by its exit, not as an unhandled stream error.
    child.stdin?.on('error', () => undefined);
    return { child, exited, interrupted: () => killed.has(child) };
  };

  return {
    watchGroups(w) {
      watcher = w;
    },
    killAll(signal = 'SIGTERM') {
      for (const child of running) {
        killed.add(child);
        stopGroup(child, signal);
      }
    },
    start(command) {
      const shown = options.redactor.redact(command.argv.join(' '));
      if (!command.argv[0]) throw new SubprocessError([], 'spawn', {}, 'Empty command');
      if (command.mode !== 'read')
        throw new SubprocessError(command.argv, 'spawn', {}, `Only a reading program can be long-lived: ${shown}`);
      options.log?.(`$ ${shown}  (long-lived)`);
      const { child, exited, interrupted } = spawnChild(command, 'pipe');
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      return {
        stdout: child.stdout!,
        write: (text) => void child.stdin!.write(text),
        async end() {
          child.stdin!.end();
          const ended = await exited;
          if (interrupted()) throw new InterruptedError(`Interrupted while running: ${shown}`);
          throwIfFailed(command, shown, endingOf(ended), () => options.redactor.redact(stderr), options.redactor);
        },
      };
    },
    async run(command) {
      const shown = options.redactor.redact(command.argv.join(' '));
      if (command.mode === 'write' && options.dryRun) {
        options.log?.(`[dry-run] ${shown}`);
        return { exitCode: 0, stdout: '', stderr: '', skipped: true };
      }
      options.log?.(`$ ${shown}${command.cwd ? `  (in ${command.cwd})` : ''}`);
      if (!command.argv[0]) throw new SubprocessError([], 'spawn', {}, 'Empty command');
      const { child, exited, interrupted } = spawnChild(command, command.input === undefined ? 'ignore' : 'pipe');
      // A logged command (cargo make: an hour of output) is not kept in memory, where it could outgrow any buffer:
      // its output is in the log, and its last lines in the tail. Any other command's output is kept.
      const log = command.logFile ? createWriteStream(command.logFile, { flags: 'a', mode: 0o600 }) : undefined;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const all: Buffer[] = [];
      const tail: string[] = [];
      let lastOutput = Date.now();
      const keep = (stream: Buffer[]) => (d: Buffer) => {
        lastOutput = Date.now();
        if (log) return;
        stream.push(d);
        all.push(d);
      };
      child.stdout!.on('data', keep(out));
      child.stderr!.on('data', keep(err));
      const emit = (raw: string) => {
        const line = options.redactor.redact(raw);
        log?.write(`${line}\n`);
        if (line.trim()) command.onLine?.(line);
        if (tail.push(line) > TAIL_LINES) tail.shift();
      };
      const followed =
        command.onLine || log ? Promise.all([eachLine(child.stdout!, emit), eachLine(child.stderr!, emit)]) : undefined;
      if (command.input !== undefined) child.stdin!.end(command.input);
      // The deadline: a program that prints nothing for this long is stopped (its whole group).
      const quietMs = command.quietTimeoutMs ?? QUIET_TIMEOUT_MS;
      const started = Date.now();
      let quietFor: number | undefined;
      let kill: NodeJS.Timeout | undefined;
      const watchdog = setInterval(
        () => {
          if (quietFor !== undefined || Date.now() - lastOutput < quietMs) return;
          quietFor = Date.now() - lastOutput;
          stopGroup(child, 'SIGTERM');
          kill = setTimeout(() => stopGroup(child, 'SIGKILL'), 5_000);
        },
        Math.min(quietMs, 1_000),
      );
      const ended = await exited.finally(() => {
        clearInterval(watchdog);
        clearTimeout(kill);
      });
      await followed;
      if (log) await new Promise<void>((resolve) => log.end(resolve));
      if (interrupted()) throw new InterruptedError(`Interrupted while running: ${shown}`);
      const ending: Ending =
        quietFor === undefined ? endingOf(ended) : { quiet: { forMs: quietFor, afterMs: Date.now() - started } };
      // Only a failure shows the output: redacting megabytes of a successful reader's output is wasted.
      const failureOutput = () => (log ? tail.join('\n') : options.redactor.redact(text(all)));
      throwIfFailed(command, shown, ending, failureOutput, options.redactor);
      return { exitCode: ended.code as number, stdout: text(out), stderr: text(err), skipped: false };
    },
  };
}

/** Signals a child's whole process group (children are started detached), or the child alone when that fails. */
function stopGroup(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** As execa does: one final newline is not part of the output. */
const text = (chunks: Buffer[]) =>
  Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');

function endingOf(ended: { code: number | null; signal: NodeJS.Signals | null; error?: Error }): Ending {
  if (ended.error) return { startError: { message: ended.error.message, cause: ended.error } };
  return ended.code === null ? { signal: ended.signal ?? undefined } : { exitCode: ended.code };
}

/**
 * Calls `emit` with each whole line of `stream`, the last one too, and resolves when the stream is
 * done: a secret or a character cut in two between chunks is whole again before it is redacted.
 */
function eachLine(stream: Readable, emit: (line: string) => void): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    // A carriage return ends a line too: progress (git's, docker's) redraws its line with one.
    // One at the very end waits: the next chunk may start with the \n of a CRLF.
    const lines = (pending + decoder.write(chunk)).split(/\r\n|\r(?!$)|\n/);
    pending = lines.pop() ?? '';
    lines.forEach(emit);
  });
  return finished(stream, { writable: false })
    .catch(() => undefined)
    .then(() => {
      pending = (pending + decoder.end()).replace(/\r$/, '');
      if (pending) emit(pending);
    });
}

/**
 * Variables that point git at another repository. Git sets them for its hooks, so bro run from a
 * hook (or a shell that exported GIT_DIR) would act on the wrong repository: no child gets them,
 * and git finds bro's repositories from its argv and cwd. (git's own list: `git rev-parse --local-env-vars`.)
 */
export const GIT_LOCATION_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_IMPLICIT_WORK_TREE',
  'GIT_PREFIX',
  'GIT_SHALLOW_FILE',
  'GIT_GRAFT_FILE',
  'GIT_NO_REPLACE_OBJECTS',
  'GIT_REPLACE_REF_BASE',
  'GIT_NAMESPACE',
] as const;

/** A child's environment: the base one without the git location variables, then the command's own. */
export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of GIT_LOCATION_ENV) delete env[name];
  return { ...env, ...extra };
}

/** How a child ended: it could not be started, it was stopped for printing nothing, a signal killed it, or it exited with a code. */
interface Ending {
  startError?: { message: string; cause?: unknown };
  quiet?: { forMs: number; afterMs: number };
  signal?: NodeJS.Signals;
  exitCode?: number;
}

/** Throws the error of a child that did not succeed; `output` is read only then (redacting a success's output is wasted). */
function throwIfFailed(command: Command, shown: string, end: Ending, output: () => string, redactor: Redactor): void {
  const [file] = command.argv;
  if (end.startError) {
    throw new SubprocessError(
      command.argv,
      'spawn',
      { output: output() },
      `Could not start ${file}: ${redactor.redact(end.startError.message)}`,
      {
        cause: end.startError.cause,
        hint: `Install ${file} and make sure it is on PATH.`,
      },
    );
  }
  if (end.quiet) {
    const text = output();
    throw new SubprocessError(
      command.argv,
      'timeout',
      { output: text },
      `${shown} printed nothing for ${minutes(end.quiet.forMs)}, so bro stopped it (after ${minutes(end.quiet.afterMs)} in all)${text ? `; its last line: ${text.trimEnd().split('\n').pop()}` : ''}`,
    );
  }
  if (end.exitCode === undefined) {
    throw new SubprocessError(
      command.argv,
      'signal',
      { signal: end.signal, output: output() },
      `${shown} was killed by ${end.signal}`,
    );
  }
  if (end.exitCode !== 0 && !(command.okExitCodes ?? []).includes(end.exitCode)) {
    const text = output();
    throw new SubprocessError(
      command.argv,
      'exit',
      { exitCode: end.exitCode, output: text },
      // The first line says what went wrong: it is all an error's `(cause: …)` line shows.
      `${shown} failed with exit code ${end.exitCode}${text ? `: ${telltaleLine(text)}\n${lastLines(text, TAIL_LINES)}` : ''}`,
    );
  }
}

/** How many lines of a failed program's output its error shows (and a logged program keeps: its tail). */
export const TAIL_LINES = 50;

/** 600_000 → "10 minutes", 1_500 → "1.5 seconds". */
export function minutes(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} minutes` : `${Math.round(ms / 100) / 10} seconds`;
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** The line of a failed program's output that says what went wrong: the last error-like one, else the last. */
export function telltaleLine(output: string): string {
  // stdout and stderr interleave, and tools end with hints ("hint: …", "When you have resolved…").
  const lines = output.trimEnd().split('\n');
  // git says why first ("fatal: detected dubious ownership …"), then what it gave up on ("fatal: Could not read from remote repository").
  const fatal = lines.find((l) => l.startsWith('fatal: '));
  if (fatal) return fatal.trim();
  return (
    lines.filter((l) => /error|fatal|fail|denied|exception|invalid|cannot|don't exist/i.test(l)).pop() ??
    lines.pop() ??
    ''
  ).trim();
}
