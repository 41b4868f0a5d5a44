import { join } from 'node:path';
import type { Project } from '../adapters/project.js';
import type { Series, SourceName } from '../config/series.js';
import { compareVersions, isReleaseVersion } from '../config/version.js';
import { ConfigError } from '../shared/errors.js';
import { parseFormatPatch, type FilePatch } from '../config/patch-file.js';

/** A patch of the series, parsed once and shared by every tag checked. */
export interface SeriesPatch {
  name: string;
  content: string;
  files: FilePatch[];
  /** Every path the patch reads or writes. */
  paths: string[];
  /** Paths the patch expects to exist (it changes, deletes or renames them). */
  reads: string[];
  /** The upstream commit the patch backports, from `Upstream-Status: Backport [<commit>, …]`. */
  backport?: string;
  /** The diff of each file, in order: `git apply` takes each file's change on its own. */
  chunks: FileChunk[];
}

/** One file's part of a patch: from its `diff --git` line to the next one. */
export interface FileChunk {
  text: string;
  /** The paths it reads and writes: its old path (absent for a new file) and its new path (absent when deleted). */
  oldPath?: string;
  newPath?: string;
}

/** The patch's diff cut at each `diff --git` line; the signature (`-- ` and the git version) is no part of the last. */
export function splitFiles(content: string): FileChunk[] {
  const start = content.search(/^diff --git /m);
  if (start < 0) return [];
  let diff = content.slice(start);
  const signature = diff.search(/^-- $/m);
  if (signature >= 0) diff = diff.slice(0, signature);
  return diff
    .split(/^(?=diff --git )/m)
    .map((text) => (text.endsWith('\n') ? text : `${text}\n`))
    .map((text) => {
      const [file] = parseFormatPatch(text).files;
      // A rename or mode change without hunks has no ---/+++ lines: its paths are on the diff --git line.
      const header = /^diff --git a\/(.+) b\/\1$/m.exec(text) ?? /^diff --git a\/(.+) b\/(.+)$/m.exec(text);
      const from = /^rename from (.+)$/m.exec(text)?.[1] ?? header?.[1];
      const to = /^rename to (.+)$/m.exec(text)?.[1] ?? header?.[2] ?? header?.[1];
      const oldPath = file ? file.oldPath : from;
      const newPath = file ? file.newPath : to;
      return { text, ...(oldPath ? { oldPath } : {}), ...(newPath ? { newPath } : {}) };
    });
}

export function toSeriesPatch(name: string, content: string): SeriesPatch {
  const { files, upstreamStatus } = parseFormatPatch(content);
  const reads = files.flatMap((f) => (f.oldPath ? [f.oldPath] : []));
  const paths = [...new Set(files.flatMap((f) => [f.oldPath, f.newPath].filter((p): p is string => p !== undefined)))];
  const backport = /^Backport\b.*?\b([0-9a-f]{7,40})\b/i.exec(upstreamStatus ?? '')?.[1];
  return {
    name,
    content,
    files,
    paths,
    reads: [...new Set(reads)],
    ...(backport ? { backport } : {}),
    chunks: splitFiles(content),
  };
}

/** The newest series of a source (the highest release base under patches/<source>/), or the one of base `wanted`. */
export async function loadNewestSeries(project: Project, source: SourceName, wanted?: string): Promise<Series> {
  const bases = (await project.listSeriesBases(source)).filter(isReleaseVersion).sort(compareVersions);
  if (wanted !== undefined && !bases.includes(wanted)) {
    throw new ConfigError(project.display(join(project.root, 'patches', source, wanted)), 'is not a patch series', {
      hint: bases.length ? `The ${source} series are: ${bases.join(', ')}.` : `patches/${source}/ has no series.`,
    });
  }
  const base = wanted ?? bases.pop();
  if (!base) {
    throw new ConfigError(project.display(join(project.root, 'patches', source)), 'has no patch series', {
      hint: `Create patches/${source}/<upstream version>/series listing git format-patch files, e.g. patches/${source}/1.0.4/series.`,
    });
  }
  const series = await project.readSeries(source, base);
  for (const patch of series.patches) {
    if (!/^diff --git /m.test(patch.content)) {
      throw new ConfigError(project.display(patch.path), 'holds no diff', {
        hint: 'Each patch must be a `git format-patch` file.',
      });
    }
  }
  return series;
}
