import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A process as a lock records it: a pid plus what makes it unique. The start
 * time tells a process from a later one that was given the same pid; the boot
 * id tells a reboot; the pid namespace and the host say where the pid means
 * something (pid 1 runs in every container).
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat), where the OS tells it. */
  startTime?: string;
  bootId?: string;
  /** The pid namespace (/proc/self/ns/pid), where the OS tells it. */
  pidNamespace?: string;
  host: string;
}

/** What the locks need from the OS; tests replace parts of it. */
export interface ProcessTable {
  self(): ProcessIdentity;
  /** Start time of a running pid, undefined when it does not run (or the OS does not tell). */
  startTime(pid: number): string | undefined;
  isAlive(pid: number): boolean;
  groupAlive(pgid: number): boolean;
  killGroup(pgid: number, signal: NodeJS.Signals): void;
}

/** Whether pids recorded by `a` mean the same processes for `b` (the same host, boot and pid namespace). */
export const sameNamespace = (a: ProcessIdentity, b: ProcessIdentity) =>
  a.host === b.host && a.bootId === b.bootId && a.pidNamespace === b.pidNamespace;

/** The OS as the locks see it: Linux tells start times, boot ids and namespaces through /proc; elsewhere only pids. */
export function systemProcesses(): ProcessTable {
  /** The fields after the command name (which may hold spaces and parentheses): state is [0], pgrp [2], starttime [19]. */
  const statFields = (pid: number | string): string[] | undefined => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return text.slice(text.lastIndexOf(')') + 2).split(' ');
    } catch {
      return undefined;
    }
  };
  const startTime = (pid: number): string | undefined => {
    const fields = statFields(pid);
    return fields && fields[0] !== 'Z' ? fields[19] : undefined;
  };
  /** Whether a process of the group runs; a zombie (exited, not yet reaped) does not. Undefined without /proc. */
  const procGroupAlive = (pgid: number): boolean | undefined => {
    let entries: string[];
    try {
      entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
    } catch {
      return undefined;
    }
    return entries.some((e) => {
      const fields = statFields(e);
      return fields !== undefined && fields[2] === String(pgid) && fields[0] !== 'Z';
    });
  };
  const read = (fn: () => string) => {
    try {
      return fn().trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const signal = (target: number) => {
    try {
      process.kill(target, 0);
      return true;
    } catch (error) {
      // EPERM: it runs, as another user.
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  return {
    self: () => ({
      pid: process.pid,
      startTime: startTime(process.pid),
      bootId: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
      pidNamespace: read(() => readlinkSync('/proc/self/ns/pid')),
      host: hostname(),
    }),
    startTime,
    isAlive(pid) {
      const fields = statFields(pid);
      return fields ? fields[0] !== 'Z' : signal(pid);
    },
    // The signal answers at once for a group that is gone (the usual case); /proc then rules out zombies.
    groupAlive: (pgid) => signal(-pgid) && (procGroupAlive(pgid) ?? true),
    killGroup(pgid, sig) {
      try {
        process.kill(-pgid, sig);
      } catch {
        // Gone already.
      }
    },
  };
}
