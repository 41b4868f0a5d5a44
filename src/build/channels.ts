import { z } from 'zod';
import { PointerSchema } from './steps/ssm-publish.js';
import { readRecords, recordKind, writeRecord, type RecordOf, type StateStore } from './state.js';

/**
 * What `bro promote` did to a channel in one region: `channel:<name>:<region>`
 * in the state file. Written before the parameters change (`pending`, with
 * what they held), then `done`: a promote killed in between still knows the
 * previous version on its rerun, so the rollback command stays right.
 */
const CHANNELS = recordKind(
  'channel:',
  z.object({
    channel: z.string(),
    region: z.string(),
    status: z.enum(['pending', 'done']),
    to: PointerSchema,
    /** What the channel held before this promotion; absent for a new channel. */
    previous: PointerSchema.partial().optional(),
    promotedAt: z.string(),
  }),
  "without it, the next promote of that channel in that region cannot name the version to roll back to, and prune protects the channel's AMI only by what SSM shows.",
);
export type ChannelRecord = RecordOf<typeof CHANNELS>;

const channelId = (channel: string, region: string) => `${CHANNELS.prefix}${channel}:${region}`;

export const writeChannel = (state: StateStore, record: ChannelRecord) =>
  writeRecord(state, CHANNELS, channelId(record.channel, record.region), record);

/** Every channel record of the workspace, promotions under way (`pending`) included. */
export const channelRecords = async (state: StateStore) => [...(await readRecords(state, CHANNELS)).values()];

/** Every channel recorded in the workspace: channel → region → the version it points at. */
export async function recordedChannels(state: StateStore): Promise<Record<string, Record<string, string>>> {
  const channels: Record<string, Record<string, string>> = {};
  for (const c of await channelRecords(state))
    if (c.status === 'done') (channels[c.channel] ??= {})[c.region] = c.to.version;
  return channels;
}

/** State records that are not steps (grants, build tags, releases, channels, prunes): the manifest's step list leaves them out. */
export const isBookkeeping = (id: string) => /^((grants|release|channel|prune):|build-tags$)/.test(id);
