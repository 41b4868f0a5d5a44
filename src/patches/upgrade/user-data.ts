import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { GitTrees } from '../../adapters/git-trees.js';
import type { Redactor } from '../../adapters/redactor.js';
import { parseUserData, registerSecrets } from '../../preview/index.js';
import { ConfigError } from '../../shared/errors.js';
import { oldInstanceConnect, readInstanceConnect, withInstanceConnect } from './instance-connect.js';
import { isTable, migrateSettings, type Migration, type Models, type Move, type Table } from './migrate-user-data.js';

/**
 * `--user-data old.toml`: the file as the same node on the new base
 * (migrate-user-data.ts for the settings, instance-connect.ts for the admin
 * container's sshd), and git's diff of the two. Passwords and auth strings
 * are registered as secrets first, so the diff shown is redacted; the file
 * written (`--user-data-out`) has them as given.
 */

export interface UserDataResult {
  migration: Migration;
  /** The new user data, TOML. */
  text: string;
  /** `git diff` of the old and the new (both as TOML written by bro), redacted. */
  diff: string;
}

export interface UserDataInput {
  file: string;
  text: string;
  models: Models;
  tags: { from: string; to: string };
  /** Settings of the patches the upgrade dropped, with upstream's key and field mapping for each. */
  advised: readonly Move[];
  /** The old admin series' patches, whose sshd_config lines said how sshd ran. */
  adminFrom: readonly string[];
  /** The new admin container's start script, when one handles EC2 Instance Connect. */
  startScript?: { path: string; text: string };
  adminTag: string;
  redactor: Redactor;
  trees: GitTrees;
  /** A directory of bro's own for the diff's files (0600). */
  scratch: string;
}

/** Reads and checks user data before anything else happens: a parse error is exit 2, naming the file. */
export function readUserData(file: string, text: string): Table {
  const data = parseUserData(file, text);
  if (!isTable(data.settings)) {
    throw new ConfigError(file, 'has no [settings] table', {
      hint: 'User data is a TOML document whose settings live under [settings…] tables.',
    });
  }
  return data;
}

export async function migrateUserData(input: UserDataInput): Promise<UserDataResult> {
  const data = readUserData(input.file, input.text);
  registerSecrets(data, input.redactor);
  registerSecrets(tomlEscaped(data), input.redactor);
  // Before anything changes: the migration shares the tables it keeps with `data`.
  const before = stringify(data);
  const migration = migrateSettings(input.file, data.settings as Table, input.models, input.tags, input.advised);
  switchOnInstanceConnect(migration, input);
  const after = { ...data, settings: migration.settings };
  const text = stringify(after);
  await rm(input.scratch, { recursive: true, force: true });
  await mkdir(join(input.scratch, input.tags.from), { recursive: true, mode: 0o700 });
  await mkdir(join(input.scratch, input.tags.to), { recursive: true, mode: 0o700 });
  const name = 'user-data.toml';
  await writeFile(join(input.scratch, input.tags.from, name), `${before}\n`, { mode: 0o600 });
  await writeFile(join(input.scratch, input.tags.to, name), `${text}\n`, { mode: 0o600 });
  try {
    const diff = await input.trees.diffFiles(input.scratch, join(input.tags.from, name), join(input.tags.to, name));
    return { migration, text: `${text}\n`, diff: input.redactor.redact(diff) };
  } finally {
    await rm(input.scratch, { recursive: true, force: true });
  }
}

/** The same document with every string as a TOML basic string spells it, so that a secret is redacted as the diff shows it too. */
function tomlEscaped(value: unknown): unknown {
  if (typeof value === 'string') return stringify({ s: value }).trimEnd().slice('s = "'.length, -1);
  if (Array.isArray(value)) return value.map(tomlEscaped);
  return isTable(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tomlEscaped(v)])) : value;
}

/**
 * The old admin container ran sshd with EC2 Instance Connect from its own
 * sshd_config; the new one does when its host-container user data says so.
 * Set for a node that configures the admin container at all.
 */
function switchOnInstanceConnect(migration: Migration, input: UserDataInput): void {
  const hostContainers = migration.settings['host-containers'];
  const admin = isTable(hostContainers) ? hostContainers.admin : undefined;
  const old = oldInstanceConnect(input.adminFrom);
  if (!isTable(admin) || !old.command) return;
  const eic = input.startScript && readInstanceConnect(input.startScript.path, input.startScript.text, old);
  if (!eic) {
    migration.notes.push(
      `EC2 Instance Connect: the admin container ${input.adminTag} has no start script that reads it from user data; it is not switched on.`,
    );
    return;
  }
  let json: Record<string, unknown> = {};
  if (typeof admin['user-data'] === 'string') {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(admin['user-data'], 'base64').toString('utf8'));
      if (isTable(parsed)) json = parsed;
    } catch {
      migration.notes.push(
        'EC2 Instance Connect: settings.host-containers.admin.user-data is not base64 of JSON; left as it was, not switched on.',
      );
      return;
    }
  }
  admin['user-data'] = Buffer.from(JSON.stringify(withInstanceConnect(json, eic))).toString('base64');
  const keys = eic.entries.map((e) => `${e.path.join('.')} = "${e.value}"`).join(', ');
  migration.notes.push(
    `EC2 Instance Connect switched on as ${eic.script} of the admin container ${input.adminTag} reads it: settings.host-containers.admin.user-data (base64 JSON) has ${keys}. ` +
      'It replaces the user data upstream would generate for the admin container (e.g. from the EC2 key pair): add ssh.authorized-keys there to keep key-pair logins.',
  );
}
