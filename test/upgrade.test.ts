import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSeriesFile } from '../src/config/series.js';
import { runCli } from './helpers/cli.js';
import { git, removeDir } from './helpers/git-fixtures.js';
import {
  makeUpgradeWorld,
  OLD_USER_DATA,
  PATCH,
  removeWorld,
  snapshotProject,
  upgradeArgs,
  type UpgradeWorld,
} from './helpers/upgrade-fixtures.js';

// Real git repositories and several git processes per run: slow on a loaded machine, never timed.
let world: UpgradeWorld;
beforeEach(() => {
  world = makeUpgradeWorld();
});
afterEach(() => removeWorld(world));

const upgrade = (...args: string[]) => runCli(upgradeArgs(world, ...args));

/** The patches a series lists, read as bro reads them (its comment lines are not patches). */
const seriesOf = (source: string, base: string) => {
  const file = join(world.project, 'patches', source, base, 'series');
  return parseSeriesFile(file, readFileSync(file, 'utf8'));
};
/** What the upgrade's report says became of a patch: the rest of its line. */
const outcome = (stdout: string, patch: string) =>
  stdout
    .split('\n')
    .find((l) => l.trim().startsWith(`${patch} `))
    ?.trim()
    .slice(patch.length)
    .trim();
const variantText = () => readFileSync(join(world.project, 'variants', 'aws-k8s-1.18.toml'), 'utf8');

function writeUserData(text = OLD_USER_DATA): string {
  const file = join(world.work, 'old.toml');
  writeFileSync(file, text);
  return file;
}

describe('bro upgrade --to, when no patch needs a person', { timeout: 120_000 }, () => {
  it('writes the smallest series for both sources and the admin ref, keeping the variant file as it was around it', async () => {
    const before = variantText();
    const result = await upgrade('--to', 'v1.5.0');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // 0003 and 0004 are what upstream has in no form: carried, 0003 refreshed onto upstream's lines of 0001.
    expect(seriesOf('bottlerocket', '1.5.0')).toEqual([PATCH.featureGates, PATCH.renderGates]);
    expect(outcome(result.stdout, PATCH.featureGates)).toBe('refreshed');
    expect(outcome(result.stdout, PATCH.renderGates)).toBe('carried');
    const carried = (base: string) =>
      readFileSync(join(world.project, 'patches/bottlerocket', base, PATCH.renderGates), 'utf8');
    expect(carried('1.5.0')).toBe(carried('1.0.4'));
    expect(result.stdout).toMatch(
      /0001-models-add-settings\.kubernetes\.container-log-max-siz\.patch +dropped: already upstream in v1\.5\.0/,
    );
    // The admin container v1.5.0's defaults name, found through the variant's defaults.d/ (moved from defaults.toml).
    expect(result.stdout).toContain('admin container v0.6.0');
    expect(result.stdout).toContain('sources/models/shared-defaults/aws-host-containers.toml');
    // v0.6.0 has both admin patches: root refused as it is, EC2 Instance Connect in its own form.
    expect(seriesOf('admin-container', '0.6.0')).toEqual([]);
    expect(result.stdout).toMatch(/0002-sshd-refuse-root-logins\.patch +dropped: already upstream in v0\.6\.0/);
    expect(result.stdout).toMatch(
      /0001-Support-EC2-Instance-Connect\.patch +dropped: upstream has it in another form in v0\.6\.0: user data `ssh\.authorized-keys-command`/,
    );

    // The variant: one table added after [sources.admin-container], every other line as it was.
    const after = variantText();
    expect(after).toContain(
      '[sources.admin-container.refs]   # per Bottlerocket base tag; wins over `ref`\n"v1.5.0" = "v0.6.0"\n',
    );
    expect(after.split('\n').filter((l) => !before.split('\n').includes(l))).toEqual(
      [
        '',
        '[sources.admin-container.refs]   # per Bottlerocket base tag; wins over `ref`',
        '"v1.5.0" = "v0.6.0"',
      ].filter(Boolean),
    );
    const parsed = parseToml(after) as {
      sources: { 'admin-container': { ref: string; refs: Record<string, string> } };
    };
    expect(parsed.sources['admin-container'].refs).toEqual({ 'v1.5.0': 'v0.6.0' });
    expect(parsed.sources['admin-container'].ref).toBe(world.adminCommit);
    // The old series stay: one variant file serves both bases.
    expect(seriesOf('bottlerocket', '1.0.4')).toHaveLength(4);
    expect(seriesOf('admin-container', '0.5.2')).toHaveLength(2);
    const shown = await runCli(['variants', 'show', 'aws-k8s-1.18', '--project-dir', world.project]);
    expect(shown.code).toBe(0);
  });

  it('changes nothing in patches/ or variants/ when run again, and still migrates the user data', async () => {
    expect((await upgrade('--to', 'v1.5.0')).code).toBe(0);
    const before = snapshotProject(world.project);
    const again = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData());
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('patches/bottlerocket/1.5.0/ is already there: kept as it is');
    expect(again.stdout).toContain('(already there)');
    expect(again.stdout).toContain('+[[settings.container-registry.credentials]]');
    expect(snapshotProject(world.project)).toEqual(before);
  });
});

describe('bro upgrade --to, when upstream has a patch in its own form', { timeout: 120_000 }, () => {
  const stateFile = () => join(world.work, 'upgrade', 'rebase', 'bottlerocket.json');

  it("drops it without a stop, naming upstream's key and the field mapping, and records the settings it moves", async () => {
    const result = await upgrade('--to', 'v1.5.0');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(outcome(result.stdout, PATCH.registryAuths)).toBe(
      'dropped: upstream has it in another form in v1.5.0: `settings.cri-registry-auths` → `settings.container-registry.credentials` (name → registry)',
    );
    expect(result.stdout).toContain('bottlerocket: patches/bottlerocket/1.5.0/ from 1.0.4 (2 patches, 2 dropped)');
    expect(seriesOf('bottlerocket', '1.5.0')).not.toContain(PATCH.registryAuths);
    // The rebase's state (versioned JSON) keeps the move, for a rerun that resumes the rebase.
    const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as {
      schemaVersion: number;
      patches: { name: string; dropped?: string; settings?: unknown }[];
    };
    expect(state.schemaVersion).toBe(1);
    expect(state.patches.find((p) => p.name === PATCH.registryAuths)?.settings).toEqual([
      {
        from: 'settings.cri-registry-auths',
        to: 'settings.container-registry.credentials',
        fields: { name: 'registry' },
      },
    ]);
    expect(state.patches.find((p) => p.name === PATCH.featureGates)).not.toHaveProperty('dropped');
  });

  it('moves its settings as the check advised when the rerun resumes the finished rebase', async () => {
    expect((await upgrade('--to', 'v1.5.0')).code).toBe(0);
    // The series is taken out of the project again: the rerun exports it from the rebase it already made.
    rmSync(join(world.project, 'patches', 'bottlerocket', '1.5.0'), { recursive: true });
    const out = join(world.work, 'new.toml');
    const again = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData(), '--user-data-out', out);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`(name → registry; upstream's form of ${PATCH.registryAuths}, dropped)`);
    const { settings } = parseToml(readFileSync(out, 'utf8')) as {
      settings: { 'container-registry': { credentials: Record<string, string>[] } };
    };
    expect(settings['container-registry'].credentials.map((c) => c.registry)).toEqual([
      'harbor.example.com:8443',
      '10.0.0.1:5000',
    ]);
  });
});

describe('bro upgrade --json', { timeout: 120_000 }, () => {
  it('reports the same as one versioned document: why each patch was dropped, the settings moved, no credential', async () => {
    const out = join(world.work, 'new.toml');
    const result = await upgrade('--to', 'v1.5.0', '--json', '--user-data', writeUserData(), '--user-data-out', out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      schemaVersion: number;
      kind: string;
      sources: {
        source: string;
        patches: { name: string; outcome: string }[];
        dropped: { name: string; reason: string; settings?: unknown }[];
      }[];
      userData: { moved: { from: string; to: string; patch?: string }[]; written: string };
    };
    expect(report).toMatchObject({ schemaVersion: 1, kind: 'bro.upgrade.report' });
    const bottlerocket = report.sources.find((s) => s.source === 'bottlerocket')!;
    expect(bottlerocket.patches.map((p) => p.name)).toEqual([PATCH.featureGates, PATCH.renderGates]);
    expect(bottlerocket.dropped.find((d) => d.name === PATCH.registryAuths)).toEqual({
      name: PATCH.registryAuths,
      reason: expect.stringContaining('upstream has it in another form in v1.5.0') as unknown,
      settings: [
        {
          from: 'settings.cri-registry-auths',
          to: 'settings.container-registry.credentials',
          fields: { name: 'registry' },
        },
      ],
    });
    expect(report.userData.moved).toEqual([
      {
        from: 'settings.cri-registry-auths',
        to: 'settings.container-registry.credentials',
        fields: { name: 'registry' },
        patch: PATCH.registryAuths,
      },
    ]);
    expect(report.userData.written).toBe(out);
    expect(result.stdout).not.toContain('SECRET');
    expect(result.stdout).not.toContain('cm9ib3Q6U0VDUkVULUFVVEg=');
    expect(readFileSync(out, 'utf8')).toContain('SECRET');
  });
});

describe('bro upgrade --user-data', { timeout: 120_000 }, () => {
  it('shows the same node on the new base as a diff: credentials moved with name → registry, carried settings kept, EC2 Instance Connect in the admin user data', async () => {
    const out = join(world.work, 'new.toml');
    const result = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData(), '--user-data-out', out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `moved: settings.cri-registry-auths → settings.container-registry.credentials (name → registry; upstream's form of ${PATCH.registryAuths}, dropped)`,
    );
    expect(result.stdout).toContain('kept: settings.kubernetes.feature-gates (the new series adds it');
    expect(result.stdout).toContain('-[[settings.cri-registry-auths]]');
    expect(result.stdout).toContain('+registry = "harbor.example.com:8443"');
    expect(result.stdout).toMatch(/\n\+user-data = "[A-Za-z0-9+/=]+"\n/);
    // The password is a secret: not in the output, in any spelling.
    expect(result.stdout).not.toContain('SECRET');
    expect(result.stdout).not.toContain('cm9ib3Q6U0VDUkVULUFVVEg=');

    const migrated = parseToml(readFileSync(out, 'utf8')) as {
      settings: {
        'container-registry': { credentials: Record<string, string>[] };
        kubernetes: Record<string, unknown>;
        'host-containers': { admin: { enabled: boolean; 'user-data': string } };
        'cri-registry-auths'?: unknown;
      };
    };
    const { settings } = migrated;
    expect(settings['cri-registry-auths']).toBeUndefined();
    expect(settings['container-registry'].credentials).toEqual([
      {
        registry: 'harbor.example.com:8443',
        username: 'robot$pull',
        password: 'SECRET-"quoted"-\\back\\slash-{{ x }}-é',
      },
      { registry: '10.0.0.1:5000', auth: 'cm9ib3Q6U0VDUkVULUFVVEg=' },
    ]);
    expect(settings.kubernetes['container-log-max-size']).toBe('50Mi');
    expect(settings.kubernetes['feature-gates']).toEqual({ TopologyManager: true });
    expect(settings['host-containers'].admin.enabled).toBe(true);
    // As the v0.6.0 start script reads it, with the command line of the old sshd_config.
    expect(JSON.parse(Buffer.from(settings['host-containers'].admin['user-data'], 'base64').toString('utf8'))).toEqual({
      ssh: {
        'authorized-keys-command': '/opt/aws/bin/eic_run_authorized_keys %u %f',
        'authorized-keys-command-user': 'ec2-instance-connect',
      },
    });
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('writes nothing without --user-data-out, and migrating the migrated file again changes nothing', async () => {
    const first = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData());
    expect(first.code).toBe(0);
    expect(readdirSync(world.work).filter((f) => f.endsWith('.toml'))).toEqual(['old.toml']);
    const out = join(world.work, 'new.toml');
    expect((await upgrade('--to', 'v1.5.0', '--user-data', writeUserData(), '--user-data-out', out)).code).toBe(0);
    const twice = await upgrade('--to', 'v1.5.0', '--user-data', out);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('(no change)');
  });

  it('names what cannot move, with the reason', async () => {
    expect((await upgrade('--to', 'v1.5.0')).code).toBe(0);
    // The team leaves feature gates out of the new series: a node's gates have nowhere to go.
    const dir = join(world.project, 'patches', 'bottlerocket', '1.5.0');
    rmSync(join(dir, PATCH.featureGates));
    writeFileSync(join(dir, 'series'), `${PATCH.renderGates}\n`);
    const out = join(world.work, 'new.toml');
    const result = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData(), '--user-data-out', out);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "cannot move: settings.kubernetes.feature-gates: neither upstream's model at v1.5.0 nor the new series has it, nor a setting of the same shape",
    );
    expect(result.stdout).toContain('-[settings.kubernetes.feature-gates]');
    expect(readFileSync(out, 'utf8')).not.toContain('feature-gates');
  });

  it.each([
    ['does not parse', 'settings = [', /old\.toml: is not valid TOML/],
    [
      'has a key neither base knows',
      `${OLD_USER_DATA}\n[settings.kubernetes.no-such-setting]\nx = 1\n`,
      /`settings\.kubernetes\.no-such-setting`: unknown at both v1\.0\.4/,
    ],
  ])('refuses user data that %s (exit 2, naming it), with nothing written', async (_, text, message) => {
    const before = snapshotProject(world.project);
    const result = await upgrade('--to', 'v1.5.0', '--user-data', writeUserData(text));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(snapshotProject(world.project)).toEqual(before);
  });
});

describe('bro upgrade --to, bad targets', { timeout: 120_000 }, () => {
  it.each([
    ['v9.9.9', /--to v9\.9\.9: .* has no such tag/],
    ['v1.0.2', /--to v1\.0\.2: is older than the series it would start from, patches\/bottlerocket\/1\.0\.4\//],
    ['v1.6.0', /--to v1\.6\.0: upstream no longer ships aws-k8s-1\.18 there/],
  ])('refuses %s with exit 2, naming the last tag that has the variant', async (tag, message) => {
    const before = snapshotProject(world.project);
    const result = await upgrade('--to', tag);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('The newest release of');
    expect(result.stderr).toContain('that has aws-k8s-1.18 is v1.5.0');
    expect(snapshotProject(world.project)).toEqual(before);
  });
});

describe('bro upgrade --to, when a patch needs a person', { timeout: 120_000 }, () => {
  const workspace = () => join(world.work, 'upgrade', 'rebase', 'bottlerocket');
  const modRs = () => join(workspace(), 'sources/models/src/aws-k8s-1.15/mod.rs');

  /** What a person does at the conflict: keep upstream's rename and our field, then `git am --continue`. */
  function resolveByHand(): void {
    const text = readFileSync(modRs(), 'utf8');
    writeFileSync(
      modRs(),
      text.replace(
        /<<<<<<< [^\n]*\n[\s\S]*?>>>>>>> [^\n]*\n/,
        '    network: NetworkConfig,\n    cri_registry_auths: Vec<RegistryAuth>,\n',
      ),
    );
    git(workspace(), 'add', '--all');
    git(workspace(), 'am', '--continue');
  }

  it('stops with instructions, writes nothing, resumes once resolved, and records the resolution for the next rebase', async () => {
    const before = snapshotProject(world.project);
    const stopped = await upgrade('--to', 'v1.4.0');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(`${PATCH.registryAuths} does not apply to v1.4.0`);
    expect(stopped.stderr).toContain(`cd ${workspace()}`);
    expect(stopped.stderr).toContain(
      `bro upgrade aws-k8s-1.18 --to v1.4.0 --project-dir ${world.project} --work-dir ${world.work}`,
    );
    expect(snapshotProject(world.project)).toEqual(before);

    // Run again before resolving: still stopped, still nothing written.
    const still = await upgrade('--to', 'v1.4.0');
    expect(still.code).toBe(1);
    expect(still.stderr).toContain('rebase is still stopped at patch 2 of 4');
    expect(snapshotProject(world.project)).toEqual(before);

    resolveByHand();
    const resumed = await upgrade('--to', 'v1.4.0');
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    // At v1.4.0 upstream has none of them: all four carried, 0002 as resolved.
    expect(seriesOf('bottlerocket', '1.4.0')).toHaveLength(4);
    const carried = readFileSync(join(world.project, 'patches/bottlerocket/1.4.0', PATCH.registryAuths), 'utf8');
    expect(carried).toContain('+    cri_registry_auths: Vec<RegistryAuth>,');
    expect(carried).toContain(' network: NetworkConfig,');
    const recorded = join(world.project, 'patches', 'rr-cache', 'bottlerocket');
    expect(readdirSync(recorded)).toHaveLength(1);
    expect(existsSync(join(recorded, readdirSync(recorded)[0]!, 'postimage'))).toBe(true);

    // The next rebase of the same change, from a fresh workspace, replays the resolution: no stop.
    rmSync(join(world.project, 'patches', 'bottlerocket', '1.4.0'), { recursive: true });
    removeDir(world.work);
    const replayed = await upgrade('--to', 'v1.4.0');
    expect(replayed.stderr).toBe('');
    expect(replayed.code).toBe(0);
    expect(readFileSync(join(world.project, 'patches/bottlerocket/1.4.0', PATCH.registryAuths), 'utf8')).toBe(carried);
  });

  it('refuses to throw away a stopped rebase for another target, until --restart', async () => {
    expect((await upgrade('--to', 'v1.4.0')).code).toBe(1);
    const refused = await upgrade('--to', 'v1.5.0');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      "has work from another rebase than this upgrade's:\n  a `git am` stopped at a conflict",
    );
    expect(refused.stderr).toContain('--restart');
    expect(existsSync(join(world.project, 'patches', 'bottlerocket', '1.5.0'))).toBe(false);
    const restarted = await upgrade('--to', 'v1.5.0', '--restart');
    expect(restarted.code).toBe(0);
    expect(seriesOf('bottlerocket', '1.5.0')).toEqual([PATCH.featureGates, PATCH.renderGates]);
  });
});
