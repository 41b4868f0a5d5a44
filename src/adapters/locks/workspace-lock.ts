import { readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StepError } from '../../shared/errors.js';

/**
 * One bro at a time per workspace: `<work>/.bro/lock` names its owner and the
 * process groups of the programs it started (cargo make, docker push…).
 *
 * The owner is a pid plus what makes it unique on this machine: the process's
 * start time, the kernel's boot id, the pid namespace and the host. So a bro
 * killed as pid 1 in a container is told from the pid 1 of the next container,
 * and a reboot from a live build. An owner that cannot be checked from here
 * (another host or pid namespace) counts as alive while it keeps the lock's
 * heartbeat (its mtime) fresh.
 *
 * A dead owner's lock is taken over, but not while one of the process groups it
 * recorded still runs: a `kill -9` of bro leaves `cargo make` building, and a
 * second one in the same tree must not start. `--kill-orphans` stops them first.
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

export interface RecordedGroup {
  /** The process group id: the pid of the program bro started in its own group. */
  pgid: number;
  startTime?: string;
  /** The program, for the message that names it (argv[0..1], never secrets). */
  command: string;
}

interface LockFile {
  owner: ProcessIdentity;
  startedAt: string;
  groups: RecordedGroup[];
}

export interface WorkspaceLock {
  /** The dead bro whose lock was taken over. */
  stale?: ProcessIdentity;
  /** The orphaned process groups stopped by --kill-orphans before taking over. */
  killed: RecordedGroup[];
  /** Records a child's process group (the runner calls this when it starts one). */
  addGroup(pgid: number, command: string): void;
  /** Forgets a child's process group once nothing in it runs. */
  removeGroup(pgid: number): void;
  release(): Promise<void>;
}

/** What the lock needs from the OS; tests replace parts of it. */
export interface ProcessTable {
  self(): ProcessIdentity;
  /** Start time of a running pid, undefined when it does not run (or the OS does not tell). */
  startTime(pid: number): string | undefined;
  isAlive(pid: number): boolean;
  groupAlive(pgid: number): boolean;
  killGroup(pgid: number, signal: NodeJS.Signals): void;
}

export interface LockOptions {
  /** Stop the process groups a dead owner left running, then take over. */
  killOrphans?: boolean;
  processes?: Partial<ProcessTable>;
  /** How often the heartbeat (the lock's mtime) is refreshed, and when a silent owner counts as dead. */
  heartbeatSeconds?: number;
  /** Waits between checks while orphans stop (injectable: tests never wait on time). */
  pause?: () => Promise<void>;
}

const HEARTBEAT_SECONDS = 30;
/** An owner that cannot be checked from here counts as dead after this many missed heartbeats. */
const MISSED_HEARTBEATS = 4;

export async function lockWorkspace(broDir: string, options: LockOptions = {}): Promise<WorkspaceLock> {
  const os: ProcessTable = { ...systemProcesses(), ...options.processes };
  const heartbeat = options.heartbeatSeconds ?? HEARTBEAT_SECONDS;
  const me = os.self();
  const path = join(broDir, 'lock');
  await mkdir(broDir, { recursive: true });
  const content: LockFile = { owner: me, startedAt: new Date().toISOString(), groups: [] };

  let stale: ProcessIdentity | undefined;
  let killed: RecordedGroup[] = [];
  if (!(await create(path, content))) {
    const held = await readLock(path);
    const verdict = held ? ownerStatus(held.lock.owner, held.mtimeMs, me, os, heartbeat) : 'dead';
    if (held && verdict !== 'dead') throw ownerRunning(held.lock, verdict, path, broDir);
    const orphans = (held?.lock.groups ?? []).filter((g) => groupRuns(g, held!.lock.owner, me, os));
    if (orphans.length && !options.killOrphans) throw orphansRunning(held!.lock.owner, orphans, broDir);
    if (orphans.length)
      killed = await stopGroups(orphans, os, options.pause ?? (() => new Promise((r) => setTimeout(r, 200))));
    stale = held?.lock.owner;
    // Move it aside (atomic), then take the lock. Of two bros taking it over at once, the second may
    // move the first one's new lock aside: it then puts it back and gives up.
    const aside = `${path}.stale-${me.pid}`;
    const moved = await rename(path, aside).then(
      () => true,
      () => false,
    );
    const movedLock = moved ? await readLock(aside) : undefined;
    if (held && movedLock && !sameOwnerRecord(movedLock.lock.owner, held.lock.owner)) {
      await link(aside, path).catch(() => undefined);
      await rm(aside, { force: true });
      throw new StepError('lock', `Another bro took over the stale lock in ${broDir} at the same time`, {
        hint: 'Run one build per workspace.',
      });
    }
    await rm(aside, { force: true });
    if (!(await create(path, content))) {
      throw new StepError('lock', `Another bro took over the stale lock in ${broDir} at the same time`, {
        hint: 'Run one build per workspace.',
      });
    }
  }

  // Every change is a whole-file rewrite, synchronous: a child's group is on disk before bro does anything
  // else, so a kill -9 right after a spawn cannot hide it from the next run.
  let released = false;
  const save = () => {
    if (released) return;
    const tmp = `${path}.${me.pid}.tmp`;
    try {
      writeFileSync(tmp, serialize(content));
      renameSync(tmp, path);
    } catch {
      // A lock that cannot be updated still holds the workspace; the next run then sees fewer groups.
    }
  };
  const beat = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
  }, heartbeat * 1000);
  beat.unref();

  return {
    stale,
    killed,
    addGroup(pgid, command) {
      content.groups.push({ pgid, startTime: os.startTime(pgid), command });
      save();
    },
    removeGroup(pgid) {
      // A group whose leader exited may still hold its children: keep it while anything in it runs.
      // Forgotten in memory only: the file catches up with the next start (a dead group on disk is
      // harmless, the next run checks each one), which halves the writes per program.
      content.groups = content.groups.filter((g) => g.pgid !== pgid || os.groupAlive(pgid));
    },
    async release() {
      clearInterval(beat);
      released = true;
      const held = await readLock(path);
      if (!held || !sameProcess(held.lock.owner, me)) return;
      // Children that outlive bro keep the lock: the next run names them instead of building beside them.
      content.groups = content.groups.filter((g) => os.groupAlive(g.pgid));
      if (content.groups.length) {
        await writeFile(path, serialize(content));
        return;
      }
      await rm(path, { force: true });
    },
  };
}

type OwnerStatus = 'alive' | 'dead' | 'unknown';

/** Whether the recorded owner still runs, as far as this process can tell. */
function ownerStatus(
  owner: ProcessIdentity,
  mtimeMs: number,
  me: ProcessIdentity,
  os: ProcessTable,
  heartbeat: number,
): OwnerStatus {
  if (sameNamespace(owner, me)) {
    if (owner.pid === me.pid) return 'dead';
    if (!os.isAlive(owner.pid)) return 'dead';
    // The pid runs: the same process only if it started at the same time (pids are reused, pid 1 in every container).
    if (owner.startTime && me.startTime) return os.startTime(owner.pid) === owner.startTime ? 'alive' : 'dead';
    return 'alive';
  }
  // Another boot of this host: everything from before the reboot is gone.
  if (owner.host === me.host && owner.bootId && me.bootId && owner.bootId !== me.bootId) return 'dead';
  // The same container restarted (same host name, same kernel, a new pid namespace): its processes are gone.
  if (owner.host === me.host && owner.bootId === me.bootId && owner.pidNamespace !== me.pidNamespace) return 'dead';
  // Another host or container: only the heartbeat tells.
  return Date.now() - mtimeMs > heartbeat * MISSED_HEARTBEATS * 1000 ? 'dead' : 'unknown';
}

/** Whether pids in `owner`'s records mean the same processes here. */
const sameNamespace = (owner: ProcessIdentity, me: ProcessIdentity) =>
  owner.host === me.host && owner.bootId === me.bootId && owner.pidNamespace === me.pidNamespace;

const sameProcess = (a: ProcessIdentity, b: ProcessIdentity) =>
  sameNamespace(a, b) && a.pid === b.pid && a.startTime === b.startTime;

/** Whether a recorded group still runs (checkable only in the owner's pid namespace). */
function groupRuns(group: RecordedGroup, owner: ProcessIdentity, me: ProcessIdentity, os: ProcessTable): boolean {
  if (!sameNamespace(owner, me) || !os.groupAlive(group.pgid)) return false;
  // The leader runs with another start time: the id was reused by an unrelated group.
  const leader = os.startTime(group.pgid);
  return !(group.startTime && leader && leader !== group.startTime);
}

async function stopGroups(
  groups: RecordedGroup[],
  os: ProcessTable,
  pause: () => Promise<void>,
): Promise<RecordedGroup[]> {
  for (const g of groups) os.killGroup(g.pgid, 'SIGTERM');
  // Give them a while to stop cleanly (docker stops its containers), then make sure.
  for (let i = 0; i < 50 && groups.some((g) => os.groupAlive(g.pgid)); i++) await pause();
  for (const g of groups) if (os.groupAlive(g.pgid)) os.killGroup(g.pgid, 'SIGKILL');
  while (groups.some((g) => os.groupAlive(g.pgid))) await pause();
  return groups;
}

const describeOwner = (o: ProcessIdentity) => `pid ${o.pid} on ${o.host}`;
const describeGroups = (groups: RecordedGroup[]) =>
  groups.map((g) => `process group ${g.pgid} (${g.command})`).join(', ');

function ownerRunning(lock: LockFile, verdict: OwnerStatus, path: string, broDir: string): StepError {
  const who = describeOwner(lock.owner);
  return new StepError(
    'lock',
    `Another bro (${who}${lock.startedAt === '?' ? '' : `, started ${lock.startedAt}`}) is running in this workspace (${broDir})`,
    {
      hint:
        verdict === 'unknown'
          ? `It runs in another host or container, so bro cannot check it; its lock counts as abandoned once its heartbeat stops for ${(MISSED_HEARTBEATS * HEARTBEAT_SECONDS) / 60} minutes. If it is gone for sure, delete ${path}.`
          : `Wait for it to finish, or use another --work-dir.`,
    },
  );
}

function orphansRunning(owner: ProcessIdentity, orphans: RecordedGroup[], broDir: string): StepError {
  return new StepError(
    'lock',
    `The bro that held this workspace (${describeOwner(owner)}) is gone, but programs it started still run: ${describeGroups(orphans)}. A new build would run beside them in ${broDir}`,
    {
      hint: `Wait for them to end, or rerun with --kill-orphans to stop them first (kill -TERM -- -<group> stops one by hand).`,
    },
  );
}

function serialize(lock: LockFile): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** Creates the lock with its content in one step (a hard link of a complete file): no one reads it half-written. */
async function create(path: string, lock: LockFile): Promise<boolean> {
  const tmp = `${path}.new-${lock.owner.pid}`;
  await writeFile(tmp, serialize(lock));
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links: create it exclusively, then write it.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      return writeFile(path, serialize(lock), { flag: 'wx' }).then(
        () => true,
        (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? false : Promise.reject(e)),
      );
    }
    throw error;
  } finally {
    await rm(tmp, { force: true });
  }
}

const sameOwnerRecord = (a: ProcessIdentity, b: ProcessIdentity) =>
  a.pid === b.pid && a.startTime === b.startTime && a.host === b.host && a.bootId === b.bootId;

/** The lock's content and mtime; a lock from an older bro (a bare pid) reads as an owner with only a pid. */
async function readLock(path: string): Promise<{ lock: LockFile; mtimeMs: number } | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: 0 }));
  try {
    const data = JSON.parse(text) as Partial<LockFile>;
    if (data && typeof data.owner?.pid === 'number')
      return { lock: { owner: data.owner, startedAt: data.startedAt ?? '?', groups: data.groups ?? [] }, mtimeMs };
  } catch {
    // Below: the old format.
  }
  const pid = Number.parseInt(text, 10);
  if (!(Number.isInteger(pid) && pid > 0)) return undefined;
  // The old format says nothing but the pid: assume this machine and namespace, and no start time.
  const here = systemProcesses().self();
  return { lock: { owner: { ...here, pid, startTime: undefined }, startedAt: '?', groups: [] }, mtimeMs };
}

/** The OS as the lock sees it: Linux tells start times, boot ids and namespaces through /proc; elsewhere only pids. */
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
