import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/git-fixtures.js';
import { sealedEnv, skipsBecause } from '../helpers/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';

/**
 * The conformance suite's world: the real upstream repositories, from
 * ../shared/upstream/*.bundle (cloned to temporary bare mirrors first, as its
 * README says: a bundle used as a URL lists annotated tags unpeeled), or from
 * the mirrors BRO_BOTTLEROCKET_URL and BRO_ADMIN_CONTAINER_URL name when both
 * are set for this suite. Where neither is there, the suite is skipped and
 * says so.
 */

export const BUNDLE_DIR = resolve(REPO_ROOT, '..', 'shared', 'upstream');
const BUNDLES = {
  bottlerocket: join(BUNDLE_DIR, 'bottlerocket.bundle'),
  admin: join(BUNDLE_DIR, 'bottlerocket-admin-container.bundle'),
};

export interface UpstreamSource {
  /** Where the URLs come from, for messages. */
  origin: string;
  /** Makes the two bare mirrors (cloning the bundles when that is the source) under `dir`. */
  mirrors(dir: string): { bottlerocket: string; admin: string };
}

/** Read once, when the suite is collected: the developer's BRO_*_URL choose the mirrors, nothing else. */
function locate(): UpstreamSource | { skip: string } {
  const br = process.env.BRO_BOTTLEROCKET_URL;
  const admin = process.env.BRO_ADMIN_CONTAINER_URL;
  if (br && admin) {
    return {
      origin: `BRO_BOTTLEROCKET_URL=${br}, BRO_ADMIN_CONTAINER_URL=${admin}`,
      mirrors: () => ({ bottlerocket: br, admin }),
    };
  }
  if (existsSync(BUNDLES.bottlerocket) && existsSync(BUNDLES.admin)) {
    return {
      origin: BUNDLE_DIR,
      mirrors(dir) {
        const out = { bottlerocket: join(dir, 'bottlerocket.git'), admin: join(dir, 'admin-container.git') };
        execFileSync('git', ['clone', '--quiet', '--mirror', BUNDLES.bottlerocket, out.bottlerocket], {
          env: upstreamEnv(dir),
        });
        execFileSync('git', ['clone', '--quiet', '--mirror', BUNDLES.admin, out.admin], { env: upstreamEnv(dir) });
        return out;
      },
    };
  }
  return {
    skip:
      `the upstream conformance suite needs the real upstream: ${BUNDLES.bottlerocket} and ` +
      `${BUNDLES.admin} are absent, and BRO_BOTTLEROCKET_URL / BRO_ADMIN_CONTAINER_URL are not both set.`,
  };
}

export const UPSTREAM = locate();
/** Whether the suite skips: when the upstream is not there, which it says (test/helpers/skips.ts). */
export const skipsUpstream = () => skipsBecause('skip' in UPSTREAM ? UPSTREAM.skip : undefined);

/**
 * The environment of every bro run and git call here, built from an allowlist:
 * PATH (to find git, containerd, rustfmt), the rustup homes (so rustup's
 * rustfmt shim finds its toolchain), a scratch HOME and no git config but
 * bro's own. BRO_*, GIT_*, AWS_* and CI from the developer's shell never
 * reach bro.
 */
export function upstreamEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const realHome = process.env.HOME ?? homedir();
  return sealedEnv({
    HOME: home,
    LANG: 'C.UTF-8',
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(realHome, '.rustup'),
    CARGO_HOME: process.env.CARGO_HOME ?? join(realHome, '.cargo'),
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  });
}

export interface World {
  root: string;
  project: string;
  cacheDir: string;
  mirrors: { bottlerocket: string; admin: string };
  env: Record<string, string>;
  /** Runs bro in-process with the sealed env and the project, cache and given args. */
  bro(...argv: string[]): Promise<CliResult>;
  /** `bro preview aws-k8s-1.18` of `version` with `userData`, on an m5.large with 2 CPUs, then `more`. */
  preview(version: string, userData: string, ...more: string[]): Promise<CliResult>;
  dispose(): void;
}

/**
 * A scratch project (a copy of this repository's variants/, patches/,
 * Infra.toml.tpl and examples/, so the lock file and work/ of the checkout are
 * never touched), a mirror cache and the mirrors.
 */
export function makeWorld(source: UpstreamSource): World {
  const root = mkdtempSync(join(tmpdir(), 'bro-upstream-'));
  const project = join(root, 'project');
  for (const entry of ['variants', 'patches', 'Infra.toml.tpl', 'examples']) {
    cpSync(join(REPO_ROOT, entry), join(project, entry), { recursive: true });
  }
  const mirrors = source.mirrors(root);
  const env = upstreamEnv(join(root, 'home'), {
    BRO_BOTTLEROCKET_URL: mirrors.bottlerocket,
    BRO_ADMIN_CONTAINER_URL: mirrors.admin,
  });
  const cacheDir = join(root, 'cache');
  const bro: World['bro'] = (...argv) => runCli([...argv, '--project-dir', project, '--cache-dir', cacheDir], env);
  return {
    root,
    project,
    cacheDir,
    mirrors,
    env,
    bro,
    preview: (version, userData, ...more) =>
      bro(
        'preview',
        'aws-k8s-1.18',
        '--version',
        version,
        '--user-data',
        userData,
        '--instance-type',
        'm5.large',
        '--cpus',
        '2',
        ...more,
      ),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function gitIn(world: World, cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: world.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Whether a program runs here; a test that needs it says so when it does not. */
export function hasProgram(argv: string[], env: Record<string, string>): boolean {
  try {
    execFileSync(argv[0]!, argv.slice(1), { env, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
