import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, UsageError } from '../shared/errors.js';
import { atomicWrite } from './fs.js';
import { notAProject } from './project-root.js';
import { emptyLock, parseLock, serializeLock, type Lock } from '../config/lock.js';
import {
  checkSeriesDirectory,
  parseSeriesFile,
  seriesDigest,
  writtenSeries,
  type Series,
  type SourceName,
} from '../config/series.js';
import { validateVariant, type Variant } from '../config/variant.js';

/**
 * The project checkout: variants/, patches/, the lock file and Infra.toml.tpl.
 * The only code that reads or writes them.
 */
export interface Project {
  readonly root: string;
  /** A path relative to the project root, for messages. */
  display(path: string): string;
  listVariants(): Promise<string[]>;
  /** The variants, refusing a directory that is not a bro project or has none: CI must not fan out over nothing. */
  requireVariants(): Promise<string[]>;
  readVariant(name: string): Promise<Variant>;
  listSeriesBases(source: SourceName): Promise<string[]>;
  readSeries(source: SourceName, base: string): Promise<Series>;
  /** The `series` file and the `.patch` files of patches/<source>/<base>/ as they are; undefined when there is no such directory. */
  readSeriesFiles(source: SourceName, base: string): Promise<Record<string, string> | undefined>;
  /** Writes a whole series (used by rebase/refresh); replaces the directory's patches. */
  writeSeries(source: SourceName, base: string, patches: readonly { name: string; content: string }[]): Promise<string>;
  readLock(): Promise<Lock>;
  writeLock(lock: Lock): Promise<void>;
  readInfraTemplate(): Promise<string>;
  readonly lockPath: string;
}

export function createProject(root: string, warn: (message: string) => void = () => undefined): Project {
  const lockPath = join(root, 'variants', 'sources.lock.json');
  const display = (path: string) => relative(root, path) || '.';

  return {
    root,
    lockPath,
    display,
    async listVariants() {
      const entries = await readdir(join(root, 'variants')).catch(() => [] as string[]);
      return entries
        .filter((e) => e.endsWith('.toml'))
        .map((e) => e.slice(0, -'.toml'.length))
        .sort();
    },
    async requireVariants() {
      await requireProject(root);
      const names = await this.listVariants();
      if (!names.length) {
        throw new UsageError(`${join(root, 'variants')} has no variant files`, {
          hint: 'Add one, e.g. variants/aws-k8s-1.18.toml; see README.md.',
        });
      }
      return names;
    },
    async readVariant(name) {
      // A name, never a path: `bro build ../../etc/passwd` must not open a file outside variants/.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) {
        throw new UsageError(`"${name}" is not a variant name`, {
          hint: 'Name a variant as `bro variants` lists it, e.g. aws-k8s-1.18 (for variants/aws-k8s-1.18.toml).',
        });
      }
      const path = join(root, 'variants', `${name}.toml`);
      const file = display(path);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        await requireProject(root);
        const known = await this.listVariants();
        throw new ConfigError(file, `no such variant "${name}"`, {
          cause: error,
          hint: known.length
            ? `Known variants: ${known.join(', ')}. Run \`bro variants\`.`
            : `Create ${file}; see README.md.`,
        });
      }
      let data: unknown;
      try {
        data = parseToml(text);
      } catch (error) {
        const { line, column } = error as { line?: number; column?: number };
        const where = line === undefined ? '' : ` (line ${line}, column ${column})`;
        throw new ConfigError(
          file,
          `is not valid TOML${where}: ${(error as Error).message.split('\n')[0]?.replace(/^Invalid TOML document: /, '')}`,
          { cause: error },
        );
      }
      return validateVariant(file, data, name, warn);
    },
    async listSeriesBases(source) {
      const entries = await readdir(join(root, 'patches', source), { withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isDirectory()).map((e) => e.name);
    },
    async readSeries(source, base) {
      const dir = join(root, 'patches', source, base);
      const seriesPath = join(dir, 'series');
      const text = await readFile(seriesPath, 'utf8').catch((error: unknown) => {
        throw new ConfigError(display(seriesPath), 'is missing', {
          cause: error,
          hint: 'Each patch directory needs a series file listing its patches in order.',
        });
      });
      const names = parseSeriesFile(display(seriesPath), text);
      checkSeriesDirectory(display(seriesPath), text, names, await readdir(dir));
      const patches = await Promise.all(
        names.map(async (name) => {
          const path = join(dir, name);
          return { name, path, content: await readFile(path, 'utf8') };
        }),
      );
      return { source, base, dir, patches, digest: seriesDigest(patches) };
    },
    async readSeriesFiles(source, base) {
      const dir = join(root, 'patches', source, base);
      const entries = await readdir(dir).catch(() => undefined);
      if (!entries) return undefined;
      const names = entries.filter((e) => e === 'series' || e.endsWith('.patch'));
      return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')])));
    },
    async writeSeries(source, base, patches) {
      const dir = join(root, 'patches', source, base);
      await mkdir(dir, { recursive: true });
      for (const entry of await readdir(dir)) if (entry.endsWith('.patch')) await rm(join(dir, entry));
      for (const patch of patches) await writeFile(join(dir, patch.name), patch.content);
      await atomicWrite(join(dir, 'series'), writtenSeries(patches));
      return dir;
    },
    async readLock() {
      const text = await readFile(lockPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw new ConfigError(display(lockPath), `cannot be read (${error.code})`, {
          cause: error,
          hint: 'It must be a file bro can read and write: fix its permissions, or restore it from git.',
        });
      });
      return text === undefined ? emptyLock() : parseLock(display(lockPath), text);
    },
    async writeLock(lock) {
      await atomicWrite(lockPath, serializeLock(lock)).catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(
          display(lockPath),
          `cannot be written (${error.code}): bro records there the commit each upstream ref names`,
          {
            cause: error,
            hint: `Make ${display(lockPath)} and ${display(join(root, 'variants'))}/ writable, then rerun.`,
          },
        );
      });
    },
    async readInfraTemplate() {
      const path = join(root, 'Infra.toml.tpl');
      return readFile(path, 'utf8').catch((error: unknown) => {
        throw new ConfigError(display(path), 'is missing', { cause: error, hint: 'Restore Infra.toml.tpl from git.' });
      });
    },
  };
}

/** bro runs in a project: a directory with variants/. Anywhere else it says so, instead of finding no variants. */
async function requireProject(root: string): Promise<void> {
  const isDir = await stat(join(root, 'variants')).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw notAProject({ dir: root, from: 'the project' });
}
