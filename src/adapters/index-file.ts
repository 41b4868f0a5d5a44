import { createHash } from 'node:crypto';

/**
 * Git's index file (`DIRC`, versions 2 and 3), for the scratch indexes of the
 * patch check: written from entries and read back here instead of by a git
 * process each time (`update-index --index-info`, `ls-files --stage`). Only
 * what `git apply --cached` needs: no stat data (zeros: nothing looks at a
 * work tree), SHA-1 object ids. See git's Documentation/gitformat-index.txt.
 */

export interface IndexEntry {
  /** Octal, as git prints it: `100644`, `100755`, `120000`, `160000`. */
  mode: string;
  blob: string;
  stage: number;
  path: string;
}

const HASH_BYTES = 20;
const STAT_BYTES = 40;

/** An index file holding `entries` (stage 0); undefined when an object id is not SHA-1 (git writes it then). */
export function writeIndex(entries: readonly Omit<IndexEntry, 'stage'>[]): Buffer | undefined {
  if (entries.some((e) => !/^[0-9a-f]{40}$/.test(e.blob))) return undefined;
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(sorted.length, 8);
  parts.push(header);
  for (const entry of sorted) {
    const path = Buffer.from(entry.path);
    const length = Math.floor((STAT_BYTES + HASH_BYTES + 2 + path.length + 8) / 8) * 8;
    const record = Buffer.alloc(length);
    record.writeUInt32BE(parseInt(entry.mode, 8), 24);
    record.write(entry.blob, STAT_BYTES, 'hex');
    record.writeUInt16BE(Math.min(path.length, 0xfff), STAT_BYTES + HASH_BYTES);
    path.copy(record, STAT_BYTES + HASH_BYTES + 2);
    parts.push(record);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** The entries of an index file of version 2 or 3; undefined for any other (git reads it then). */
export function readIndex(file: Buffer): IndexEntry[] | undefined {
  if (file.length < 12 || file.toString('latin1', 0, 4) !== 'DIRC') return undefined;
  const version = file.readUInt32BE(4);
  if (version !== 2 && version !== 3) return undefined;
  const count = file.readUInt32BE(8);
  const entries: IndexEntry[] = [];
  let at = 12;
  for (let i = 0; i < count; i++) {
    const mode = file.readUInt32BE(at + 24).toString(8);
    const blob = file.toString('hex', at + STAT_BYTES, at + STAT_BYTES + HASH_BYTES);
    const flags = file.readUInt16BE(at + STAT_BYTES + HASH_BYTES);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const nameOffset = STAT_BYTES + HASH_BYTES + 2 + (extended ? 2 : 0);
    const end = file.indexOf(0, at + nameOffset);
    if (end < 0) return undefined;
    entries.push({ mode, blob, stage: (flags >> 12) & 3, path: file.toString('utf8', at + nameOffset, end) });
    // Each entry is padded with 1 to 8 NULs to a multiple of 8 bytes.
    at += (nameOffset + (end - at - nameOffset) + 8) & ~7;
  }
  return entries;
}
