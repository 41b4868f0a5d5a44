import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
/**
 * The one place the task-list renderer is chosen (lint-staged's getRenderer):
 * interactive on a TTY, plain with timestamps in CI or when asked, silent when
 * the caller (a test, or --json with nothing to show) wants no output.
 */
export type RendererChoice = 'default' | 'simple' | 'silent';

export interface RendererInputs {
  ci: boolean;
  silent: boolean;
  isTTY: boolean;
  /** The terminal's width; 0 when it reports none (a serial console, `docker exec -t` before a resize). */
  columns?: number;
  env: NodeJS.ProcessEnv;
}

/** Narrower than this, the interactive renderer's wrapped lines are unreadable (at 0 columns, one character per line). */
const MIN_COLUMNS = 20;

export function chooseRenderer({ ci, silent, isTTY, columns, env }: RendererInputs): RendererChoice {
  if (silent) return 'silent';
  if (ci || !isTTY || env.CI === 'true' || env.TERM === 'dumb') return 'simple';
  if (columns !== undefined && columns < MIN_COLUMNS) return 'simple';
  return 'default';
}

/** The choice for a task list written to `stderr`, by what that stream says of itself. */
export function rendererFor(stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv, ci: boolean): RendererChoice {
  const { isTTY, columns } = stderr as NodeJS.WriteStream;
  return chooseRenderer({ ci, silent: false, isTTY: Boolean(isTTY), columns, env });
}

/**
 * listr2 options for a choice. Output goes to stderr, so stdout carries only results (plans, JSON).
 * The interactive renderer colours as listr2 decides (it honours NO_COLOR and FORCE_COLOR); the
 * plain one never does, whatever the terminal: CI logs are read as text.
 */
export async function listrOptions(choice: RendererChoice, output: NodeJS.WritableStream) {
  const { DefaultRenderer, ListrLogger, ProcessOutput, PRESET_TIMESTAMP, PRESET_TIMER } = await import('listr2');
  // The interactive renderer draws on stderr, which the caller has checked is a terminal. listr2
  // would still fall back to plain lines whenever stdout is not one (`bro build … > plan.txt`):
  // tell it this renderer does not need stdout.
  class StderrRenderer extends DefaultRenderer {
    static override nonTTY = true;
  }
  const logger = (stream: NodeJS.WritableStream, icons: boolean) =>
    new ListrLogger({
      useIcons: icons,
      processOutput: new ProcessOutput(stream as NodeJS.WriteStream, stream as NodeJS.WriteStream),
    });
  const plain = () => ({
    logger: logger(withoutColour(output), false),
    timestamp: PRESET_TIMESTAMP,
    timer: PRESET_TIMER,
  });
  return {
    renderer: choice === 'default' ? StderrRenderer : choice,
    fallbackRenderer: 'simple' as const,
    // listr2 falls back to plain output when stdout is not a terminal (`bro … --json | jq` from a
    // terminal): the fallback must write to the same stream, or progress would land in the JSON.
    fallbackRendererOptions: plain(),
    exitOnError: true,
    registerSignalListeners: false,
    collectErrors: false as const,
    // Every fact once: a skipped step shows its title, its reason under it; a failed one its title, the error follows after the list.
    rendererOptions:
      choice === 'simple'
        ? plain()
        : {
            logger: logger(output, choice === 'default'),
            timer: PRESET_TIMER,
            collapseSubtasks: false,
            collapseSkips: false,
            showErrorMessage: false,
          },
  };
}

/** Writes to `stream` with the terminal codes (colours) taken out. */
function withoutColour(stream: NodeJS.WritableStream): NodeJS.WritableStream {
  return new Writable({
    write(chunk, _encoding, done) {
      stream.write(stripVTControlCharacters(String(chunk)));
      done();
    },
  });
}
