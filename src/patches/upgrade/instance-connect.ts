import { isTable } from './migrate-user-data.js';

/**
 * EC2 Instance Connect on the new admin container, switched on the way its
 * own start script reads it: the script takes sshd's AuthorizedKeysCommand
 * and AuthorizedKeysCommandUser from the host container's user data (JSON,
 * base64 in `settings.host-containers.admin.user-data`) and turns EC2
 * Instance Connect on when they name its command and user. Everything here
 * is read from that script and from the old series' sshd_config lines.
 */

export interface InstanceConnect {
  /** The user-data JSON keys (`["ssh", "authorized-keys-command"]`) with the values to give them. */
  entries: { path: string[]; value: string }[];
  /** The script that reads them, for the notes. */
  script: string;
}

/** sshd's own lines for EC2 Instance Connect in the old admin series (added lines of its patches). */
export function oldInstanceConnect(patches: readonly string[]): { command?: string; user?: string } {
  const line = (name: string) =>
    patches
      .flatMap((p) => p.split('\n'))
      .map((l) => new RegExp(`^\\+\\s*${name}\\s+(.+?)\\s*$`).exec(l)?.[1])
      .find((v) => v !== undefined);
  return { command: line('AuthorizedKeysCommand'), user: line('AuthorizedKeysCommandUser') };
}

/**
 * The user data the start script needs for EC2 Instance Connect: the
 * variables it compares with the EIC command and user (`[[ $var == value ]]`
 * in the test that sets EIC on), and the jq path each variable is read from.
 */
export function readInstanceConnect(
  script: string,
  text: string,
  old: { command?: string; user?: string },
): InstanceConnect | undefined {
  const test = text.split('\n').find((l) => l.includes('eic_run_authorized_keys') && /\[\[/.test(l));
  if (!test) return undefined;
  const start = text.indexOf(test);
  const end = text.indexOf('then', start);
  const block = text.slice(start, end < 0 ? undefined : end);
  const comparisons = [...block.matchAll(/\$\{?(\w+)\}?\s*==\s*"?([^"\s\]]+)"?/g)].map((m) => ({
    variable: m[1]!,
    value: m[2]!,
  }));
  const entries: InstanceConnect['entries'] = [];
  for (const { variable, value } of comparisons) {
    const read = new RegExp(`${variable}=\\$\\(jq[^']*'([^']+)'`).exec(text)?.[1];
    const path = !read ? [] : [...read.matchAll(/\["([^"]+)"\]|\.([A-Za-z_][\w-]*)/g)].map((m) => m[1] ?? m[2]!);
    if (!path.length) return undefined;
    const prefix = value.replace(/\*$/, '');
    // The command: the old sshd_config's, when it is EIC's (its arguments come with it); the user: the script's.
    const given = value.endsWith('*') ? old.command : old.user;
    entries.push({ path, value: given?.startsWith(prefix) ? given : value.endsWith('*') ? `${prefix} %u %f` : prefix });
  }
  return entries.length ? { entries, script } : undefined;
}

/** The user-data JSON with the entries set (over what it had). */
export function withInstanceConnect(json: Record<string, unknown>, eic: InstanceConnect): Record<string, unknown> {
  const out = structuredClone(json);
  for (const { path, value } of eic.entries) {
    let at = out;
    for (const part of path.slice(0, -1)) {
      const next = at[part];
      at = at[part] = isTable(next) ? next : {};
    }
    at[path[path.length - 1]!] = value;
  }
  return out;
}
