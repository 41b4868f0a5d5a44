import { settleLimit, throwFailure } from '../../shared/concurrency.js';
import { BroError, ConfigError, StepError } from '../../shared/errors.js';

/**
 * Per-region work, concurrently with a bound. One region failing does not stop
 * the others; every region's result is reported.
 */
export interface RegionOutcome<T> {
  region: string;
  value?: T;
  error?: unknown;
}

export async function forEachRegion<T>(
  regions: readonly string[],
  limit: number,
  work: (region: string) => Promise<T>,
): Promise<RegionOutcome<T>[]> {
  const outcomes = await settleLimit(regions, limit, work);
  return outcomes.map(({ item, value, error }) =>
    error === undefined ? { region: item, value } : { region: item, error },
  );
}

/** `ap-northeast-1 ✔ pushed, us-west-1 ✖ …` lines. */
export function regionSummary<T>(outcomes: readonly RegionOutcome<T>[], describe: (value: T) => string): string[] {
  return outcomes.map((o) =>
    o.error === undefined ? `✔ ${o.region}: ${describe(o.value as T)}` : `✖ ${o.region}: ${errorLine(o.error)}`,
  );
}

/**
 * Throws one error naming every region's result when any region failed. An interruption wins; then
 * a configuration error (a corrupted state file, say), which is no region's failure: it is thrown
 * as itself (exit 2), and the rerun after the fix converges.
 */
export function throwIfAnyRegionFailed<T>(
  step: string,
  what: string,
  outcomes: readonly RegionOutcome<T>[],
  describe: (value: T) => string,
  hint: string,
): void {
  throwFailure(
    outcomes.flatMap((o) => (o.error === undefined ? [] : [o.error])),
    (failed) => {
      const config = failed.find((e) => e instanceof ConfigError);
      if (config) return config;
      // The regions' own advice first (e.g. "use a new build suffix"), then how to resume.
      const hints = new Set(failed.flatMap((e) => (e instanceof BroError && e.hint ? [e.hint] : [])));
      return new StepError(
        step,
        `${what} failed in ${failed.length} of ${outcomes.length} regions:\n${regionSummary(outcomes, describe)
          .map((l) => `  ${l}`)
          .join('\n')}`,
        { cause: failed[0], hint: [...hints, hint].join(' ') },
      );
    },
  );
}

export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const first = error.message.split('\n')[0] ?? '';
  return error.name && error.name !== 'Error' && error.name !== 'StepError' && !first.includes(error.name)
    ? `${error.name}: ${first}`
    : first;
}
