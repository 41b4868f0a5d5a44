import { z } from 'zod';
import { ConfigError } from '../shared/errors.js';

/**
 * The lock file pins the commit each upstream ref resolved to the first time
 * bro used it. It is committed. A tag that later resolves elsewhere has moved,
 * and bro stops unless told `--update-lock`.
 */
export const LOCK_SCHEMA_VERSION = 1;

const LockSchema = z.strictObject({
  schemaVersion: z.literal(LOCK_SCHEMA_VERSION),
  pins: z.record(
    z.string(),
    z.strictObject({
      commit: z.string().regex(/^[0-9a-f]{40}$/),
    }),
  ),
});

export type Lock = z.infer<typeof LockSchema>;

export const emptyLock = (): Lock => ({ schemaVersion: LOCK_SCHEMA_VERSION, pins: {} });

export const pinKey = (source: string, ref: string) => `${source}@${ref}`;

export function parseLock(file: string, text: string): Lock {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, 'is not valid JSON', {
      cause: error,
      hint: 'Restore it from git, or delete it to re-pin every source.',
    });
  }
  const result = LockSchema.safeParse(data);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new ConfigError(file, `invalid lock file at ${first?.path.join('.') || '(top level)'}: ${first?.message}`, {
      hint: `Restore it from git, or delete it to re-pin every source (this bro writes schemaVersion ${LOCK_SCHEMA_VERSION}).`,
    });
  }
  return result.data;
}

export function serializeLock(lock: Lock): string {
  const pins = Object.fromEntries(Object.entries(lock.pins).sort(([a], [b]) => a.localeCompare(b)));
  return `${JSON.stringify({ schemaVersion: lock.schemaVersion, pins }, null, 2)}\n`;
}
