import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The environment every test child starts from: an allowlist, never the
 * developer's whole shell. `BRO_*`, `GIT_DIR`, `AWS_*`, `CI` … exported there
 * must not change an outcome (changesets' e2e helpers do the same).
 */
const ALLOWED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME', 'SYSTEMROOT'] as const;

export function sealedEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ALLOWED) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // No user or system git config (signing, hooks, default branch) reaches the tests' git.
  env.GIT_CONFIG_NOSYSTEM = '1';
  env.GIT_CONFIG_GLOBAL = '/dev/null';
  // No AWS profile or instance metadata: a bro child asks only the mocked or local endpoints a test gives it.
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_CONFIG_FILE = '/dev/null';
  env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** The directories of PATH, from the sealed environment. */
export const PATH = sealedEnv().PATH ?? '';

/** A fixed git identity and commit date: the commits tests make are the same on every run. */
export const FIXED_GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.invalid',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.invalid',
  GIT_COMMITTER_DATE: '2020-12-01T00:00:00Z',
} as const;

/** Where Debian installs programs: a test that must not depend on the developer's PATH looks only here. */
export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

/** Where an executable is: in `dirs` (default: the sealed PATH, then the system directories), or undefined. */
export function findProgram(name: string, dirs: readonly string[] = [...PATH.split(delimiter), ...SYSTEM_DIRS]) {
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
