import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { atomicWrite } from '../../adapters/fs.js';
import { SOURCES } from '../../config/series.js';

/**
 * `<work>/upgrade/state.json`: how far an upgrade got with each source's
 * rebase, so that a rerun resumes one a person finished by hand (`stopped`,
 * then `git am --continue` there) or one that went through (`done`), and
 * restarts one cut short (`started`) or made for other inputs (another tag,
 * a changed series). A file bro cannot read means a fresh start.
 */
export const UPGRADE_STATE_VERSION = 1;

const SourceState = z.strictObject({
  /** The series carried: its base and digest. */
  from: z.string(),
  digest: z.string(),
  onto: z.strictObject({ tag: z.string(), commit: z.string() }),
  newBase: z.string(),
  status: z.enum(['started', 'stopped', 'done']),
});

const UpgradeStateSchema = z.strictObject({
  schemaVersion: z.literal(UPGRADE_STATE_VERSION),
  kind: z.literal('bro.upgrade'),
  variant: z.string(),
  sources: z.partialRecord(z.enum(SOURCES), SourceState),
});

export type UpgradeState = z.infer<typeof UpgradeStateSchema>;
export type SourceUpgradeState = z.infer<typeof SourceState>;

export async function readUpgradeState(file: string, variant: string): Promise<UpgradeState> {
  const fresh: UpgradeState = { schemaVersion: UPGRADE_STATE_VERSION, kind: 'bro.upgrade', variant, sources: {} };
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return fresh;
  try {
    const parsed = UpgradeStateSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.variant === variant ? parsed.data : fresh;
  } catch {
    return fresh;
  }
}

export async function writeUpgradeState(file: string, state: UpgradeState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await atomicWrite(file, `${JSON.stringify(state, null, 2)}\n`);
}
