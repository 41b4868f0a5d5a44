import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { atomicWrite } from '../../adapters/fs.js';
import { SOURCES, type SourceName } from '../../config/series.js';
import { ConfigError, UsageError } from '../../shared/errors.js';

/**
 * A rebase in progress: `<work>/rebase/<source>/` is the git checkout where
 * `git am` runs, and `<work>/rebase/<source>.json` (beside it, so git never
 * sees it) says what `bro patches refresh` needs to export it: the series it
 * came from, the tag it is rebased onto, and what became of each patch.
 * `settings` of a patch was added later as an optional field: a state
 * written before it still reads.
 */
export const REBASE_STATE_VERSION = 1;

/** A setting of ours that upstream has under another key: `fields` maps our field names to upstream's, where they differ. */
const SettingMoveSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  fields: z.record(z.string(), z.string()),
});
export type SettingMove = z.infer<typeof SettingMoveSchema>;

const RebaseStateSchema = z.strictObject({
  schemaVersion: z.literal(REBASE_STATE_VERSION),
  kind: z.literal('bro.patches.rebase'),
  source: z.enum(SOURCES),
  from: z.strictObject({ base: z.string(), commit: z.string() }),
  onto: z.strictObject({ ref: z.string(), commit: z.string() }),
  /** The series directory to write: patches/<source>/<newBase>/. */
  newBase: z.string(),
  patches: z.array(
    z.strictObject({
      name: z.string(),
      subject: z.string(),
      /** Set for the patches left out because upstream already has them (as they are, or in another form). */
      dropped: z.string().optional(),
      /**
       * A patch left out because upstream has it in another form: each of its
       * settings that upstream has under another key, with our fields'
       * names there (`name` → `registry`), for migrating user data.
       */
      settings: z.array(SettingMoveSchema).optional(),
      /** Files the patch was pointed at because upstream renamed them. */
      moves: z.array(z.strictObject({ from: z.string(), to: z.string() })).default([]),
    }),
  ),
});

export type RebaseState = z.infer<typeof RebaseStateSchema>;

export interface RebaseWorkspace {
  /** The git checkout. */
  dir: string;
  stateFile: string;
  /** The patch files handed to `git am`. */
  amDir: string;
}

export function rebaseWorkspace(workRoot: string, source: SourceName): RebaseWorkspace {
  const dir = join(workRoot, 'rebase', source);
  return { dir, stateFile: `${dir}.json`, amDir: `${dir}.am` };
}

export async function writeRebaseState(workspace: RebaseWorkspace, state: RebaseState): Promise<void> {
  await mkdir(dirname(workspace.stateFile), { recursive: true });
  await atomicWrite(workspace.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

export async function readRebaseState(workspace: RebaseWorkspace, source: SourceName): Promise<RebaseState> {
  const text = await readFile(workspace.stateFile, 'utf8').catch(() => undefined);
  if (text === undefined) {
    throw new UsageError(`No ${source} rebase to refresh: ${workspace.stateFile} does not exist`, {
      hint: `Start one with \`bro patches rebase --source ${source} --onto <tag>\` (with the same --work-dir).`,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(workspace.stateFile, 'is not valid JSON', {
      cause: error,
      hint: 'Start the rebase again with `bro patches rebase`.',
    });
  }
  const result = RebaseStateSchema.safeParse(data);
  if (!result.success) {
    throw new ConfigError(
      workspace.stateFile,
      `was written by another version of bro (expected schemaVersion ${REBASE_STATE_VERSION})`,
      {
        hint: 'Start the rebase again with `bro patches rebase`.',
      },
    );
  }
  return result.data;
}
