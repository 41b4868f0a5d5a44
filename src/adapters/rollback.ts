import { BroError, InterruptedError, RESTORED } from '../shared/errors.js';
import type { Runner } from './runner.js';

/**
 * The one place a run's undo lives (np's `onetime(rollback)` plus an exit
 * hook). A step registers what would undo its half-done work before it
 * starts it, and releases that once the work is whole. Whatever way the run
 * ends before then (SIGINT, SIGTERM, SIGHUP, a failure) the registered undos
 * run, newest first, each once, and the error says what they restored.
 * On a signal the running children (their process groups) are stopped first,
 * and no new one starts.
 */
export interface Rollback {
  /** Aborted by SIGINT, SIGTERM or SIGHUP. */
  readonly signal: AbortSignal;
  /** Registers `undo`, described for the user (e.g. "bottlerocket/ reset to v1.0.4"); returns the function that releases it. */
  add(description: string, undo: () => Promise<void>): () => void;
  /**
   * Runs `work` with the signal handlers installed; on any error the undos run before it is rethrown.
   * `lost`, asked when the work ends, whatever way: whether the run's ground is no longer its own (its
   * owner, the workspace lock, has then called `abandon` with the reason). An abandoned run fails,
   * even when its work finished: what it did was not recorded.
   */
  run<T>(runner: Pick<Runner, 'killAll'>, work: () => Promise<T>, lost?: () => boolean): Promise<T>;
  /**
   * Stops the run for `reason` as a signal would (the signal aborts, the children are stopped), but
   * drops the undos: the run's ground now belongs to someone else (another bro took the workspace over).
   */
  abandon(reason: BroError): void;
}

export const ROLLBACK_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function createRollback(): Rollback {
  const abort = new AbortController();
  const undos = new Map<number, { description: string; undo: () => Promise<void> }>();
  let next = 0;
  let running: Pick<Runner, 'killAll'> | undefined;
  let abandoned: BroError | undefined;
  /** The error an abandoned run ends with: the reason, with what the work threw (if anything else) as its cause. */
  const abandonment = (lost: () => boolean, cause?: unknown): BroError | undefined => {
    if (!lost() && !abandoned) return undefined;
    const reason = abandoned ?? new BroError('Another process took over what this run was working on.');
    return new BroError(reason.message, { hint: reason.hint, cause: cause === reason ? undefined : cause });
  };
  const rollBack = async (): Promise<string[]> => {
    const notes: string[] = [];
    for (const id of [...undos.keys()].reverse()) {
      const entry = undos.get(id)!;
      undos.delete(id);
      try {
        await entry.undo();
        notes.push(entry.description);
      } catch (error) {
        notes.push(
          `could not undo (${entry.description}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        );
      }
    }
    return notes;
  };
  return {
    signal: abort.signal,
    add(description, undo) {
      const id = next++;
      undos.set(id, { description, undo });
      return () => {
        undos.delete(id);
      };
    },
    abandon(reason) {
      if (abandoned) return;
      abandoned = reason;
      undos.clear();
      if (!abort.signal.aborted) abort.abort(reason);
      running?.killAll('SIGTERM');
    },
    async run(runner, work, lost = () => false) {
      running = runner;
      const handler = (signal: NodeJS.Signals) => {
        if (!abort.signal.aborted) abort.abort(new InterruptedError(`Interrupted by ${signal}`));
        runner.killAll(signal);
      };
      for (const s of ROLLBACK_SIGNALS) process.on(s, handler);
      let result: Awaited<ReturnType<typeof work>>;
      try {
        result = await work();
      } catch (error) {
        const gone = abandonment(lost, error);
        if (gone) {
          undos.clear();
          throw gone;
        }
        const notes = await rollBack();
        const interrupted = abort.signal.reason as InterruptedError | undefined;
        // Interrupted: say by what (the step's own error, "Interrupted while running: …", is the cause).
        throw withRestored(interrupted ? new InterruptedError(interrupted.message, { cause: error }) : error, notes);
      } finally {
        running = undefined;
        for (const s of ROLLBACK_SIGNALS) process.off(s, handler);
      }
      const gone = abandonment(lost);
      if (gone) throw gone;
      return result;
    },
  };
}

function withRestored(error: unknown, notes: readonly string[]): unknown {
  if (notes.length && error instanceof Error)
    Object.assign(error, { [RESTORED]: [...((error as { [RESTORED]?: string[] })[RESTORED] ?? []), ...notes] });
  return error;
}
