import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
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
  const version = (data as { schemaVersion?: unknown } | null)?.schemaVersion;
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

/** Writes the state file atomically (a temporary file renamed over it); a failed write leaves no temporary file. */
export async function writeState(broDir: string, state: State): Promise<void> {
  const path = statePath(broDir);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
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
  get(id: string): Promise<StepRecord | undefined>;
  all(): Promise<State>;
  put(id: string, record: StepRecord): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  /** Reads, changes and writes one record as one update (`undefined` from `change` removes it). */
  modify(id: string, change: (record: StepRecord | undefined) => StepRecord | undefined): Promise<void>;
}

export function createStateStore(broDir: string): StateStore {
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
      await writeState(broDir, state);
    });
  return {
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
export function stepRecord(
  status: StepRecord['status'],
  inputs: string,
  outputs: Record<string, unknown>,
  started: Date,
): StepRecord {
  const finished = new Date();
  return {
    status,
    inputs,
    outputs,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
  };
}

/** Whether a record says the step finished with these inputs. */
export const isDone = (record: StepRecord | undefined, inputs: string): record is StepRecord =>
  record?.status === 'done' && record.inputs === inputs;

/**
 * Work recorded under `id`: skipped (its recorded outputs returned, `skipped`
 * set) when the record says it finished with these inputs, unless forced;
 * otherwise done and recorded. For the per-region parts of a step.
 */
export async function runRecorded<T extends object>(
  state: StateStore,
  id: string,
  inputs: unknown,
  force: boolean,
  work: () => Promise<T>,
): Promise<T & { skipped?: boolean }> {
  const digest = digestOf(inputs);
  const record = await state.get(id);
  if (!force && isDone(record, digest)) return { ...(record.outputs as T), skipped: true };
  const started = new Date();
  const outputs = await work();
  await state.put(id, stepRecord('done', digest, outputs as Record<string, unknown>, started));
  return outputs;
}
