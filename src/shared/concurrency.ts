import { InterruptedError } from './errors.js';

/**
 * The one concurrency pool. Work that runs side by side is always waited for
 * to the end before an error is thrown: a caller that cleans up on failure
 * (removes a scratch area, a half clone) must never do so while a sibling is
 * still writing there. An interruption wins over other failures.
 */

/**
 * Settles the failures of work that ran side by side, the one way every caller does: nothing to do
 * when there are none; an interruption wins (the others are most likely its consequence); otherwise
 * `combine` makes the error to throw (default: the first failure), or returns undefined when the
 * caller reports them itself.
 */
export function throwFailure(
  failures: readonly unknown[],
  combine: (failures: readonly unknown[]) => unknown = (all) => all[0],
): void {
  if (!failures.length) return;
  const interrupted = failures.find((f) => f instanceof InterruptedError);
  if (interrupted) throw interrupted;
  const error = combine(failures);
  if (error !== undefined) throw error;
}

/** Runs `work` over `items`, at most `limit` at a time; results in input order. After a failure no new item starts, the running ones finish, then it throws. */
export async function mapLimit<I, O>(
  items: readonly I[],
  limit: number,
  work: (item: I, index: number) => Promise<O>,
): Promise<O[]> {
  const results: O[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !errors.length) {
      const i = next++;
      try {
        results[i] = await work(items[i]!, i);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  throwFailure(errors);
  return results;
}

/** Every item at once (`Promise.all`), but settled before it throws. */
export const mapAll = <I, O>(items: readonly I[], work: (item: I, index: number) => Promise<O>): Promise<O[]> =>
  mapLimit(items, items.length, work);

export interface Outcome<I, O> {
  item: I;
  value?: O;
  error?: unknown;
}

/** Every item is worked on, at most `limit` at a time, whatever the others do; each outcome is reported. */
export async function settleLimit<I, O>(
  items: readonly I[],
  limit: number,
  work: (item: I) => Promise<O>,
): Promise<Outcome<I, O>[]> {
  return mapLimit(items, limit, async (item) => {
    try {
      return { item, value: await work(item) };
    } catch (error) {
      return { item, error };
    }
  });
}

/** `Promise.all` over a tuple, but every promise settled before the first failure is thrown (an interruption first). */
export async function settled<T extends readonly unknown[]>(
  work: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(work);
  throwFailure(results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])));
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
