import type { Pointer } from './steps/ssm-publish.js';
import { digestOf, stepRecord, type StateStore } from './state.js';

/**
 * What `bro promote` did to a channel in one region: `channel:<name>:<region>`
 * in the state file. Written before the parameters change (`pending`, with
 * what they held), then `done`: a promote killed in between still knows the
 * previous version on its rerun, so the rollback command stays right.
 */
export interface ChannelRecord {
  channel: string;
  region: string;
  status: 'pending' | 'done';
  to: Pointer;
  /** What the channel held before this promotion; absent for a new channel. */
  previous?: Partial<Pointer>;
  promotedAt: string;
}

export const channelId = (channel: string, region: string) => `channel:${channel}:${region}`;

export async function readChannel(
  state: StateStore,
  channel: string,
  region: string,
): Promise<ChannelRecord | undefined> {
  const record = await state.get(channelId(channel, region));
  const outputs = record?.outputs as Partial<ChannelRecord> | undefined;
  return outputs && typeof outputs.channel === 'string' && outputs.to ? (outputs as ChannelRecord) : undefined;
}

export async function writeChannel(state: StateStore, record: ChannelRecord): Promise<void> {
  await state.put(
    channelId(record.channel, record.region),
    stepRecord('done', digestOf(record.to), record, new Date()),
  );
}

/** Every channel recorded in the workspace: channel → region → the version it points at. */
export async function recordedChannels(state: StateStore): Promise<Record<string, Record<string, string>>> {
  const channels: Record<string, Record<string, string>> = {};
  for (const [id, record] of Object.entries((await state.all()).steps)) {
    if (!id.startsWith('channel:')) continue;
    const c = record.outputs as Partial<ChannelRecord>;
    if (c.status !== 'done' || !c.channel || !c.region || !c.to) continue;
    (channels[c.channel] ??= {})[c.region] = c.to.version;
  }
  return channels;
}

/** State records that are not steps (grants, releases, channels, prunes): the manifest's step list leaves them out. */
export const isBookkeeping = (id: string) => /^(grants|release|channel|prune):/.test(id);
