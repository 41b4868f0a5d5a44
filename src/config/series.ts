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
    const number = line.slice(0, 4);
    const same = names.find((n) => n.startsWith(`${number}-`));
    if (same) {
      throw new ConfigError(file, `line ${index + 1}: "${line}" has the number ${number} of "${same}"`, {
        hint: `Give each patch its own number: renumber the later one (git format-patch --start-number picks where numbering starts).`,
      });
    }
    names.push(line);
  });
  return names;
}

/** The patch names a `series` file mentions only in a comment: patches deliberately left out. */
export function commentedOutNames(text: string): string[] {
  return [...text.matchAll(/#.*$/gm)].flatMap((m) =>
    [...m[0].matchAll(/\d{4}-[A-Za-z0-9._-]+\.patch/g)].map((n) => n[0]),
  );
}

/**
 * The `.patch` files of a series directory against its `series` file: a name listed with no file
 * is refused, and so is a file that is not listed (nor named in a comment, as a patch left out on
 * purpose), which the build would leave out without a word.
 */
export function checkSeriesDirectory(
  file: string,
  text: string,
  listed: readonly string[],
  entries: readonly string[],
): void {
  const missing = listed.filter((name) => !entries.includes(name));
  if (missing.length) {
    throw new ConfigError(
      file,
      `lists ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not in its directory`,
      {
        hint: 'Add the missing patch files, or take their names out of the series file.',
      },
    );
  }
  const mentioned = new Set([...listed, ...commentedOutNames(text)]);
  const unlisted = entries.filter((e) => e.endsWith('.patch') && !mentioned.has(e)).sort();
  if (unlisted.length) {
    throw new ConfigError(
      file,
      `does not list ${unlisted.join(', ')}, which ${unlisted.length === 1 ? 'is' : 'are'} in its directory`,
      {
        hint: `List ${unlisted.length === 1 ? 'it' : 'each'} in the series file in the order it applies, or delete it; to keep a patch out on purpose, name it in a comment (# ${unlisted[0]}).`,
      },
    );
  }
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

/** The comment `bro patches refresh` puts first in a series file it writes: the digest of what it wrote. */
const WRITTEN_RE = /^# Written by bro patches refresh \((sha256:[0-9a-f]{64})\).*\n?/m;

export const withoutRecord = (series: string) => series.replace(WRITTEN_RE, '');

/** The digest of a series directory's files (`series` and the patches), the record line left out. */
export function writtenDigest(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort())
    hash.update(`${name}\0${name === 'series' ? withoutRecord(files[name] ?? '') : files[name]}\0`);
  return `sha256:${hash.digest('hex')}`;
}

/** The `series` text bro writes for these patches, with the record of what it wrote. */
export function writtenSeries(patches: readonly Pick<Patch, 'name' | 'content'>[]): string {
  const list = patches.map((p) => `${p.name}\n`).join('');
  const digest = writtenDigest({ series: list, ...Object.fromEntries(patches.map((p) => [p.name, p.content])) });
  return `# Written by bro patches refresh (${digest}): it overwrites this directory only as it wrote it.\n${list}`;
}

/**
 * Whether a series directory's files are as bro last wrote them (the digest in the series file
 * matches); 'no-record' when the series file has none (written by hand, or by an older bro).
 */
export function asWritten(files: Readonly<Record<string, string>>): boolean | 'no-record' {
  const recorded = WRITTEN_RE.exec(files.series ?? '')?.[1];
  return recorded ? recorded === writtenDigest(files) : 'no-record';
}
