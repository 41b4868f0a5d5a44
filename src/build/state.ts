import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { atomicWrite } from '../adapters/fs.js';
import { ConfigError, StepError } from '../shared/errors.js';

/**
 * The workspace state file, `<work>/.bro/state.json`: for each step, the
 * digest of its inputs and its outputs. A step whose recorded inputs equal its
 * current inputs is done and is skipped; changed inputs rerun it and the steps
 * after it.
 */
export const STATE_SCHEMA_VERSION = 1;

const StepRecordSchema = z.object({
  status: z.enum(['done', 'failed', 'interrupted']),
  inputs: z.string(),
  outputs: z.record(z.string(), z.unknown()).default({}),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
});
export type StepRecord = z.infer<typeof StepRecordSchema>;

const StateSchema = z.object({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  steps: z.record(z.string(), StepRecordSchema),
});
export type State = z.infer<typeof StateSchema>;

/** Any JSON object with its schemaVersion, read before the rest: another version is refused as such, not as corrupted. */
export const VersionedSchema = z.looseObject({ schemaVersion: z.unknown().optional() });

export const statePath = (broDir: string) => join(broDir, 'state.json');

export async function readState(broDir: string): Promise<State> {
  const path = statePath(broDir);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return { schemaVersion: STATE_SCHEMA_VERSION, steps: {} };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, 'is not valid JSON', {
      cause: error,
      hint: `Delete ${path}; bro then redoes every step.`,
    });
  }
  const version = VersionedSchema.safeParse(data).data?.schemaVersion;
  if (version !== STATE_SCHEMA_VERSION) {
    throw new ConfigError(
      path,
      `has schemaVersion ${JSON.stringify(version)}: it was written by another version of bro (this one reads ${STATE_SCHEMA_VERSION})`,
      {
        hint: `Use the bro version that wrote it, or delete ${path}; bro then redoes every step.`,
      },
    );
  }
  const result = StateSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(
      path,
      `is corrupted: unexpected shape at ${issue?.path.join('.') || '(top level)'}: ${issue?.message}`,
      {
        hint: `Delete ${path}; bro then redoes every step.`,
      },
    );
  }
  return result.data;
}

/** Writes the state file atomically (adapters/fs.ts): a failed write leaves the old file and no temporary one. */
export async function writeState(broDir: string, state: State): Promise<void> {
  const path = statePath(broDir);
  try {
    await mkdir(dirname(path), { recursive: true });
    await atomicWrite(path, `${JSON.stringify(state, null, 2)}\n`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StepError('state', `Could not write ${path}: ${(error as Error).message}`, {
      cause: error,
      hint:
        code === 'ENOSPC'
          ? `Free disk space on the workspace's file system (a build needs more than 80 GB), then rerun: finished steps are not redone.`
          : undefined,
    });
  }
}

/** A stable digest of any JSON-like value (object keys sorted). */
export function digestOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(stableJson(value)).digest('hex')}`;
}

export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The state file as the pipeline uses it: every update is a read-modify-write
 * of the file, one at a time, so steps running side by side (the admin image
 * and the OS build, the regions of a push) never lose each other's records.
 */
export interface StateStore {
  /** The state file, for messages. */
  readonly path: string;
  get(id: string): Promise<StepRecord | undefined>;
  all(): Promise<State>;
  put(id: string, record: StepRecord): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  /** Reads, changes and writes one record as one update (`undefined` from `change` removes it). */
  modify(id: string, change: (record: StepRecord | undefined) => StepRecord | undefined): Promise<void>;
}

/** `lost`: whether another bro has taken the workspace over; from then on this store writes nothing. */
export function createStateStore(broDir: string, options: { lost?: () => boolean } = {}): StateStore {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const update = (change: (state: State) => void) =>
    serial(async () => {
      const state = await readState(broDir);
      change(state);
      if (!options.lost?.()) await writeState(broDir, state);
    });
  return {
    path: statePath(broDir),
    get: (id) => serial(async () => (await readState(broDir)).steps[id]),
    all: () => serial(() => readState(broDir)),
    put: (id, record) =>
      update((state) => {
        state.steps[id] = record;
      }),
    remove: (ids) =>
      update((state) => {
        for (const id of ids) delete state.steps[id];
      }),
    modify: (id, change) =>
      update((state) => {
        const next = change(state.steps[id]);
        if (next) state.steps[id] = next;
        else delete state.steps[id];
      }),
  };
}

/** A record for a step that started at `started` and ends now. */
export function stepRecord(status: StepRecord['status'], inputs: string, outputs: object, started: Date): StepRecord {
  const finished = new Date();
  return {
    status,
    inputs,
    outputs: { ...outputs },
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
  };
}

/** What makes work done: the inputs it had, what it recorded, and whether that still holds. */
export interface DoneWith<T> {
  /** What the work depends on (any JSON-like value; its digest is recorded). */
  inputs: unknown;
  /** The schema of what the work records: recorded outputs are parsed with it, never cast. */
  outputs: z.ZodType<T>;
  /** Redo the work whatever the state file says (--from, --only). */
  force?: boolean;
  /** Whether recorded outputs still hold (e.g. in AWS, in the checkout): false redoes the work. */
  verify?: (outputs: T) => Promise<boolean>;
}

export interface DoneCheck<T> {
  /** The digest of the inputs, to record the work under. */
  digest: string;
  /** Present when the work is done: what it recorded, parsed, and when it finished. */
  done?: { outputs: T; finishedAt: string };
}

/**
 * The one "done with these inputs" check, for whole steps (the pipeline) and
 * their parts (a region, a source): the record under `id` says `done` with the
 * digest of these inputs, its outputs parse, and `verify` (if any) says they
 * still hold. Outputs that do not parse are a corrupted state file, refused
 * with the way out, not guessed at.
 */
export async function checkDone<T>(state: StateStore, id: string, check: DoneWith<T>): Promise<DoneCheck<T>> {
  const digest = digestOf(check.inputs);
  if (check.force) return { digest };
  const record = await state.get(id);
  if (record?.status !== 'done' || record.inputs !== digest) return { digest };
  const outputs = parseRecorded(
    state.path,
    id,
    check.outputs,
    record.outputs,
    `Delete ${state.path}; bro then redoes every step.`,
  );
  if (check.verify && !(await check.verify(outputs))) return { digest };
  return { digest, done: { outputs, finishedAt: record.finishedAt } };
}

/**
 * The outputs recorded under `id`, parsed with their schema. A wrong shape is a
 * corrupted state file (exit 2), named with the record and the field.
 */
function parseRecorded<T>(path: string, id: string, schema: z.ZodType<T>, outputs: unknown, hint: string): T {
  const parsed = schema.safeParse(outputs);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ConfigError(
    path,
    `is corrupted: the outputs recorded for ${id} have an unexpected shape at ${issue?.path.join('.') || '(top level)'}: ${issue?.message}`,
    { hint },
  );
}

/**
 * A kind of record in the state file that is no step: the builds of the
 * workspace (`release:`), the channels it promoted (`channel:`), removals
 * under way (`prune:`), grants (`grants:`). Each kind has one schema, beside
 * the code that owns the record, and is written and read only through it.
 */
export interface RecordKind<T extends object> {
  /** What every id of the kind starts with, e.g. `release:`. */
  prefix: string;
  schema: z.ZodType<T>;
  /** What is lost when a corrupted record of this kind is removed: the error's hint says it. */
  ifRemoved: string;
}

export const recordKind = <T extends object>(
  prefix: string,
  schema: z.ZodType<T>,
  ifRemoved: string,
): RecordKind<T> => ({
  prefix,
  schema,
  ifRemoved,
});

/** What the records of a kind hold. */
export type RecordOf<K> = K extends RecordKind<infer T> ? T : never;

const recordHint = (path: string, id: string, kind: RecordKind<object>) =>
  `Fix or remove the "${id}" entry under "steps" in ${path}: ${kind.ifRemoved}`;

const parseRecord = <T extends object>(path: string, id: string, kind: RecordKind<T>, record: StepRecord) =>
  parseRecorded(path, id, kind.schema, record.outputs, recordHint(path, id, kind));

/** The record `id` of a kind, parsed; undefined when there is none. */
export async function readRecord<T extends object>(
  state: StateStore,
  kind: RecordKind<T>,
  id: string,
): Promise<T | undefined> {
  const record = await state.get(id);
  return record && parseRecord(state.path, id, kind, record);
}

/** Every record of a kind, parsed, by id. */
export async function readRecords<T extends object>(state: StateStore, kind: RecordKind<T>): Promise<Map<string, T>> {
  const records = new Map<string, T>();
  for (const [id, record] of Object.entries((await state.all()).steps))
    if (id.startsWith(kind.prefix)) records.set(id, parseRecord(state.path, id, kind, record));
  return records;
}

/** Writes the record `id` of a kind (its digest is of `outputs`). */
export async function writeRecord<T extends object>(
  state: StateStore,
  kind: RecordKind<T>,
  id: string,
  outputs: T,
): Promise<void> {
  await state.put(id, recordOf(kind, outputs));
}

/** Reads, changes and writes the record `id` of a kind as one update; `undefined` from `change` removes it. */
export async function modifyRecord<T extends object>(
  state: StateStore,
  kind: RecordKind<T>,
  id: string,
  change: (outputs: T | undefined) => T | undefined,
): Promise<void> {
  await state.modify(id, (record) => {
    const next = change(record && parseRecord(state.path, id, kind, record));
    return next === undefined ? undefined : recordOf(kind, next);
  });
}

const recordOf = <T extends object>(kind: RecordKind<T>, outputs: T): StepRecord =>
  stepRecord('done', digestOf(outputs), kind.schema.parse(outputs), new Date());

/**
 * Work recorded under `id`: skipped (its recorded outputs returned, `skipped`
 * set) when `checkDone` says so; otherwise done and recorded. For the parts of a step.
 */
export async function runRecorded<T extends object>(
  state: StateStore,
  id: string,
  check: DoneWith<T>,
  work: () => Promise<T>,
): Promise<T & { skipped?: boolean }> {
  const { digest, done } = await checkDone(state, id, check);
  if (done) return { ...done.outputs, skipped: true };
  const started = new Date();
  const outputs = await work();
  await state.put(id, stepRecord('done', digest, outputs, started));
  return outputs;
}
