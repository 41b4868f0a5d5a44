import { parse as parseToml } from 'smol-toml';
import type { Git } from '../adapters/git.js';
import type { SourceName } from '../config/series.js';
import { isReleaseVersion } from '../config/version.js';

/**
 * The release an upstream commit belongs to, as upstream itself records it:
 * `version` in Bottlerocket's Release.toml, the admin container's VERSION
 * file. Untagged commits (the admin container's v0.5.2) have no other name.
 */
export async function versionAt(
  git: Git,
  mirror: string,
  source: SourceName,
  commit: string,
): Promise<string | undefined> {
  if (source === 'bottlerocket') {
    const text = await git.showFile(mirror, commit, 'Release.toml');
    if (text === undefined) return undefined;
    try {
      const version = (parseToml(text) as { version?: unknown }).version;
      return typeof version === 'string' && isReleaseVersion(version) ? version : undefined;
    } catch {
      return undefined;
    }
  }
  const text = (await git.showFile(mirror, commit, 'VERSION'))?.trim().replace(/^v/, '');
  return text && isReleaseVersion(text) ? text : undefined;
}
