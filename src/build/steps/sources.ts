import { mkdir } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import type { Git } from '../../adapters/git.js';
import { createByRename, exists } from '../../adapters/fs.js';
import type { Rollback } from '../../adapters/rollback.js';
import { mapAll } from '../../shared/concurrency.js';
import { SOURCES, type SourceName } from '../../config/series.js';
import type { BuildVersion } from '../../config/version.js';
import { sourceDir, type ResolvedSource, type Workspace } from '../context.js';
import { StepError } from '../../shared/errors.js';
import { defineStep } from '../step.js';
import type { PinnedSource } from '../context.js';

/**
 * Sources: a real git checkout of each upstream in the workspace, created on
 * first use from the mirror (sharing its objects, so it is quick and small).
 * Upstream's Release.toml at the pin must agree with --version, and the admin
 * container's VERSION file names its version.
 */

export async function ensureCheckouts(
  git: Git,
  workspace: Workspace,
  pins: Record<SourceName, PinnedSource>,
  rollback: Pick<Rollback, 'add'> = { add: () => () => undefined },
): Promise<Record<SourceName, ResolvedSource>> {
  await mkdir(workspace.root, { recursive: true });
  const entries = await mapAll(SOURCES, async (name): Promise<[SourceName, ResolvedSource]> => {
    const pin = pins[name];
    const dir = sourceDir(workspace, name);
    if (!(await exists(`${dir}/.git`))) {
      if (await exists(dir)) {
        throw new StepError('sources', `${dir} exists but is not a git checkout`, {
          hint: `bro keeps its ${name} checkout there: move that directory away, or use another --work-dir.`,
        });
      }
      // Cloned and checked out at the pin beside the final path, then renamed: an interrupted
      // first checkout leaves no checkout, never one on upstream's default branch.
      // Nothing to undo (the clone beside it is removed as it fails), but the message says so.
      const release = rollback.add(`${name}/ not made: its first checkout was cut short`, async () => undefined);
      await createByRename(dir, async (tmp) => {
        await git.cloneShared(pin.mirror, tmp);
        await git.resetTo(tmp, pin.commit);
      });
      release();
    } else if (!(await git.hasCommit(`${dir}/.git`, pin.commit))) {
      await git.fetchCommit(dir, pin.mirror, pin.commit);
    }
    return [name, { ...pin, dir }];
  });
  return Object.fromEntries(entries) as Record<SourceName, ResolvedSource>;
}

/** Upstream's Release.toml at the pin must say the version the user asked for. */
export async function checkReleaseVersion(git: Git, source: ResolvedSource, version: BuildVersion): Promise<void> {
  const text = await git.showFile(source.mirror, source.commit, 'Release.toml');
  if (text === undefined) {
    throw new StepError(
      'sources',
      `Bottlerocket at ${source.ref} (${source.commit.slice(0, 12)}) has no Release.toml`,
      {
        hint: 'Is BRO_BOTTLEROCKET_URL (or sources.bottlerocket.url) really a Bottlerocket repository?',
      },
    );
  }
  let found: unknown;
  try {
    found = (parseToml(text) as { version?: unknown }).version;
  } catch (error) {
    throw new StepError('sources', `Release.toml at ${source.ref} is not valid TOML`, { cause: error });
  }
  if (found !== version.upstream) {
    throw new StepError(
      'sources',
      `--version ${version.full} says Bottlerocket ${version.upstream}, but Release.toml at ${source.ref} says version = ${JSON.stringify(found)}`,
      {
        hint: `Use --version ${String(found)}-${version.build}, or fix sources.bottlerocket.ref in the variant file.`,
      },
    );
  }
}

/** The admin container's VERSION file at its pin, e.g. `v0.5.2`. */
export async function readAdminVersion(git: Git, source: ResolvedSource): Promise<string> {
  const text = (await git.showFile(source.mirror, source.commit, 'VERSION'))?.trim();
  if (!text || !/^v?\d+\.\d+\.\d+$/.test(text)) {
    throw new StepError(
      'sources',
      `The admin container at ${source.ref} has no usable VERSION file (found ${JSON.stringify(text ?? null)})`,
      {
        hint: 'Check sources.admin-container.ref: it must name a bottlerocket-admin-container commit.',
      },
    );
  }
  return text.startsWith('v') ? text : `v${text}`;
}

export const sourcesStep = defineStep({
  id: 'sources',
  title: 'Check out the sources',
  external: false,
  needs: ['resolve'],
  async run(ctx, { resolve }, task) {
    const { git } = ctx.adapters;
    const sources = await ensureCheckouts(git, ctx.workspace, resolve.pins, ctx.rollback);
    await checkReleaseVersion(git, sources.bottlerocket, ctx.version);
    const adminVersion = await readAdminVersion(git, sources['admin-container']);
    task.title = `Check out the sources: Bottlerocket ${ctx.version.tag}, admin container ${adminVersion}`;
    return { sources, adminVersion };
  },
});
