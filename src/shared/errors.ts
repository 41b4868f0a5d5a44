/**
 * Typed errors. Every error bro raises on purpose is a BroError: it carries an
 * exit code, a message that names the thing, and a hint that says what to do.
 * The bin is the only place that turns them into output and an exit code.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface BroErrorOptions {
  cause?: unknown;
  /** What the user should do next. */
  hint?: string;
  /** Supporting text (e.g. a failed program's last lines), printed once, under the message in the final report. */
  details?: string;
}

export class BroError extends Error {
  readonly exitCode: number = EXIT_FAILURE;
  readonly hint: string | undefined;
  readonly details: string | undefined;

  constructor(message: string, options: BroErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** Bad command line: unknown option, malformed --version, missing argument. */
export class UsageError extends BroError {
  override readonly exitCode = EXIT_USAGE;
}

/** A configuration file (variant, lock, series, user data) is invalid. */
export class ConfigError extends BroError {
  override readonly exitCode = EXIT_USAGE;
  constructor(
    readonly file: string,
    message: string,
    options: BroErrorOptions = {},
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** A pipeline step failed. */
export class StepError extends BroError {
  constructor(
    readonly step: string,
    message: string,
    options: BroErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** An external program failed to start, exited non-zero, was killed, or printed nothing past its deadline (`timeout`). */
export class SubprocessError extends BroError {
  constructor(
    readonly argv: readonly string[],
    readonly reason: 'spawn' | 'exit' | 'signal' | 'timeout',
    readonly detail: { exitCode?: number; signal?: string; output?: string },
    message: string,
    options: BroErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** A patch did not apply. */
export class PatchError extends BroError {
  constructor(
    readonly patch: string,
    message: string,
    options: BroErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** The user interrupted bro (SIGINT/SIGTERM). */
export class InterruptedError extends BroError {
  override readonly exitCode = 130;
}

/** Already reported to the user (e.g. a check that printed its own table): just exit. */
export class ExitError extends BroError {
  constructor(override readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export function isBroError(error: unknown): error is BroError {
  return error instanceof BroError;
}

/** Where the rollback puts what it restored on the error it rethrows; shown under the message. */
export const RESTORED = Symbol.for('bro.restored');

/** Renders an error for the terminal: message, hint, and (with debug) the causes and stacks. */
export function formatError(error: unknown, debug: boolean): string {
  const lines: string[] = [];
  if (error instanceof BroError) {
    lines.push(`✖ ${error.message}`);
    if (error.details) lines.push('', error.details, '');
    if (error.hint) lines.push(`  → ${error.hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(`✖ Internal error: ${message}`);
    lines.push('  → This is a bug in bro. Rerun with --debug and report the output.');
  }
  for (const note of (error as { [RESTORED]?: string[] } | undefined)?.[RESTORED] ?? []) lines.push(`  ↺ ${note}`);
  if (debug) {
    const seen = new Set<unknown>();
    for (let current: unknown = error; current && !seen.has(current);) {
      seen.add(current);
      lines.push(current instanceof Error && current.stack ? current.stack : String(current));
      current = current instanceof Error ? current.cause : undefined;
      if (current && !seen.has(current)) lines.push('Caused by:');
    }
  } else if (error instanceof Error && error.cause instanceof Error && error instanceof BroError) {
    // Said once: a message that already quotes its cause (or the program's reason in it) needs no cause line.
    const cause = error.cause.message.split('\n')[0] ?? '';
    const reason = /failed with exit code \d+: (.+)$/.exec(cause)?.[1] ?? cause;
    if (!error.message.includes(reason)) lines.push(`  (cause: ${cause})`);
  }
  return lines.join('\n');
}
