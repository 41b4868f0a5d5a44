import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { atomicWrite, atomicWriteSync } from '../fs.js';
import { sameNamespace, systemProcesses, type ProcessIdentity, type ProcessTable } from './process-table.js';

/**
 * The one lock file bro uses, under two policies: the mirror lock (wait, then
 * reuse what the holder made) and the workspace lock (refuse, and track the
 * programs the holder started). A lock file names its owner in full (pid,
 * start time, boot id, pid namespace, host, and a random token that tells two
 * locks of one process apart) and is touched by its owner every quarter of the
 * stale period: that mtime is its heartbeat.
 *
 * The rule, for both: a holder is dead only when bro can prove it.
 * - In the same pid namespace (same host, same boot): no process has its pid,
 *   or the process with its pid started at another time (pids are reused).
 * - On the same host after a reboot (another boot id): everything before it is gone.
 * - Anywhere (another pid namespace, another host, an unreadable lock file):
 *   no heartbeat for the stale period. Until then it counts as alive.
 * A heartbeat in the future (another host's clock ahead of ours) counts from
 * the moment this bro first saw it, so it blocks for the stale period, not for
 * the skew. A dead holder's lock is taken over, and the caller is told whose
 * it was and why it counted as dead (`tookOver`, `takeoverReport`).
 */
export interface LockOwner extends ProcessIdentity {
  /** Absent in locks of older bros. */
  token?: string;
}

export interface RecordedGroup {
  /** The process group id: the pid of the program bro started in its own group. */
  pgid: number;
  startTime?: string;
  /** The program, for the message that names it (argv[0..1], never secrets). */
  command: string;
}

export interface LockRecord {
  owner: LockOwner;
  startedAt: string;
  groups: RecordedGroup[];
}

/** A lock file as another bro finds it. */
export interface Held {
  /** Undefined when the file cannot be read as a lock (corrupt). */
  record?: LockRecord;
  text: string;
  /** Process groups named in a corrupt file (pids only: nothing tells whether they are still its programs). */
  scavenged: number[];
  /** Whether its mtime is ahead of this clock. */
  future: boolean;
  /** Whether its heartbeat moved while this bro watched it. */
  beating: boolean;
  verdict: { dead: boolean; reason: string; checkable: boolean };
}

export interface LockHandle {
  readonly me: LockOwner;
  /** What the lock file says; `rewrite()` puts changes to it on disk. */
  readonly record: LockRecord;
  /** The dead holder whose lock was taken over to get this one. */
  readonly tookOver?: Held;
  /** Whether another bro took this lock over while this one was stopped or silent past the stale period. */
  lost(): boolean;
  /** Rewrites the record, synchronously (on disk before the caller goes on); skipped once the lock is lost. */
  rewrite(): void;
  /** Removes the lock, or with `keep`, leaves the record in it; nothing once it is lost. */
  release(keep?: boolean): Promise<void>;
}

export interface AcquireOptions {
  /** How long a holder may be silent before it counts as dead; the heartbeat beats four times in it. */
  staleMs: number;
  /** How often a waiter looks again. */
  pollMs: number;
  /** The lock is held by a live holder: return to look again after `pollMs`, or throw to refuse. */
  whileHeld(held: Held): void;
  /** A dead holder's lock is about to be taken over: throw to refuse, or stop what it left running first. */
  beforeTakeOver?(held: Held): Promise<void>;
  /** Called once when a holder finds that another bro took its lock over. */
  onLost?(): void;
  signal?: AbortSignal;
  processes?: Partial<ProcessTable>;
}

const LOCK_SCHEMA_VERSION = 1;

const OwnerSchema = z.object({
  pid: z.number().int().positive(),
  startTime: z.string().optional(),
  bootId: z.string().optional(),
  pidNamespace: z.string().optional(),
  host: z.string(),
  token: z.string().optional(),
});
const LockFileSchema = z.union([
  z.object({
    schemaVersion: z.literal(LOCK_SCHEMA_VERSION).optional(),
    owner: OwnerSchema,
    startedAt: z.string().default('?'),
    groups: z
      .array(z.object({ pgid: z.number().int(), startTime: z.string().optional(), command: z.string() }))
      .default([]),
  }),
  // The mirror lock of older bros: host, pid and token, nothing else.
  OwnerSchema.required({ token: true }).transform((owner) => ({ owner, startedAt: '?', groups: [] })),
]);

export const serializeLock = (record: LockRecord) =>
  `${JSON.stringify({ schemaVersion: LOCK_SCHEMA_VERSION, ...record }, null, 2)}\n`;

/** Reads a lock file's record (undefined when it is not a lock); a bare pid (older bros) is an owner on this machine. */
function parseLock(text: string, here: () => ProcessIdentity): LockRecord | undefined {
  const pid = /^\s*(\d+)\s*$/.exec(text)?.[1];
  if (pid) return { owner: { ...here(), pid: Number(pid), startTime: undefined }, startedAt: '?', groups: [] };
  try {
    const parsed = LockFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the recorded owner is dead, by the rule above. */
export function judge(
  owner: LockOwner | undefined,
  silentMs: number,
  staleMs: number,
  me: ProcessIdentity,
  os: ProcessTable,
): Held['verdict'] {
  const checkable = owner !== undefined && sameNamespace(owner, me);
  if (owner && owner.host === me.host && owner.bootId && me.bootId && owner.bootId !== me.bootId)
    return { dead: true, checkable, reason: 'which ran before this host rebooted' };
  if (owner && checkable) {
    if (!os.isAlive(owner.pid)) return { dead: true, checkable, reason: 'which is no longer running' };
    const now = os.startTime(owner.pid);
    if (owner.startTime ? now && now !== owner.startTime : owner.pid === me.pid)
      return { dead: true, checkable, reason: 'whose pid now belongs to another process' };
  }
  const silent = duration(silentMs);
  if (silentMs > staleMs)
    return {
      dead: true,
      checkable,
      reason: owner ? `whose heartbeat stopped ${silent} ago` : `untouched for ${silent}`,
    };
  return { dead: false, checkable, reason: checkable ? 'which is running' : 'whose heartbeat is fresh' };
}

/** `95 s`, `12 min`, `3 h`, `40 days`. */
function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return s < 172_800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} days`;
}

/** Takes the lock at `path`, waiting or refusing as `options` say while a live holder has it. */
export async function acquireLock(path: string, groups: RecordedGroup[], options: AcquireOptions): Promise<LockHandle> {
  const os: ProcessTable = { ...systemProcesses(), ...options.processes };
  const me: LockOwner = { ...os.self(), token: randomBytes(8).toString('hex') };
  const initial: LockRecord = { owner: me, startedAt: new Date().toISOString(), groups };
  /** Each mtime seen, with when it was first seen here: a heartbeat in the future counts from then. */
  const seen = new Map<number, number>();
  const look = async (): Promise<Held | undefined> => {
    const [text, mtimeMs] = await Promise.all([
      // A lock bro may not read counts as unreadable (corrupt), not as gone.
      readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : '')),
      stat(path).then(
        (s) => s.mtimeMs,
        () => undefined,
      ),
    ]);
    if (text === undefined || mtimeMs === undefined) return undefined;
    const now = Date.now();
    if (!seen.has(mtimeMs)) seen.set(mtimeMs, now);
    const silentMs = now - Math.min(mtimeMs, seen.get(mtimeMs)!);
    const record = parseLock(text, () => os.self());
    return {
      record,
      text,
      scavenged: record ? [] : [...text.matchAll(/"pgid"\s*:\s*(\d+)/g)].map((m) => Number(m[1])),
      future: mtimeMs > now,
      beating: seen.size > 1,
      verdict: judge(record?.owner, silentMs, options.staleMs, me, os),
    };
  };

  let tookOver: Held | undefined;
  while (!(await create(path, serializeLock(initial), me.token!))) {
    const held = await look();
    if (!held) continue;
    if (held.verdict.dead) {
      await options.beforeTakeOver?.(held);
      if (await takeOver(path, held, me.token!)) tookOver = held;
      continue;
    }
    options.whileHeld(held);
    options.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  return holding(path, initial, tookOver, options);
}

/** The handle of a lock this bro holds: its heartbeat, its rewrites, its release. */
function holding(path: string, record: LockRecord, tookOver: Held | undefined, options: AcquireOptions): LockHandle {
  const me = record.owner;
  let lost = false;
  const mine = (text: string | undefined) => text !== undefined && parseLock(text, () => me)?.owner.token === me.token;
  const loseIf = (isMine: boolean) => {
    if (isMine || lost) return isMine;
    lost = true;
    clearInterval(beat);
    options.onLost?.();
    return false;
  };
  const readSync = () => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const beat = setInterval(
    () =>
      void readFile(path, 'utf8')
        .then(
          (text) => {
            if (!loseIf(mine(text))) return;
            const now = new Date();
            return utimes(path, now, now);
          },
          () => loseIf(false),
        )
        .catch(() => undefined),
    Math.max(50, Math.floor(options.staleMs / 4)),
  );
  beat.unref();
  return {
    me,
    record,
    tookOver,
    // Asked when the work failed: read now, not at the next heartbeat (a resumed bro fails before that).
    lost: () => !loseIf(mine(readSync())),
    rewrite() {
      if (!loseIf(mine(readSync()))) return;
      try {
        atomicWriteSync(path, serializeLock(record), { flush: false });
      } catch {
        // A lock that cannot be updated still holds; the next bro then sees fewer groups.
      }
    },
    async release(keep) {
      clearInterval(beat);
      if (!loseIf(mine(await readFile(path, 'utf8').catch(() => undefined)))) return;
      if (keep) await atomicWrite(path, serializeLock(record));
      else await rm(path, { force: true });
    },
  };
}

/** Creates the lock with its content in one step (a hard link of a complete file): no one reads it half-written. */
async function create(path: string, content: string, token: string): Promise<boolean> {
  const tmp = `${path}.new-${token}`;
  await writeFile(tmp, content);
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links: create it exclusively, then write it.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      return writeFile(path, content, { flag: 'wx' }).then(
        () => true,
        (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? false : Promise.reject(e)),
      );
    }
    throw error;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Moves a dead holder's lock aside (atomic: of two bros taking it over, one moves it). If what was moved
 * is not the lock judged (another bro took over in between and holds a fresh one), it is put back. An
 * unreadable lock is kept as `<path>.corrupt` for whoever wants to see it.
 */
async function takeOver(path: string, held: Held, token: string): Promise<boolean> {
  const aside = `${path}.stale-${token}`;
  const moved = await rename(path, aside).then(
    () => readFile(aside, 'utf8').catch(() => undefined),
    () => false as const,
  );
  if (moved === false) return false;
  if (moved !== held.text) {
    await link(aside, path).catch(() => undefined);
    await rm(aside, { force: true });
    return false;
  }
  if (held.record) await rm(aside, { force: true });
  else await rename(aside, `${path}.corrupt`).catch(() => rm(aside, { force: true }));
  return true;
}

/** Who holds a lock, for messages: `pid 12 on host-a` (with its pid namespace when bro cannot check it). */
export function describeHolder(held: Held): string {
  if (!held.record) {
    const shown = held.text.trim().slice(0, 60);
    return `an unreadable lock file (${shown ? JSON.stringify(shown) : 'empty'})`;
  }
  const { owner } = held.record;
  const ns = owner.pidNamespace && !held.verdict.checkable ? `, pid namespace ${owner.pidNamespace}` : '';
  return `pid ${owner.pid} on ${owner.host}${ns}`;
}

/** The warning for a lock taken over: whose it was, why it counted as dead, what it had recorded. */
export function takeoverReport(what: string, held: Held, path: string): string {
  const { record, verdict, scavenged } = held;
  const started = record && record.startedAt !== '?' ? `, started ${record.startedAt}` : '';
  const ns = record?.owner.pidNamespace && !verdict.checkable ? `, pid namespace ${record.owner.pidNamespace}` : '';
  const whose = record
    ? `left by pid ${record.owner.pid}, ${verdict.reason} (on ${record.owner.host}${ns}${started})`
    : `held by ${describeHolder(held)}, ${verdict.reason}; that file is kept as ${path}.corrupt`;
  const groups = scavenged.length
    ? ` It names process groups ${scavenged.join(', ')}: check them (ps -g <group>) before you trust the workspace.`
    : '';
  return `Took over ${what} ${whose}.${groups}`;
}
