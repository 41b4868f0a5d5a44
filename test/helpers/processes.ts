import { existsSync, readFileSync } from 'node:fs';

/** Waits until `condition` holds (each test's own timeout bounds the wait). */
export const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((r) => setTimeout(r, 25));
};

/** Whether `pid` runs (a zombie does not count), from /proc. */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Why the tests that read process state cannot run here, or undefined when /proc is there. */
export const procMissing = existsSync('/proc/self/stat')
  ? undefined
  : 'these tests read process states and groups from /proc, which this system does not have';
