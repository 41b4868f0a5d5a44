import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdapters } from '../src/adapters/index.js';
import { createMirrors } from '../src/adapters/mirrors.js';
import { resolveSources, sourceRefs } from '../src/build/steps/resolve.js';
import { ensureCheckouts } from '../src/build/steps/sources.js';
import { parseVersion } from '../src/config/version.js';
import { StepError } from '../src/shared/errors.js';
import {
  commitAll,
  git,
  makeWorld,
  moveTag,
  removeDir,
  writeFiles,
  type UpstreamFixture,
} from './helpers/git-fixtures.js';
import { sealedEnv } from './helpers/env.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

function setup() {
  const world = makeWorld(dirs);
  const adapters = createAdapters({
    projectDir: world.project,
    cacheDir: world.cacheDir,
    dryRun: false,
    debug: false,
    env: sealedEnv(),
    stderr: process.stderr,
  });
  return { ...world, adapters };
}

async function resolve(s: ReturnType<typeof setup>, version = '1.0.4-hc1', updateLock = false) {
  const variant = await s.adapters.project.readVariant('aws-k8s-1.18');
  return resolveSources(sourceRefs(variant, parseVersion(version), {}), s.adapters, { updateLock });
}

const mirrorTags = (s: ReturnType<typeof setup>, up: UpstreamFixture) =>
  git(s.adapters.mirrors.pathFor(up.bottlerocket), 'tag', '--list');

describe('upstream sources', () => {
  it('creates a bare mirror on first use and pins the tag in the lock file', async () => {
    const s = setup();
    const pins = await resolve(s);
    expect(pins.bottlerocket.commit).toBe(s.upstream.tags['v1.0.4']);
    expect(pins['admin-container'].commit).toBe(s.upstream.adminCommit);
    const mirror = s.adapters.mirrors.pathFor(s.upstream.bottlerocket);
    expect(git(mirror, 'rev-parse', '--is-bare-repository')).toBe('true');
    const lock = JSON.parse(readFileSync(join(s.project, 'variants/sources.lock.json'), 'utf8'));
    expect(lock.pins['bottlerocket@v1.0.4'].commit).toBe(s.upstream.tags['v1.0.4']);
    expect(JSON.stringify(lock)).not.toContain(s.upstream.root);
  });

  it('updates the mirror by fetching when a new tag is needed', async () => {
    const s = setup();
    await resolve(s);
    writeFiles(s.upstream.bottlerocket, { 'Release.toml': 'version = "1.0.6"\n' });
    const commit = commitAll(s.upstream.bottlerocket, 'v1.0.6');
    git(s.upstream.bottlerocket, 'tag', '-a', '-m', 'v1.0.6', 'v1.0.6');
    expect(mirrorTags(s, s.upstream)).not.toContain('v1.0.6');
    const pins = await resolve(s, '1.0.6-hc1');
    expect(pins.bottlerocket.commit).toBe(commit);
    expect(mirrorTags(s, s.upstream)).toContain('v1.0.6');
  });

  it('stops when a pinned tag moved upstream, and accepts it with --update-lock', async () => {
    const s = setup();
    await resolve(s);
    const moved = moveTag(s.upstream.bottlerocket, 'v1.0.4', { 'NEWS.md': 'retagged\n' });
    const error = await resolve(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).message).toContain('bottlerocket ref "v1.0.4" moved');
    expect((error as StepError).message).toContain(s.upstream.tags['v1.0.4']!.slice(0, 12));
    expect((error as StepError).hint).toContain('--update-lock');
    // The lock still holds the old pin.
    expect(readFileSync(join(s.project, 'variants/sources.lock.json'), 'utf8')).toContain(s.upstream.tags['v1.0.4']);

    const pins = await resolve(s, '1.0.4-hc1', true);
    expect(pins.bottlerocket.commit).toBe(moved);
    expect(readFileSync(join(s.project, 'variants/sources.lock.json'), 'utf8')).toContain(moved);
  });

  it('names the ref when the tag does not exist upstream', async () => {
    const s = setup();
    await expect(resolve(s, '9.9.9-hc1')).rejects.toThrow(
      /has no tag or branch "v9\.9\.9" \(from --version 9\.9\.9-hc1\)/,
    );
  });

  it('refuses a workspace directory that is not a git checkout, and touches nothing in it', async () => {
    const s = setup();
    const pins = await resolve(s);
    const root = join(s.project, 'work', 'aws-k8s-1.18');
    const workspace = {
      root,
      bottlerocket: join(root, 'bottlerocket'),
      adminContainer: join(root, 'admin-container'),
      broDir: join(root, '.bro'),
    };
    writeFiles(workspace.adminContainer, { 'notes.txt': 'mine\n' });
    await expect(ensureCheckouts(s.adapters.git, workspace, pins)).rejects.toThrow(
      `${workspace.adminContainer} exists but is not a git checkout`,
    );
    expect(readdirSync(workspace.adminContainer)).toEqual(['notes.txt']);
  });

  it('a first clone that dies half-way leaves no half mirror behind', async () => {
    const s = setup();
    const dying = {
      ...s.adapters.git,
      cloneMirror: async (_url: string, dest: string) => {
        writeFiles(dest, { HEAD: 'ref: refs/heads/develop\n', 'objects/pack/partial': 'x' });
        throw new Error('killed');
      },
    };
    const mirrors = createMirrors(s.cacheDir, dying);
    await expect(mirrors.ensure(s.upstream.bottlerocket)).rejects.toThrow('killed');
    expect(existsSync(mirrors.pathFor(s.upstream.bottlerocket))).toBe(false);
    expect(readdirSync(join(s.cacheDir, 'mirrors'))).toEqual([]);
    // The next run starts from scratch and succeeds.
    expect((await createMirrors(s.cacheDir, s.adapters.git).ensure(s.upstream.bottlerocket)).created).toBe(true);
  });
});

describe('progress of a mirror clone', () => {
  it("a cold clone over a transport shows git's own progress (objects, sizes) per source; a warm resolve shows none", async () => {
    const s = setup();
    const variant = await s.adapters.project.readVariant('aws-k8s-1.18');
    // file:// goes through git's transport, as a network clone does (a plain path would copy the files).
    const env = {
      BRO_BOTTLEROCKET_URL: `file://${s.upstream.bottlerocket}`,
      BRO_ADMIN_CONTAINER_URL: `file://${s.upstream.adminContainer}`,
    };
    const lines: string[] = [];
    const refs = sourceRefs(variant, parseVersion('1.0.4-hc1'), env);
    await resolveSources(refs, s.adapters, {
      updateLock: false,
      progress: (source, line) => lines.push(`${source}: ${line}`),
    });
    for (const source of ['bottlerocket', 'admin-container']) {
      // git redraws one line with carriage returns: each update arrives as its own line.
      expect(
        lines
          .filter((l) => l.startsWith(`${source}: `))
          .some((l) => /(Receiving|Counting) objects: +\d+% \(\d+\/\d+\)/.test(l)),
        lines.join('\n'),
      ).toBe(true);
    }
    expect(lines.every((l) => !l.includes('\r'))).toBe(true);

    lines.length = 0;
    await resolveSources(refs, s.adapters, {
      updateLock: false,
      progress: (source, line) => lines.push(`${source}: ${line}`),
    });
    expect(lines).toEqual([]);
  });
});
