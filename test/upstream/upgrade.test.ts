import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotProject } from '../helpers/upgrade-fixtures.js';
import { gitIn, makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro upgrade aws-k8s-1.18 --to v1.7.2` from today's series (patches/*/1.0.4 and 0.5.2), on the real upstream.
// The committed v1.7.2 series is removed from the scratch project first: the upgrade must make its own. Where
// a patch stops for a person, the test decides as the least a person could: it drops that patch (`git am
// --skip`) and reruns, which resumes. What is checked is the outcome's shape: what upstream has, as it is or
// in its own form, is dropped without a stop, the admin container of v1.7.2 is found and written, the user
// data moves to upstream's settings.

describe.skipIf(skipsUpstream())('bro upgrade --to v1.7.2 on the real upstream', () => {
  let world: World;
  let work: string;
  let final: { code: number; stdout: string; stderr: string };
  const skipped: string[] = [];
  const upgrade = (...args: string[]) =>
    world.bro('upgrade', 'aws-k8s-1.18', '--to', 'v1.7.2', '--work-dir', work, ...args);

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    work = join(world.root, 'work');
    for (const dir of ['bottlerocket/1.7.2', 'admin-container/0.8.0']) {
      rmSync(join(world.project, 'patches', dir), { recursive: true, force: true });
    }
    const userData = join(world.project, 'examples', 'user-data.toml');
    for (let stops = 0; stops < 20; stops++) {
      final = await upgrade('--user-data', userData, '--user-data-out', join(world.root, 'new.toml'));
      const at =
        /The rebase stopped at \S+ \(the \w+ of the \d+ patches git am applies\), in (\S+)\.|rebase is still stopped at patch \d+ of \d+ in (\S+)/.exec(
          final.stderr,
        );
      const stopped = at?.[1] ?? at?.[2];
      if (final.code !== 1 || !stopped) break;
      skipped.push(/✖ (\S+\.patch) does not apply/.exec(final.stderr)?.[1] ?? '(the next patch)');
      try {
        gitIn(world, stopped, '-c', 'user.name=A person', '-c', 'user.email=person@example.invalid', 'am', '--skip');
      } catch {
        // The next patch stopped too: the rerun says which.
      }
    }
  });
  afterAll(() => world?.dispose());

  it('finishes, dropping what upstream has and writing the series of v1.7.2 and v0.8.0', () => {
    expect(final.stderr).toBe('');
    expect(final.code).toBe(0);
    expect(final.stdout).toMatch(
      /0001-models-restart-containerd-and-kubelet-when-their-con\.patch +dropped: already upstream in v1\.7\.2/,
    );
    expect(final.stdout).toMatch(/0003-sshd-refuse-root-logins\.patch +dropped: already upstream in v0\.8\.0/);
    const series = (source: string, base: string) =>
      readFileSync(join(world.project, 'patches', source, base, 'series'), 'utf8')
        .split('\n')
        .filter(Boolean);
    const carried = series('bottlerocket', '1.7.2');
    expect(carried).not.toContain('0001-models-restart-containerd-and-kubelet-when-their-con.patch');
    expect(series('admin-container', '0.8.0')).not.toContain('0003-sshd-refuse-root-logins.patch');
    // Every patch of today's series is carried or dropped with its reason: none is lost in silence.
    for (const name of readFileSync(join(world.project, 'patches/bottlerocket/1.0.4/series'), 'utf8')
      .split('\n')
      .filter(Boolean)) {
      expect(carried.includes(name) || new RegExp(`${name.replace(/\./g, '\\.')} +dropped: `).test(final.stdout)).toBe(
        true,
      );
    }
  });

  it('drops, without a stop, the patches upstream has in its own form, naming it', () => {
    const dropped = {
      '0002-models-add-settings.cri-registry-auths-for-private-r.patch':
        '`settings.cri-registry-auths` → `settings.container-registry.credentials` (name → registry)',
      '0007-pluto-generate-kubeReserved-cpu-and-memory-at-boot.patch': '`packages/kubernetes-1.18/kubelet-config`',
      '0002-Support-EC2-Instance-Connect.patch': 'user data `ssh.authorized-keys-command`',
    };
    for (const [name, form] of Object.entries(dropped)) {
      expect(skipped).not.toContain(name);
      const line = final.stdout.split('\n').find((l) => l.trim().startsWith(`${name} `));
      expect(line).toContain('dropped: upstream has it in another form in v');
      expect(line).toContain(form);
    }
  });

  it("writes v1.7.2's default admin container, found where upstream moved it, into the variant beside today's ref", () => {
    expect(final.stdout).toContain(
      "admin container v0.8.0 (v1.7.2's default, from sources/models/shared-defaults/aws-host-containers.toml)",
    );
    const variant = parseToml(readFileSync(join(world.project, 'variants/aws-k8s-1.18.toml'), 'utf8')) as {
      sources: { 'admin-container': { ref: string; refs: Record<string, string> } };
    };
    expect(variant.sources['admin-container'].refs['v1.7.2']).toBe('v0.8.0');
    expect(variant.sources['admin-container'].ref).toBe('9fc9090b044d237d5b112689c37cbdeec60c7d9e');
  });

  it("migrates examples/user-data.toml to upstream's settings, secrets kept out of the output", () => {
    expect(final.stdout).toContain(
      "moved: settings.cri-registry-auths → settings.container-registry.credentials (name → registry; upstream's form of 0002-models-add-settings.cri-registry-auths-for-private-r.patch, dropped)",
    );
    expect(final.stdout).toContain(
      'EC2 Instance Connect switched on as start_admin_sshd.sh of the admin container v0.8.0 reads it',
    );
    expect(final.stdout).not.toContain('EXAMPLE-"quoted"');
    expect(final.stdout).not.toContain('EXAMPLE-\\"quoted\\"');
    const migrated = parseToml(readFileSync(join(world.root, 'new.toml'), 'utf8')) as {
      settings: { 'container-registry': { credentials: { registry: string }[] }; kubernetes: Record<string, unknown> };
    };
    expect(migrated.settings['container-registry'].credentials.map((c) => c.registry)).toEqual([
      'harbor.example.com',
      'harbor.example.com:8443',
    ]);
    // Kubelet values stay under the keys upstream adopted.
    expect(migrated.settings.kubernetes['container-log-max-size']).toBe('50Mi');
    expect(migrated.settings.kubernetes['cpu-manager-policy']).toBe('static');
    // A list per key at v1.7.2, one string at v1.0.4.
    expect(migrated.settings.kubernetes['node-taints']).toEqual({ os: ['bottlerocket:NoSchedule'] });
  });

  it('changes nothing in patches/ or variants/ when run again', async () => {
    const before = snapshotProject(world.project);
    const again = await upgrade();
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(snapshotProject(world.project)).toEqual(before);
  });

  it('refuses v1.8.0, where aws-k8s-1.18 is gone, naming v1.7.2', async () => {
    const result = await world.bro('upgrade', 'aws-k8s-1.18', '--to', 'v1.8.0', '--work-dir', work);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('upstream no longer ships aws-k8s-1.18 there');
    expect(result.stderr).toContain('that has aws-k8s-1.18 is v1.7.2');
    expect(existsSync(join(world.project, 'patches/bottlerocket/1.8.0'))).toBe(false);
  });
});
