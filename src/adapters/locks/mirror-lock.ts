import { acquireLock, describeHolder, takeoverReport } from './lock.js';
import type { ProcessTable } from './process-table.js';

/**
 * The lock of a resource several bro processes share (a mirror in the cache):
 * the lock of lock.ts, waited for while its holder lives. The holder's work is
 * meant to be reused: a waiter that gets the lock looks whether what it wanted
 * is there now, and a holder that finds its lock taken over (it was stopped
 * past the stale period) looks the same way at what the other bro made.
 */
export interface MirrorLockOptions {
  /** How often a waiter looks again (default 100 ms). */
  pollMs?: number;
  /** How long a silent holder is trusted (default 30 s). */
  staleAfterMs?: number;
  /** Says what the lock did that the user must know: a wait for another bro, a takeover, a lock lost. */
  warn?: (message: string) => void;
  /** Stops the wait. */
  signal?: AbortSignal;
  processes?: Partial<ProcessTable>;
}

export async function withMirrorLock<T>(
  path: string,
  work: (lost: () => boolean) => Promise<T>,
  options: MirrorLockOptions = {},
): Promise<T> {
  const warn = options.warn ?? (() => undefined);
  let waited = false;
  const lock = await acquireLock(path, [], {
    staleMs: options.staleAfterMs ?? 30_000,
    pollMs: options.pollMs ?? 100,
    signal: options.signal,
    processes: options.processes,
    whileHeld(held) {
      if (!waited) warn(`Waiting for another bro (${describeHolder(held)}), which holds ${path}.`);
      waited = true;
    },
    onLost: () => warn(`Another bro took over ${path} while this one was stopped; this one uses what it made.`),
  });
  if (lock.tookOver) warn(takeoverReport(`the lock ${path}`, lock.tookOver, path));
  try {
    return await work(lock.lost);
  } finally {
    await lock.release();
  }
}
