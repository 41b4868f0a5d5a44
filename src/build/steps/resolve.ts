import type { PinnedSource, SourceRef } from '../context.js';
import { ENV_URL, urlForSource } from '../../config/variant.js';
import { redactUrlCredentials } from '../../adapters/redactor.js';
import { mapAll } from '../../shared/concurrency.js';
import { pinKey } from '../../config/lock.js';
import { SOURCES, type SourceName } from '../../config/series.js';
import type { Variant } from '../../config/variant.js';
import type { BuildVersion } from '../../config/version.js';
import type { Adapters } from '../../adapters/index.js';
import { defineStep } from '../step.js';
import { ConfigError, EXIT_USAGE, isBroError, StepError, SubprocessError, UsageError } from '../../shared/errors.js';
import { telltaleLine } from '../../adapters/runner.js';

/**
 * Resolve: each upstream source's URL and ref, and the commit the ref names.
 * The commit is checked against the lock file; a tag that moved stops the
 * build unless `--update-lock`. New pins are written to the lock.
 */

/** URL: env var, then the variant file, then upstream's public repository. */
export function sourceRefs(
  variant: Variant,
  version: BuildVersion,
  env: NodeJS.ProcessEnv,
): Record<SourceName, SourceRef> {
  const admin = variant.sources['admin-container'];
  const adminRef = admin.refs[version.tag] ?? admin.ref;
  if (!adminRef) {
    throw new ConfigError(
      `variants/${variant.name}.toml`,
      `sources.admin-container: no ref for ${version.tag} (neither refs."${version.tag}" nor ref is set)`,
      {
        hint: `Set [sources.admin-container.refs] "${version.tag}" to the admin container version Bottlerocket ${version.tag} uses by default (the bottlerocket-admin image tag in its host-containers defaults), or ref for every base.`,
      },
    );
  }
  const file = `variants/${variant.name}.toml`;
  const urlFrom = (name: SourceName) => (env[ENV_URL[name]] ? ENV_URL[name] : `sources.${name}.url of ${file}`);
  return {
    bottlerocket: {
      name: 'bottlerocket',
      url: urlForSource('bottlerocket', variant.sources.bottlerocket.url, env),
      ref: variant.sources.bottlerocket.ref ?? version.tag,
      urlFrom: urlFrom('bottlerocket'),
      refFrom: variant.sources.bottlerocket.ref ? `sources.bottlerocket.ref of ${file}` : `--version ${version.full}`,
    },
    'admin-container': {
      name: 'admin-container',
      url: urlForSource('admin-container', admin.url, env),
      ref: adminRef,
      urlFrom: urlFrom('admin-container'),
      refFrom: admin.refs[version.tag]
        ? `sources.admin-container.refs."${version.tag}" of ${file}`
        : `sources.admin-container.ref of ${file}`,
    },
  };
}

export interface ResolveOptions {
  updateLock: boolean;
  /** git's progress while a mirror is cloned or fetched (a cold clone of Bottlerocket takes minutes). */
  progress?: (source: SourceName, line: string) => void;
}

/**
 * Makes sure each source's mirror holds the pinned commit, fetching only when
 * it does not, and returns the pins. Writes the lock when a pin is new or
 * updated.
 */
export async function resolveSources(
  refs: Record<SourceName, SourceRef>,
  adapters: Pick<Adapters, 'git' | 'mirrors' | 'project' | 'warn' | 'env'>,
  options: ResolveOptions,
): Promise<Record<SourceName, PinnedSource>> {
  const { git, mirrors, project } = adapters;
  const lock = await project.readLock();
  let lockChanged = false;
  // Both sources at once, both finished before a failure is reported.
  const resolved = await mapAll(SOURCES, async (name): Promise<PinnedSource> => {
    const { url, ref, urlFrom = 'its URL', refFrom = 'its ref' } = refs[name];
    const shownUrl = redactUrlCredentials(url);
    const unreachable = (error: unknown, doing: string) =>
      new StepError('resolve', `Cannot ${doing} the ${name} repository at ${shownUrl}: ${gitReason(error)}`, {
        cause: error,
        hint: unreachableHint(name, error, adapters.env),
      });
    const isCommit = /^[0-9a-f]{40}$/.test(ref);
    let remote: string | undefined;
    if (!isCommit) {
      remote = await git.lsRemote(url, ref).catch((error: unknown) => {
        throw unreachable(error, 'reach');
      });
      if (!remote) {
        await refuseOtherRepository(adapters, name, url, urlFrom);
        throw new UsageError(`${shownUrl} has no tag or branch "${ref}" (from ${refFrom})`, {
          hint: refFrom.startsWith('--version')
            ? `Check --version: its upstream part names the Bottlerocket release tag; \`git ls-remote --tags ${shownUrl}\` lists them.`
            : `Check ${refFrom}.`,
        });
      }
    }
    const named = remote ?? ref;
    let mirror: string;
    try {
      const progress = options.progress && ((line: string) => options.progress!(name, line));
      const ensured = await mirrors.ensure(url, progress);
      mirror = ensured.path;
      if (!ensured.created && !(await git.hasCommit(mirror, named)))
        await mirrors.update(url, async (path) => !(await git.hasCommit(path, named)), progress);
    } catch (error) {
      if (isBroError(error) && error.exitCode === EXIT_USAGE) throw error;
      throw unreachable(error, 'fetch');
    }
    // A tag object's id, as ls-remote on a git bundle gives it (unpeeled), names the commit it tags.
    const commit = await git.resolveCommit(mirror, named);
    if (!commit) {
      await refuseOtherRepository(adapters, name, url, urlFrom);
      throw new UsageError(`${shownUrl} does not contain commit ${named} (from ${refFrom})`, {
        hint: `Check sources.${name}.ref in the variant file.`,
      });
    }
    const key = pinKey(name, ref);
    const pinned = lock.pins[key];
    if (pinned && pinned.commit !== commit) {
      if (!options.updateLock) {
        throw new StepError(
          'resolve',
          `${name} ref "${ref}" moved: the lock pins ${pinned.commit.slice(0, 12)}, but ${shownUrl} now has ${commit.slice(0, 12)}`,
          {
            hint: `Find out why upstream moved the tag before trusting it. To accept the new commit, rerun with --update-lock (this rewrites ${project.display(project.lockPath)}).`,
          },
        );
      }
      adapters.warn(`Lock updated: ${key} ${pinned.commit.slice(0, 12)} → ${commit.slice(0, 12)}`);
    }
    if (!pinned || pinned.commit !== commit) {
      lock.pins[key] = { commit };
      lockChanged = true;
    }
    return { name, url, ref, commit, mirror };
  });
  if (lockChanged) await project.writeLock(lock);
  return Object.fromEntries(resolved.map((s) => [s.name, s])) as Record<SourceName, PinnedSource>;
}

/** A file at the root of each upstream that the other does not have. */
const MARKER: Record<SourceName, string> = { bottlerocket: 'Release.toml', 'admin-container': 'VERSION' };
const REPOSITORY: Record<SourceName, string> = {
  bottlerocket: 'Bottlerocket',
  'admin-container': 'bottlerocket-admin-container',
};

/**
 * A ref that is missing may mean the URL serves another repository (BRO_BOTTLEROCKET_URL and
 * BRO_ADMIN_CONTAINER_URL swapped): then the URL is named, not the ref. Looks at the default branch
 * of the repository's mirror.
 */
async function refuseOtherRepository(
  adapters: Pick<Adapters, 'git' | 'mirrors'>,
  name: SourceName,
  url: string,
  urlFrom: string,
): Promise<void> {
  const mirror = await adapters.mirrors.ensure(url).then(
    (m) => m.path,
    () => undefined,
  );
  if (!mirror) return;
  const has = async (file: string) => (await adapters.git.showFile(mirror, 'HEAD', file)) !== undefined;
  const other = SOURCES.find((s) => s !== name)!;
  if ((await has(MARKER[name])) || !(await has(MARKER[other]))) return;
  const shown = redactUrlCredentials(url);
  throw new UsageError(
    `${urlFrom.startsWith('BRO_') ? `${urlFrom}=${shown}` : `${shown} (${urlFrom})`} serves the ${REPOSITORY[other]} repository (it has ${MARKER[other]} and no ${MARKER[name]}), where ${REPOSITORY[name]} is expected`,
    {
      hint: `Point it at ${REPOSITORY[name]}: are ${ENV_URL.bottlerocket} and ${ENV_URL['admin-container']} swapped?`,
    },
  );
}

/** git's own reason for a failure (its first `fatal:` line), else the error's first line. */
function gitReason(error: unknown): string {
  const output = error instanceof SubprocessError ? error.detail.output : undefined;
  if (output) return telltaleLine(output);
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** What to do about an upstream bro cannot read: git's own advice first, then the BRO_*_URL variables. */
function unreachableHint(name: SourceName, error: unknown, env: NodeJS.ProcessEnv): string {
  const reason = gitReason(error);
  if (/dubious ownership/.test(reason)) {
    return `git refuses a repository owned by another user. Trust it with \`git config --global --add safe.directory <path>\` (as git's message says), or point ${ENV_URL[name]} at a mirror you own.`;
  }
  const other = SOURCES.find((s) => s !== name)!;
  if (!env[ENV_URL[name]] && env[ENV_URL[other]]) {
    return `${ENV_URL[other]} is set but ${ENV_URL[name]} is not, so bro fetched the ${name} from the variant file's URL. Air-gapped, set both BRO_BOTTLEROCKET_URL and BRO_ADMIN_CONTAINER_URL to local mirrors.`;
  }
  return `Check the URL and your network, or point ${ENV_URL[name]} (and ${ENV_URL[other]}) at a local mirror.`;
}

export const resolveStep = defineStep({
  id: 'resolve',
  title: 'Resolve upstream refs',
  external: false,
  needs: [],
  async run(ctx, _input, task) {
    const refs = sourceRefs(ctx.variant, ctx.version, ctx.adapters.env);
    // Both mirrors may be fetched at once: the line shows the latest of each.
    const latest = new Map<SourceName, string>();
    const progress = (source: SourceName, line: string) => {
      latest.set(source, line.trim());
      task.output = [...latest].map(([s, l]) => `${s}: ${l}`).join(' · ');
    };
    const pins = await resolveSources(refs, ctx.adapters, { updateLock: ctx.options.updateLock, progress });
    task.title = `Resolve upstream refs: ${SOURCES.map((s) => `${s} ${refs[s].ref} = ${pins[s].commit.slice(0, 12)}`).join(', ')}`;
    return { pins };
  },
});
