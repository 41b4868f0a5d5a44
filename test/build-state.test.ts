import { hostname } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { createAdapters } from '../src/adapters/index.js';
import { lockWorkspace } from '../src/adapters/locks/workspace-lock.js';
import { buildSteps, stages, stepMode } from '../src/build/pipeline.js';
import { resolveStep } from '../src/build/steps/resolve.js';
import { sourcesStep } from '../src/build/steps/sources.js';
import { adminImageBuildStep } from '../src/build/steps/admin-image-build.js';
import { osBuildStep } from '../src/build/steps/os-build.js';
import { amiRegisterStep, readAmisJson } from '../src/build/steps/ami-register.js';
import { patchStep } from '../src/build/steps/patch.js';
import { renderStep } from '../src/build/steps/render-infra.js';
import { STEP_IDS } from '../src/config/step-ids.js';
import { assertCleanTree } from '../src/build/steps/run-logged.js';
import { buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { startAwsEndpoint } from './helpers/aws-endpoint.js';
import { git, makePatch, removeDir, tempDir, writeFiles, writeSeries } from './helpers/git-fixtures.js';
import { sealedEnv } from './helpers/env.js';
import { BRO_BIN, broArgv } from './helpers/cli.js';

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const tools = (w: BuildWorld) =>
  w.tools.calls().map((c) => `${c.tool} ${c.argv[0]}${c.tool === 'cargo' ? ` ${c.argv.at(-1)}` : ''}`);
const state = (w: BuildWorld) =>
  JSON.parse(readFileSync(join(w.work, '.bro/state.json'), 'utf8')) as { steps: Record<string, { status: string }> };

describe('the pipeline', () => {
  it("runs exactly the steps --from and --only name, in the issue's order", () => {
    expect(buildSteps().map((step) => step.id)).toEqual([...STEP_IDS]);
    expect(stepMode('os-build', {})).toBe('run');
    expect(stepMode('os-build', { from: 'os-build' })).toBe('force');
    expect(stepMode('share', { from: 'os-build' })).toBe('force');
    expect(stepMode('admin-image-push', { from: 'os-build' })).toBe('run');
    // The two branches run side by side: redoing the push neither rebuilds nor re-registers the OS.
    expect(stepMode('os-build', { from: 'admin-image-push' })).toBe('run');
    expect(stepMode('ami-register', { from: 'admin-image-push' })).toBe('run');
    expect(stepMode('share', { from: 'admin-image-push' })).toBe('force');
    expect(stepMode('share', { only: 'share' })).toBe('force');
    expect(stepMode('os-build', { only: 'share' })).toBe('restore');
  });
});

describe('the stages of a pipeline', () => {
  it('accept a step only after the steps it needs: otherwise `npm run typecheck` fails', () => {
    // @ts-expect-error sources reads resolve's pins, and no resolve comes before it.
    stages().then(sourcesStep);
    const local = stages().then(resolveStep).then(sourcesStep).then(patchStep).then(renderStep);
    local.sideBySide(
      'side by side',
      'gate',
      { title: 'admin', steps: (b) => b.then(adminImageBuildStep) },
      // @ts-expect-error ami-register reads os-build's images, which the other branch does not make.
      { title: 'os', steps: (b) => b.then(amiRegisterStep) },
    );
    const both = local.sideBySide(
      'side by side',
      'gate',
      { title: 'admin', steps: (b) => b.then(adminImageBuildStep) },
      { title: 'os', steps: (b) => b.then(osBuildStep).then(amiRegisterStep) },
    );
    expect(buildSteps(both.list).map((step) => step.id)).toEqual([
      'resolve',
      'sources',
      'patch',
      'render',
      'admin-image-build',
      'os-build',
      'ami-register',
    ]);
  });
});

describe('state and resume', () => {
  it('changed inputs rerun the affected steps and those after them, nothing else', async () => {
    expect((await s.build()).code).toBe(0);

    // Another account: only share (and the manifest) redo their work.
    const variant = join(s.project, 'variants/aws-k8s-1.18.toml');
    writeFileSync(
      variant,
      readFileSync(variant, 'utf8').replace(
        'share-with = ["210987654321", "345678901234"]',
        'share-with = ["210987654321", "345678901234", "456789012345"]',
      ),
    );
    s.tools.clearCalls();
    s.world.calls.length = 0;
    const more = await s.build();
    expect(more.code).toBe(0);
    expect(tools(s)).toEqual([]);
    const launch = s.world.modifying().filter((c) => c.action === 'ModifyImageAttribute');
    expect(launch.map((c) => c.region).sort()).toEqual([...REGIONS].sort());
    for (const c of launch) expect(c.input).toMatchObject({ LaunchPermission: { Add: [{ UserId: '456789012345' }] } });
    expect(JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')).accounts).toContain('456789012345');

    // A new Bottlerocket patch: the OS is rebuilt and `cargo make ami` runs again; the admin image is not touched.
    const patch = makePatch(s.upstream.bottlerocket, 'v1.0.4', 'models: more', {
      'sources/models/src/lib.rs':
        'pub struct KubernetesSettings {\n    cluster_name: Option<String>,\n    more: Option<u8>,\n}\n',
    });
    writeSeries(s.project, 'bottlerocket', '1.0.4', { '0001-models-more.patch': patch });
    s.tools.clearCalls();
    s.world.calls.length = 0;
    const rebuilt = await s.build();
    expect(tools(s)).toEqual(['cargo make BUILDSYS_VERSION_BUILD=hc1', 'cargo make ami']);
    // pubsys reuses an AMI whose name exists: the regional AMIs are still the first build, and are not tagged as this one.
    expect(rebuilt.code).toBe(1);
    expect(rebuilt.stderr).toContain('Checking the AMIs before sharing failed in 3 of 3 regions');
    expect(rebuilt.stderr).toMatch(
      /✖ us-east-1: ami-\w+ is an earlier build published under the same name, not this one: bro:patch-series = sha256:\w+ \(this build: sha256:\w+\)/,
    );
    expect(rebuilt.stderr).toContain('new build suffix');
    expect(s.world.modifying()).toEqual([]);
  });

  it('--from redoes a step and everything after it; --only one step; bad names are usage errors', async () => {
    expect((await s.build()).code).toBe(0);
    s.tools.clearCalls();
    s.world.calls.length = 0;
    expect((await s.build(['--from', 'ami-register'])).code).toBe(0);
    expect(tools(s)).toEqual(['cargo make ami']);
    // Share ran again: it looked at every region and found everything already there.
    expect(new Set(s.world.calls.map((c) => c.region))).toEqual(new Set(REGIONS));
    expect(s.world.modifying()).toEqual([]);

    s.tools.clearCalls();
    expect((await s.build(['--only', 'admin-image-build'])).code).toBe(0);
    expect(tools(s)).toEqual(['docker build', 'make check', 'docker run', 'docker image']);

    const bad = await s.build(['--only', 'sharing']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--only sharing: no such step');
    expect(bad.stderr).toContain(
      'resolve, sources, patch, verify, render, admin-image-build, admin-image-push, os-build, ami-register, share, ami-deprecate, ssm-publish, manifest',
    );
    expect((await s.build(['--only', 'share', '--from', 'share'])).code).toBe(2);
    const wait = await s.build(['--wait-timeout', '0.1', '--wait-poll', '30']);
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('--wait-timeout (0.1 minutes) must be longer than --wait-poll (30 seconds)');
    expect((await s.build(['--region-concurrency', '0'])).code).toBe(2);
  });

  it('--only share in a workspace that never registered an AMI says what is missing', async () => {
    const result = await s.build(['--only', 'share']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('share needs the result of ami-register, which has not finished in this workspace');
    expect(s.tools.calls()).toEqual([]);
  });

  it('an OS build failure shows the last 50 lines and the log; a rerun redoes only what failed', async () => {
    const failed = await s.build([], { BRO_FAKE_CARGO_FAIL: 'build' });
    expect(failed.code).toBe(1);
    const log = join(s.work, '.bro/logs/os-build.log');
    expect(failed.stderr).toContain('failed (exit code 1): error: failed to build package kernel: exit status 2');
    expect(failed.stderr).toContain('The last 50 lines of its output:');
    expect(failed.stderr).toContain('Compiling package-60 v0.1.0');
    expect(failed.stderr).not.toContain('Compiling package-5 v0.1.0');
    expect(failed.stderr).toContain(`The full log is ${log}`);
    expect(readFileSync(log, 'utf8')).toContain('Compiling package-5 v0.1.0');
    // The admin image went ahead meanwhile; sharing did not start.
    expect(state(s).steps['admin-image-push']?.status).toBe('done');
    expect(state(s).steps['os-build']?.status).toBe('failed');
    expect(s.world.calls.filter((c) => c.service === 'ec2' && c.action.startsWith('Describe'))).toEqual([]);

    s.tools.clearCalls();
    expect((await s.build()).code).toBe(0);
    expect(tools(s)).toEqual(['cargo make BUILDSYS_VERSION_BUILD=hc1', 'cargo make ami']);
  });

  it('refuses to build from a dirty tree', async () => {
    const repo = tempDir('bro-dirty-');
    try {
      git(repo, 'init', '--quiet');
      writeFiles(repo, { 'Release.toml': 'version = "1.0.4"\n' });
      git(repo, 'add', '-A');
      git(repo, 'commit', '--quiet', '-m', 'x');
      writeFiles(repo, { 'Release.toml': 'version = "1.0.5"\n', 'new.txt': 'x' });
      const adapters = createAdapters({
        projectDir: s.project,
        cacheDir: s.cacheDir,
        dryRun: false,
        debug: false,
        env: sealedEnv(),
        stderr: process.stderr,
      });
      const ctx = { adapters } as unknown as Parameters<typeof assertCleanTree>[0];
      await expect(assertCleanTree(ctx, 'os-build', repo)).rejects.toThrow(
        /Refusing to build from a dirty tree: .* has changes:\n {3}M Release.toml\n {2}\?\? new.txt/,
      );
    } finally {
      removeDir(repo);
    }
  });

  it('fails clearly when cargo make ami wrote no amis.json, or one without a region', async () => {
    const dir = tempDir('bro-amis-');
    try {
      const path = join(dir, 'amis.json');
      await expect(readAmisJson(path, REGIONS)).rejects.toThrow(
        `${path} does not exist: \`cargo make ami\` wrote no AMI IDs`,
      );
      writeFileSync(path, JSON.stringify({ 'ap-northeast-1': { id: 'ami-0123456789abcdef0', name: 'x' } }));
      await expect(readAmisJson(path, REGIONS)).rejects.toThrow(`${path} has no AMI for us-west-1, us-east-1`);
    } finally {
      removeDir(dir);
    }
  });
});

describe('the workspace lock', () => {
  it('stops a second build while the first runs (a lock of an older bro: a bare pid)', async () => {
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      mkdirSync(join(s.work, '.bro'), { recursive: true });
      writeFileSync(join(s.work, '.bro/lock'), `${owner.pid}\n`);
      const result = await s.build();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Another bro (pid ${owner.pid} on ${hostname()}) is running in this workspace`);
      expect(s.tools.calls()).toEqual([]);
      expect(readFileSync(join(s.work, '.bro/lock'), 'utf8')).toBe(`${owner.pid}\n`);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  it('takes over a stale lock left by a dead process and says so', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    mkdirSync(join(s.work, '.bro'), { recursive: true });
    writeFileSync(join(s.work, '.bro/lock'), `${dead}\n`);
    const result = await s.build(['--only', 'os-build']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`Took over the workspace lock left by pid ${dead}, which is no longer running`);
    expect(existsSync(join(s.work, '.bro/lock'))).toBe(false);
  });

  it('is held by one process at a time', async () => {
    const dir = tempDir('bro-lock-');
    try {
      const as = (pid: number, alive: (p: number) => boolean) => ({
        processes: {
          self: () => ({ pid, startTime: '7', host: 'h' }),
          isAlive: alive,
          startTime: () => '7',
          groupAlive: () => false,
        },
      });
      const lock = await lockWorkspace(
        dir,
        as(4242, (pid) => pid === 4242),
      );
      await expect(
        lockWorkspace(
          dir,
          as(4343, (pid) => pid === 4242),
        ),
      ).rejects.toThrow('Another bro (pid 4242 on h');
      await lock.release();
      const next = await lockWorkspace(
        dir,
        as(4343, () => true),
      );
      expect(next.stale).toBeUndefined();
      await next.release();
    } finally {
      removeDir(dir);
    }
  });
});

describe('SIGTERM', () => {
  it('stops cargo and docker (their process groups) and records their steps as interrupted', async () => {
    // A child process: its preflight asks the loopback endpoint who it is.
    const aws = await startAwsEndpoint(s.world);
    onTestFinished(() => aws.close());
    const child = spawn(process.execPath, [BRO_BIN, ...broArgv(s, '--ci', '--min-free-disk', '0.1')], {
      env: sealedEnv({ ...s.tools.env, ...aws.env, BRO_FAKE_HANG: 'cargo,docker' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const marker = (tool: string) => `${s.tools.env.BRO_FAKE_CALLS}.hang-${tool}`;
    for (let i = 0; i < 400 && !(existsSync(marker('cargo')) && existsSync(marker('docker'))); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker('cargo')) && existsSync(marker('docker')), stderr).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(stderr).toContain('Interrupted');
    for (const tool of ['cargo', 'docker']) {
      const pid = Number(readFileSync(marker(tool), 'utf8'));
      expect(() => process.kill(pid, 0), `${tool} still runs`).toThrow();
    }
    expect(state(s).steps['os-build']?.status).toBe('interrupted');
    expect(state(s).steps['admin-image-build']?.status).toBe('interrupted');
    expect(existsSync(join(s.work, '.bro/lock'))).toBe(false);
  });
});
