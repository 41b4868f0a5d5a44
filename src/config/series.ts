import { createHash } from 'node:crypto';
import { ConfigError } from '../shared/errors.js';
import { compareVersions, isReleaseVersion } from './version.js';

/** The two upstream sources bro patches. */
export const SOURCES = ['bottlerocket', 'admin-container'] as const;
export type SourceName = (typeof SOURCES)[number];

export interface Patch {
  /** `0001-models-add-cri-registry-auths.patch` */
  name: string;
  /** Absolute path of the patch file. */
  path: string;
  content: string;
}

export interface Series {
  source: SourceName;
  /** The upstream version the series was written against, e.g. `1.0.4`. */
  base: string;
  /** Absolute path of `patches/<source>/<base>/`. */
  dir: string;
  patches: Patch[];
  /** sha256 over the patch names and contents, in order. */
  digest: string;
}

/** Parses a `series` file: one patch name per line; blank lines and `#` comments are allowed. */
export function parseSeriesFile(file: string, text: string): string[] {
  const names: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    if (!/^\d{4}-[A-Za-z0-9._-]+\.patch$/.test(line)) {
      throw new ConfigError(file, `line ${index + 1}: "${line}" is not a patch name of the form NNNN-name.patch`, {
        hint: 'List one NNNN-name.patch per line, in the order they apply.',
      });
    }
    if (names.includes(line)) throw new ConfigError(file, `line ${index + 1}: "${line}" is listed twice`);
    names.push(line);
  });
  return names;
}

export function seriesDigest(patches: readonly Pick<Patch, 'name' | 'content'>[]): string {
  const hash = createHash('sha256');
  for (const patch of patches) hash.update(`${patch.name}\0${patch.content}\0`);
  return `sha256:${hash.digest('hex')}`;
}

export interface SeriesChoice {
  base: string;
  /** Set when no series matches the version exactly and an older one is used. */
  warning?: string;
}

/**
 * The series whose base equals the upstream version; failing that, the newest
 * lower base, with a warning. Undefined when there is none.
 */
export function chooseSeriesBase(
  source: SourceName,
  bases: readonly string[],
  version: string,
): SeriesChoice | undefined {
  const releases = bases.filter(isReleaseVersion).sort(compareVersions);
  const exact = releases.find((b) => compareVersions(b, version) === 0);
  if (exact) return { base: exact };
  const lower = releases.filter((b) => compareVersions(b, version) < 0).pop();
  if (!lower) return undefined;
  return {
    base: lower,
    warning:
      `No ${source} patch series for ${version}; using the series for ${lower}. ` +
      `Run \`bro patches check --source ${source} --tags v${version}\` and, if needed, \`bro patches rebase --source ${source} --onto v${version}\`.`,
  };
}
