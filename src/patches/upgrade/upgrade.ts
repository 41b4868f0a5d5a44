import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Adapters } from '../../adapters/index.js';
import type { GitPlumbing } from '../../adapters/git-plumbing.js';
import type { GitTrees } from '../../adapters/git-trees.js';
import { atomicWrite, exists } from '../../adapters/fs.js';
import { createProject, type Project } from '../../adapters/project.js';
import type { Rollback } from '../../adapters/rollback.js';
import type { Series, SourceName } from '../../config/series.js';
import { compareVersions, isReleaseVersion } from '../../config/version.js';
import { loadVariantModel } from '../../preview/index.js';
import { StepError, UsageError } from '../../shared/errors.js';
import type { Target } from '../check/check-report.js';
import { findBase, openUpstream, type Upstream } from '../open-upstream.js';
import { readRebaseState, rebaseWorkspace, type RebaseWorkspace } from '../rebase/rebase-state.js';
import { ensureCheckout, rebaseSeries } from '../rebase/rebase.js';
import { refreshSeries, type RefreshResult } from '../rebase/refresh.js';
import { withAdminRef } from './admin-ref.js';
import { findTarget } from './find-target.js';
import { adminDefault, MODELS } from './read-tree.js';
import { migrateUserData, type UserDataResult } from './user-data.js';
import { readUpgradeState, writeUpgradeState, type UpgradeState } from './upgrade-state.js';

/**
 * `bro upgrade <variant> --to <tag>`: everything a release on a newer
 * Bottlerocket needs, from the series the project has now.
 *  1. The target: a release tag, not older than the newest series, that
 *     still ships the variant (find-target.ts).
 *  2. The admin container version upstream's defaults pull at that tag.
 *  3. Each source's series carried there (rebase/rebase.ts: the check drops
 *     what upstream has and follows renames, `git am --3way` rebases the
 *     rest; a patch upstream has in its own form is dropped when the check
 *     advises it), in `<work>/upgrade/rebase/<source>/`, with rerere on and the
 *     project's recorded resolutions (patches/rr-cache/<source>/) loaded, so
 *     conflicts resolved once are resolved again. A conflict nobody resolved
 *     stops the upgrade with what to run; the rerun resumes.
 *  4. With user data: the same node on the new base (user-data.ts); the
 *     settings of a patch dropped for upstream's own form move to
 *     upstream's key as the check advised.
 *  5. Only when all of that went through: the new series, the recorded
 *     resolutions and the variant's admin ref are written into the project,
 *     under the run's rollback.
 * A series already in the project for the target is kept as it is.
 */

export interface UpgradeInput {
  variant: string;
  to: string;
  /** `<work-dir>/upgrade`. */
  root: string;
  fetch: boolean;
  restart: boolean;
  userData?: { file: string; text: string };
  /** The command that reruns this upgrade, for instructions. */
  rerun: string;
}

export interface SourceOutcome {
  source: SourceName;
  from: string;
  to: string;
  /** patches/<source>/<to>/ relative to the project. */
  dir: string;
  /** written: carried by this run; kept: the project already has the series for the target. */
  status: 'written' | 'kept';
  result?: RefreshResult;
}

export interface UpgradeResult {
  variant: string;
  from: Target;
  to: Target;
  admin: { version: string; file: string; ref: string };
  sources: SourceOutcome[];
  variantFile: { path: string; changed: boolean; entry: string };
  rerere: { dir: string; recorded: number };
  userData?: UserDataResult;
}

interface Tools {
  adapters: Adapters;
  plumbing: GitPlumbing;
  trees: GitTrees;
  rollback: Rollback;
}

/** The series to carry and, when the project already has one for `version`, that one. */
async function seriesFor(
  project: Project,
  source: SourceName,
  version: string,
): Promise<{ from?: Series; existing?: Series }> {
  const bases = (await project.listSeriesBases(source)).filter(isReleaseVersion).sort(compareVersions);
  const below = bases.filter((b) => compareVersions(b, version) < 0).pop();
  return {
    from: below === undefined ? undefined : await project.readSeries(source, below),
    existing: bases.includes(version) ? await project.readSeries(source, version) : undefined,
  };
}

const RR_CACHE = (source: SourceName) => join('patches', 'rr-cache', source);

export async function upgradeVariant(tools: Tools, input: UpgradeInput): Promise<UpgradeResult> {
  const { adapters, trees } = tools;
  const { project, git } = adapters;
  const variantPath = join(project.root, 'variants', `${input.variant}.toml`);
  await project.readVariant(input.variant);
  const br = await openUpstream(adapters, tools.plumbing, 'bottlerocket', {
    variant: input.variant,
    fetch: input.fetch,
  });
  const bases = (await project.listSeriesBases('bottlerocket')).filter(isReleaseVersion).sort(compareVersions);
  const newest = bases.at(-1);
  if (!newest)
    throw new UsageError('patches/bottlerocket/ has no series to upgrade', {
      hint: 'Create patches/bottlerocket/<version>/series first.',
    });
  const onto = await findTarget(trees, br, input.variant, input.to, newest);
  const version = onto.tag.slice(1);
  const brSeries = await seriesFor(project, 'bottlerocket', version);
  const brFrom = brSeries.from ?? brSeries.existing!;
  const from = await findBase(adapters, br, brFrom.base);

  const statePath = join(input.root, 'state.json');
  const state = await readUpgradeState(statePath, input.variant);
  const staging = join(input.root, 'staging');
  await rm(staging, { recursive: true, force: true });
  const stagedProject: Project = { ...project, ...pick(createProject(staging), 'writeSeries') };

  // The Bottlerocket checkout: where the rebase runs and the trees are read from.
  const brWorkspace = rebaseWorkspace(input.root, 'bottlerocket');
  await ensureCheckout(adapters.git, br.mirror, brWorkspace.dir);
  const upstreamTree = join(input.root, 'trees', 'upstream');
  await trees.extract(brWorkspace.dir, onto.commit, [], [MODELS], upstreamTree);
  const admin = await adminDefault(upstreamTree, input.variant);

  const adminUp = await openUpstream(adapters, tools.plumbing, 'admin-container', {
    variant: input.variant,
    fetch: input.fetch,
  });
  const adminVersion = admin.version.slice(1);
  const adminSeries = await seriesFor(project, 'admin-container', adminVersion);
  // A release tag, or (v0.5.2 is untagged) the variant's own `ref` when upstream's VERSION there says so.
  const adminOnto = await findBase(adapters, adminUp, adminVersion).catch((error: unknown) => {
    throw new StepError(
      'upgrade',
      `The admin container ${admin.version} that ${admin.file} names at ${onto.tag} is no tag of ${adminUp.shownUrl}`,
      {
        cause: error,
        hint: `Set sources.admin-container.ref in variants/${input.variant}.toml to the commit of ${admin.version}, or check the mirror.`,
      },
    );
  });
  const adminRef = adminUp.tags.has(admin.version) ? admin.version : undefined;

  const carry = async (
    source: SourceName,
    upstream: Upstream,
    found: { from?: Series; existing?: Series },
    target: Target,
    newBase: string,
  ): Promise<SourceOutcome> => {
    const dir = `patches/${source}/${newBase}`;
    if (found.existing) return { source, from: found.from?.base ?? newBase, to: newBase, dir, status: 'kept' };
    const series = found.from;
    if (!series) {
      throw new StepError('upgrade', `patches/${source}/ has no series older than ${newBase} to carry`, {
        hint: `Create patches/${source}/${newBase}/ by hand.`,
      });
    }
    const base = await findBase(adapters, upstream, series.base);
    const result = await rebaseSource(tools, {
      source,
      upstream,
      series,
      base,
      onto: target,
      newBase,
      root: input.root,
      state,
      statePath,
      restart: input.restart,
      rerun: input.rerun,
      project: stagedProject,
      staging,
    });
    return { source, from: series.base, to: newBase, dir, status: 'written', result: { ...result, shownDir: dir } };
  };
  const sources = [
    await carry('bottlerocket', br, brSeries, onto, version),
    await carry('admin-container', adminUp, adminSeries, adminOnto, adminVersion),
  ];

  let userData: UserDataResult | undefined;
  if (input.userData) {
    const seriesFiles = async (series: Series | undefined, name: string) => {
      const dir = join(input.root, 'trees', `${name}.patches`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const files: string[] = [];
      for (const patch of series?.patches ?? []) {
        const file = join(dir, patch.name);
        await writeFile(file, patch.content);
        files.push(file);
      }
      return files;
    };
    const newSeries = brSeries.existing ?? (await createProject(staging).readSeries('bottlerocket', version));
    const oldTree = join(input.root, 'trees', 'old');
    const nextTree = join(input.root, 'trees', 'next');
    await trees.extract(brWorkspace.dir, from.commit, await seriesFiles(brFrom, 'old'), [MODELS], oldTree);
    await trees.extract(brWorkspace.dir, onto.commit, await seriesFiles(newSeries, 'next'), [MODELS], nextTree);
    const [oldModel, upModel, nextModel] = await Promise.all(
      [oldTree, upstreamTree, nextTree].map((t) => loadVariantModel(t, input.variant)),
    );
    const startScript = (await trees.grep(adminUp.mirror, adminOnto.commit, 'eic_run_authorized_keys')).find((f) =>
      f.endsWith('.sh'),
    );
    userData = await migrateUserData({
      ...input.userData,
      models: { old: oldModel!.settings, upstream: upModel!.settings, next: nextModel!.settings },
      tags: { from: from.tag, to: onto.tag },
      advised: sources.flatMap(
        (s) => s.result?.dropped.flatMap((d) => (d.settings ?? []).map((m) => ({ ...m, patch: d.name }))) ?? [],
      ),
      adminFrom: (adminSeries.from ?? adminSeries.existing)?.patches.map((p) => p.content) ?? [],
      startScript: startScript
        ? { path: startScript, text: (await git.showFile(adminUp.mirror, adminOnto.commit, startScript)) ?? '' }
        : undefined,
      adminTag: admin.version,
      redactor: adapters.redactor,
      trees,
      scratch: join(input.root, 'user-data'),
    });
  }

  // Everything went through: now the project.
  const variantText = await readFile(variantPath, 'utf8');
  const newVariant = adminRef === undefined ? undefined : withAdminRef(variantText, onto.tag, adminRef);
  const recorded = await commit(tools, { staging, sources, variantPath, variantText, newVariant });
  return {
    variant: input.variant,
    from,
    to: onto,
    admin: { ...admin, ref: adminRef ?? adminOnto.tag },
    sources,
    variantFile: {
      path: project.display(variantPath),
      changed: newVariant !== undefined,
      entry: adminRef
        ? `[sources.admin-container.refs] "${onto.tag}" = "${adminRef}"${newVariant === undefined ? ' (already there)' : ''}`
        : `sources.admin-container.ref (${adminOnto.tag}) is ${admin.version} already`,
    },
    rerere: { dir: join('patches', 'rr-cache'), recorded },
    userData,
  };
}

const pick = <T extends object, K extends keyof T>(object: T, key: K): Pick<T, K> =>
  ({ [key]: object[key] }) as Pick<T, K>;

interface RebaseSourceInput {
  source: SourceName;
  upstream: Upstream;
  series: Series;
  base: Target;
  onto: Target;
  newBase: string;
  root: string;
  state: UpgradeState;
  statePath: string;
  restart: boolean;
  rerun: string;
  project: Project;
  staging: string;
}

/**
 * One source's rebase, resumed when the state says this very rebase was
 * stopped for a person (and they finished it) or went through; else started
 * afresh, which refuses to throw away a workspace someone changed.
 */
async function rebaseSource(tools: Tools, input: RebaseSourceInput): Promise<RefreshResult> {
  const { git } = tools.adapters;
  const { plumbing } = tools;
  const workspace = rebaseWorkspace(input.root, input.source);
  await ensureCheckout(tools.adapters.git, input.upstream.mirror, workspace.dir);
  await git.enableRerere(workspace.dir);
  const rrCache = join(await git.gitDir(workspace.dir), 'rr-cache');
  const projectCache = join(tools.adapters.project.root, RR_CACHE(input.source));
  await cp(projectCache, rrCache, { recursive: true, force: false }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });

  const prior = input.state.sources[input.source];
  const same =
    prior &&
    prior.from === input.series.base &&
    prior.digest === input.series.digest &&
    prior.onto.commit === input.onto.commit &&
    prior.newBase === input.newBase;
  const stopped = await plumbing.amProgress(workspace.dir);
  const deps = { git, plumbing, project: input.project };
  let result: RefreshResult;
  if (same && prior.status !== 'started' && !input.restart) {
    if (stopped) {
      const conflicted = (await plumbing.conflicted(workspace.dir)).map((c) => c.path);
      throw new StepError(
        'upgrade',
        `The ${input.source} rebase is still stopped at patch ${stopped.next} of ${stopped.last} in ${workspace.dir}`,
        {
          hint: `${conflicted.length ? `Resolve ${conflicted.join(', ')} and \`git add\` it there, then run` : 'Run'} \`git am --continue\` there (or \`git am --skip\` to drop the patch), then \`${input.rerun}\` again; or add --restart to start over.`,
        },
      );
    }
    result = await refreshSeries(deps, workspace, await readRebaseState(workspace, input.source));
  } else {
    if (!input.restart && !(prior?.status === 'started'))
      await refuseChanged(tools, workspace, input, stopped !== undefined);
    const record = async (status: 'started' | 'stopped' | 'done') => {
      input.state.sources[input.source] = {
        from: input.series.base,
        digest: input.series.digest,
        onto: input.onto,
        newBase: input.newBase,
        status,
      };
      await writeUpgradeState(input.statePath, input.state);
    };
    await record('started');
    try {
      result = await rebaseSeries(deps, {
        series: input.series,
        mirror: input.upstream.mirror,
        base: input.base,
        onto: input.onto,
        newBase: input.newBase,
        workspace,
        restart: true,
        refreshCommand: input.rerun,
      });
    } catch (error) {
      if (await plumbing.amProgress(workspace.dir)) await record('stopped');
      throw error;
    }
    await record('done');
  }
  await stageResolutions(rrCache, join(input.staging, RR_CACHE(input.source)));
  return result;
}

/**
 * A workspace holding someone's work (a stopped `git am`, changed files,
 * commits neither upstream nor bro made) from another rebase than this one
 * is not thrown away in silence, as the build refuses to.
 */
async function refuseChanged(
  tools: Tools,
  workspace: RebaseWorkspace,
  input: RebaseSourceInput,
  stopped: boolean,
): Promise<void> {
  const { git } = tools.adapters;
  // A checkout never checked out (cloned with --no-checkout, no index yet) has nothing of anyone's.
  if (!(await exists(join(workspace.dir, '.git', 'index')))) return;
  const work = [
    ...(stopped ? ['a `git am` stopped at a conflict'] : []),
    ...(await git.status(workspace.dir)).slice(0, 10).map((line) => `changed: ${line.slice(3)}`),
    ...(await git.foreignCommits(workspace.dir, input.onto.commit))
      .slice(0, 10)
      .map((c) => `commit not made by bro: ${c}`),
  ];
  if (!work.length) return;
  throw new UsageError(
    `${workspace.dir} has work from another rebase than this upgrade's:\n${work.map((w) => `  ${w}`).join('\n')}`,
    {
      hint: `Finish or keep that work elsewhere, or add --restart to throw it away: \`${input.rerun} --restart\`.`,
    },
  );
}

/** The resolutions rerere recorded (entries with a postimage), copied for the project. */
async function stageResolutions(rrCache: string, dest: string): Promise<void> {
  const entries = await readdir(rrCache).catch(() => [] as string[]);
  for (const entry of entries) {
    const files = await readdir(join(rrCache, entry)).catch(() => [] as string[]);
    if (!files.includes('postimage')) continue;
    await mkdir(join(dest, entry), { recursive: true });
    for (const file of ['preimage', 'postimage'])
      if (files.includes(file)) await cp(join(rrCache, entry, file), join(dest, entry, file));
  }
}

/**
 * The one write into the project: the staged series (renamed into
 * patches/<source>/<version>/), the recorded resolutions, then the variant.
 * Registered with the run's rollback until whole, so an interrupt between
 * them leaves the project as it was.
 */
async function commit(
  tools: Tools,
  input: { staging: string; sources: SourceOutcome[]; variantPath: string; variantText: string; newVariant?: string },
): Promise<number> {
  const { project } = tools.adapters;
  const written: string[] = [];
  const copied: string[] = [];
  const release = tools.rollback.add('patches/ and variants/ left as they were', async () => {
    for (const dir of written) await rm(dir, { recursive: true, force: true });
    for (const file of copied) await rm(file, { force: true });
    await atomicWrite(input.variantPath, input.variantText);
  });
  for (const outcome of input.sources.filter((s) => s.status === 'written')) {
    const dest = join(project.root, outcome.dir);
    await mkdir(dirname(dest), { recursive: true });
    await rename(join(input.staging, outcome.dir), dest);
    written.push(dest);
  }
  let recorded = 0;
  for (const source of ['bottlerocket', 'admin-container'] as const) {
    const from = join(input.staging, RR_CACHE(source));
    for (const entry of await readdir(from).catch(() => [] as string[])) {
      for (const file of await readdir(join(from, entry))) {
        const dest = join(project.root, RR_CACHE(source), entry, file);
        const text = await readFile(join(from, entry, file));
        const before = await readFile(dest).catch(() => undefined);
        if (before?.equals(text)) continue;
        await mkdir(dirname(dest), { recursive: true });
        await writeFile(dest, text);
        copied.push(dest);
      }
      recorded++;
    }
  }
  if (input.newVariant !== undefined) await atomicWrite(input.variantPath, input.newVariant);
  release();
  await rm(input.staging, { recursive: true, force: true });
  return recorded;
}
