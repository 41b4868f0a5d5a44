import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PATH } from './env.js';
import { REPO_ROOT, tempDir } from './git-fixtures.js';

/**
 * The fake cargo, docker and make of test/fakes/bin on PATH, with a fresh
 * engine/registry directory and a call log. Each fake names the upstream file
 * whose contract it reproduces.
 */
export const FAKE_BIN = join(REPO_ROOT, 'test', 'fakes', 'bin');

export interface FakeCall {
  tool: 'cargo' | 'docker' | 'make';
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdinSha256?: string;
  dockerConfigMode?: string;
}

export interface FakeTools {
  dir: string;
  /** The environment bro gets: PATH with the fakes first, and where they keep their state. */
  env: Record<string, string>;
  /** The calls that do work: every call but the preflight's probes (`docker info`, `cargo make --version`). */
  calls(): FakeCall[];
  /** Every call, probes included. */
  allCalls(): FakeCall[];
  /** Forgets the calls so far. */
  clearCalls(): void;
  /** The digest the fake registry holds for `<registry>/<repo>:<tag>`. */
  registryDigest(repository: string, tag: string): string | undefined;
  /** As if another build had pushed `digest` under the tag. */
  seedRegistry(repository: string, tag: string, digest: string): void;
}

/** The preflight's read-only probes of the host. */
export const isProbe = (c: FakeCall) =>
  (c.tool === 'docker' && c.argv[0] === 'info') ||
  (c.tool === 'cargo' && c.argv[0] === 'make' && c.argv[1] === '--version');

export function fakeTools(extraEnv: Record<string, string> = {}): FakeTools {
  const dir = tempDir('bro-fakes-');
  const callsFile = join(dir, 'calls.jsonl');
  const engine = join(dir, 'engine');
  const allCalls = () =>
    existsSync(callsFile)
      ? readFileSync(callsFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as FakeCall)
      : [];
  const registryFile = (repository: string, tag: string) =>
    join(engine, 'registry', encodeURIComponent(repository), encodeURIComponent(tag));
  return {
    dir,
    env: {
      PATH: `${FAKE_BIN}:${PATH}`,
      BRO_FAKE_CALLS: callsFile,
      BRO_FAKE_DOCKER_DIR: engine,
      ...extraEnv,
    },
    calls: () => allCalls().filter((c) => !isProbe(c)),
    allCalls,
    clearCalls: () => writeFileSync(callsFile, ''),
    registryDigest: (repository, tag) =>
      existsSync(registryFile(repository, tag)) ? readFileSync(registryFile(repository, tag), 'utf8') : undefined,
    seedRegistry(repository, tag, digest) {
      mkdirSync(join(engine, 'registry', encodeURIComponent(repository)), { recursive: true });
      writeFileSync(registryFile(repository, tag), digest);
    },
  };
}
