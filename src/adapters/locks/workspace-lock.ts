import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BroError, StepError } from '../../shared/errors.js';
import { acquireLock, describeHolder, takeoverReport, type Held, type RecordedGroup } from './lock.js';
import { sameNamespace, systemProcesses, type ProcessIdentity, type ProcessTable } from './process-table.js';

export type { RecordedGroup } from './lock.js';
export type { ProcessIdentity, ProcessTable } from './process-table.js';

/**
 * One bro at a time per workspace: `<work>/.bro/lock` (the lock of lock.ts,
 * refusing while its holder lives) names its owner and the process groups of
 * the programs it started (cargo make, docker push…).
 *
 * A dead owner's lock is taken over, but not while one of the process groups it
 * recorded still runs: a `kill -9` of bro leaves `cargo make` building, and a
 * second one in the same tree must not start. `--kill-orphans` stops them first.
 */
export interface WorkspaceLock {
  /** The dead bro whose lock was taken over. */
  stale?: ProcessIdentity;
  /** The orphaned process groups stopped by --kill-orphans before taking over. */
  killed: RecordedGroup[];
  /** Records a child's process group (the runner calls this when it starts one). */
  addGroup(pgid: number, command: string): void;
  /** Forgets a child's process group once nothing in it runs. */
  removeGroup(pgid: number): void;
  /** Whether another bro has taken the lock over (read now), as it may while this one is stopped (SIGSTOP, a suspended host). */
  lost(): boolean;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Stop the process groups a dead owner left running, then take over. */
  killOrphans?: boolean;
  processes?: Partial<ProcessTable>;
  /** How often the heartbeat (the lock's mtime) is refreshed; a holder silent for four of them counts as dead. */
  heartbeatSeconds?: number;
  /** Waits between checks while orphans stop (injectable: tests never wait on time). */
  pause?: () => Promise<void>;
  /** Says what the lock did that the user must know: a takeover, a wait. */
  warn?: (message: string) => void;
  /** Called once, with the error to stop with, when another bro has taken the lock over from this one. */
  onLost?: (error: BroError) => void;
}

const HEARTBEAT_SECONDS = 30;
/** An owner that cannot be checked from here counts as dead after this many missed heartbeats. */
const MISSED_HEARTBEATS = 4;

export async function lockWorkspace(broDir: string, options: LockOptions = {}): Promise<WorkspaceLock> {
  const os: ProcessTable = { ...systemProcesses(), ...options.processes };
  const staleSeconds = (options.heartbeatSeconds ?? HEARTBEAT_SECONDS) * MISSED_HEARTBEATS;
  const me = os.self();
  const path = join(broDir, 'lock');
  const warn = options.warn ?? (() => undefined);
  await mkdir(broDir, { recursive: true });

  let killed: RecordedGroup[] = [];
  let watching = false;
  const lock = await acquireLock(path, [], {
    staleMs: staleSeconds * 1000,
    pollMs: 500,
    processes: options.processes,
    whileHeld(held) {
      // A heartbeat ahead of this clock: watch it, for the stale period at most. A live holder touches it meanwhile.
      if (held.future && !held.beating) {
        if (!watching)
          warn(
            `The workspace lock ${path} has a heartbeat ahead of this host's clock (${describeHolder(held)}): watching whether its holder is alive, for ${staleSeconds / 60} minutes at most.`,
          );
        watching = true;
        return;
      }
      throw ownerRunning(held, me, path, broDir, staleSeconds);
    },
    async beforeTakeOver(held) {
      const owner = held.record?.owner;
      const orphans = owner ? held.record!.groups.filter((g) => groupRuns(g, owner, me, os)) : [];
      if (orphans.length && !options.killOrphans) throw orphansRunning(owner!, orphans, broDir);
      if (orphans.length)
        killed = await stopGroups(orphans, os, options.pause ?? (() => new Promise((r) => setTimeout(r, 200))));
    },
    onLost: () =>
      options.onLost?.(
        new BroError(
          `Another bro took over the workspace lock (${path}) while this one was stopped: this one stops here.`,
          {
            hint: "Nothing of this run was undone: the workspace is the other bro's now, as it left it. Run bro again once that one is done; the state file keeps what is finished.",
          },
        ),
      ),
  });
  if (lock.tookOver) warn(takeoverReport('the workspace lock', lock.tookOver, path));

  const { record } = lock;
  return {
    stale: lock.tookOver?.record?.owner,
    killed,
    // Every change is a whole-file rewrite, synchronous: a child's group is on disk before bro does anything
    // else, so a kill -9 right after a spawn cannot hide it from the next run.
    addGroup(pgid, command) {
      record.groups.push({ pgid, startTime: os.startTime(pgid), command });
      lock.rewrite();
    },
    removeGroup(pgid) {
      // A group whose leader exited may still hold its children: keep it while anything in it runs.
      // Forgotten in memory only: the file catches up with the next start (a dead group on disk is
      // harmless, the next run checks each one), which halves the writes per program.
      record.groups = record.groups.filter((g) => g.pgid !== pgid || os.groupAlive(pgid));
    },
    lost: () => lock.lost(),
    async release() {
      // Children that outlive bro keep the lock: the next run names them instead of building beside them.
      record.groups = record.groups.filter((g) => os.groupAlive(g.pgid));
      await lock.release(record.groups.length > 0);
    },
  };
}

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

const describeGroups = (groups: RecordedGroup[]) =>
  groups.map((g) => `process group ${g.pgid} (${g.command})`).join(', ');

function ownerRunning(held: Held, me: ProcessIdentity, path: string, broDir: string, staleSeconds: number): StepError {
  if (!held.record) {
    return new StepError('lock', `The workspace lock ${path} cannot be read, and something touched it recently`, {
      hint: `Another bro may hold it: it counts as abandoned once nothing touches it for ${staleSeconds / 60} minutes. If no bro runs in ${broDir} for sure, delete ${path}.`,
    });
  }
  const { startedAt, owner } = held.record;
  const where = owner.host === me.host ? 'another pid namespace (a container) of this host' : 'another host';
  return new StepError(
    'lock',
    `Another bro (pid ${owner.pid} on ${owner.host}${startedAt === '?' ? '' : `, started ${startedAt}`}) is running in this workspace (${broDir})`,
    {
      hint: held.verdict.checkable
        ? `Wait for it to finish, or use another --work-dir.`
        : `It runs in ${where}${owner.pidNamespace ? ` (${owner.pidNamespace})` : ''}, so bro cannot check it; its lock counts as abandoned once its heartbeat stops for ${staleSeconds / 60} minutes. If it is gone for sure, delete ${path}.`,
    },
  );
}

function orphansRunning(owner: ProcessIdentity, orphans: RecordedGroup[], broDir: string): StepError {
  return new StepError(
    'lock',
    `The bro that held this workspace (pid ${owner.pid} on ${owner.host}) is gone, but programs it started still run: ${describeGroups(orphans)}. A new build would run beside them in ${broDir}`,
    {
      hint: `Wait for them to end, or rerun with --kill-orphans to stop them first (kill -TERM -- -<group> stops one by hand).`,
    },
  );
}
