import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

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

/** What identifies process `pid` here, as bro's locks record it. */
export function lockIdentity(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const tryRead = (read: () => string) => {
    try {
      return read().trim();
    } catch {
      return undefined; // Some sandboxes hide these; the lock then does without them too.
    }
  };
  return {
    pid,
    startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
    bootId: tryRead(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNamespace: tryRead(() => readlinkSync('/proc/self/ns/pid')),
    host: hostname(),
  };
}
/** Why the tests that read process state cannot run here, or undefined when /proc is there. */
export const procMissing = existsSync('/proc/self/stat')
  ? undefined
  : 'these tests read process states and groups from /proc, which this system does not have';
