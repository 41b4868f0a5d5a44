import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS, AMI_NAME, buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';

/**
 * Grants are what a release engineer trusts most: bro shares only this
 * build's AMIs, in every region or in none, revokes only what it shared, and
 * the manifest says what EC2 holds. Through the CLI, with the fake cargo and
 * docker on PATH and EC2 through aws-sdk-client-mock.
 */
let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const share = (extra: string[] = []) =>
  s.cli([
    'share',
    'aws-k8s-1.18',
    '--version',
    '1.0.4-hc1',
    '--ci',
    '--wait-timeout',
    '0.05',
    '--wait-poll',
    '0.05',
    ...extra,
  ]);
const revoke = (extra: string[] = []) => share(['--revoke', ...extra]);
const amisJson = () =>
  join(s.br, 'build/images/x86_64-aws-k8s-1.18/bottlerocket-aws-k8s-1.18-x86_64-1.0.4-hc1-amis.json');
const amis = (): Record<string, { id: string }> => JSON.parse(readFileSync(amisJson(), 'utf8'));
const manifest = () => JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
const launchIn = (region: string, id = amis()[region]!.id) => [...s.world.image(region, id).launch].sort();
const setShareWith = (accounts: string[]) => {
  const path = join(s.project, 'variants/aws-k8s-1.18.toml');
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replace(/^share-with = .*$/m, `share-with = ${JSON.stringify(accounts)}`),
  );
};
const grantsChanged = () => s.world.modifying().filter((c) => c.action.startsWith('Modify'));

/** An AMI that an earlier build published under this name (pubsys reuses it), already shared by that build. */
function earlierBuildIn(region: string, id: string) {
  const image = s.world.image(region, id);
  image.tags.set('bro:variant', 'aws-k8s-1.18');
  image.tags.set('bro:version', '1.0.4-hc1');
  image.tags.set('bro:patch-series', 'sha256:earlier');
  image.launch.add(ACCOUNTS[0]!);
  return image;
}

describe('share: all regions or none', () => {
  it('an earlier build under the same name in one region: nothing is granted in any region', async () => {
    // Register first (share fails on the AMI the test has not seen yet), then plant the earlier build.
    s.world.failures.set('*/DescribeImages', new Error('not yet'));
    expect((await s.build()).code).toBe(1);
    s.world.failures.clear();
    earlierBuildIn('us-west-1', amis()['us-west-1']!.id);
    s.world.calls.length = 0;

    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Checking the AMIs before sharing failed in 1 of 3 regions');
    expect(result.stderr).toMatch(
      /✖ us-west-1: ami-\w+ is an earlier build published under the same name, not this one: bro:patch-series = sha256:earlier/,
    );
    expect(result.stderr).toContain('Nothing was shared in any region');
    expect(s.world.modifying()).toEqual([]);
    for (const region of ['ap-northeast-1', 'us-east-1']) expect(launchIn(region)).toEqual([]);

    // Revoke does not touch that AMI either, and says why: it is not this build's (and whom it still grants).
    s.world.calls.length = 0;
    const revoked = await revoke();
    expect(revoked.code).toBe(0);
    expect(grantsChanged()).toEqual([]);
    expect(launchIn('us-west-1')).toEqual([ACCOUNTS[0]!]);
    expect(revoked.stdout).toMatch(
      new RegExp(
        `✔ us-west-1: ${amis()['us-west-1']!.id} not ours, left alone \\(bro:patch-series = sha256:earlier \\(this build: sha256:\\w+\\)\\); it grants ${ACCOUNTS[0]}\n`,
      ),
    );
    expect(revoked.stdout).not.toContain(`us-west-1: ${amis()['us-west-1']!.id} nothing to remove`);
    // The others were asked: EC2 shows no grant there.
    for (const region of ['ap-northeast-1', 'us-east-1'])
      expect(revoked.stdout).toContain(
        `✔ ${region}: ${amis()[region]!.id} nothing to remove (EC2 shows none of the accounts)`,
      );
  });

  it('an AMI with another name (pubsys registered under a name this build does not give) is refused before any grant', async () => {
    s.world.failures.set('*/DescribeImages', new Error('not yet'));
    expect((await s.build()).code).toBe(1);
    s.world.failures.clear();
    s.world.image('us-east-1', amis()['us-east-1']!.id).name = 'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-other';
    s.world.calls.length = 0;
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'its name is bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-other, not bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1',
    );
    expect(s.world.modifying()).toEqual([]);
  });
});

describe('bro share --revoke', () => {
  it('uses the AMI IDs in the state file: works after build/ is deleted, and ignores an edited amis.json', async () => {
    expect((await s.build()).code).toBe(0);
    const ids = amis();
    // An unrelated AMI someone shared with the same account.
    const unrelated = s.world.image('us-east-1', 'ami-0aaaaaaaaaaaaaaaa');
    unrelated.name = 'someone-elses-ami';
    unrelated.launch.add(ACCOUNTS[1]!);
    writeFileSync(amisJson(), JSON.stringify({ ...ids, 'us-east-1': { id: 'ami-0aaaaaaaaaaaaaaaa', name: 'x' } }));
    const edited = await revoke();
    expect(edited.code).toBe(0);
    expect([...unrelated.launch]).toEqual([ACCOUNTS[1]!]);
    for (const region of REGIONS) expect(launchIn(region, ids[region]!.id)).toEqual([]);

    expect((await share()).code).toBe(0);
    rmSync(join(s.br, 'build'), { recursive: true, force: true });
    const withoutBuild = await revoke();
    expect(withoutBuild.stderr).toBe('');
    expect(withoutBuild.code).toBe(0);
    for (const region of REGIONS) {
      expect(withoutBuild.stdout).toMatch(
        new RegExp(`✔ ${region}: ${ids[region]!.id} snap-\\w+ volume -2, snap-\\w+ volume -2, launch -2`),
      );
      expect(launchIn(region, ids[region]!.id)).toEqual([]);
    }
  });

  it("refuses in every region when one AMI is no longer this build's (its bro:* tags changed): nothing is revoked", async () => {
    expect((await s.build()).code).toBe(0);
    s.world.image('ap-northeast-1', amis()['ap-northeast-1']!.id).tags.set('bro:patch-series', 'sha256:other');
    s.world.calls.length = 0;
    const result = await revoke();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Checking the AMIs before revoking failed in 1 of 3 regions');
    expect(result.stderr).toMatch(
      /ami-\w+ is not this build's AMI, so bro leaves its permissions alone: bro:patch-series = sha256:other/,
    );
    expect(result.stderr).toContain('Nothing was revoked in any region');
    expect(s.world.modifying()).toEqual([]);
    for (const region of REGIONS) expect(launchIn(region)).toEqual(ACCOUNTS);
  });

  it('rewrites the manifest; a second revoke says there was nothing to remove', async () => {
    expect((await s.build()).code).toBe(0);
    const partial = await revoke(['--accounts', ACCOUNTS[1]!]);
    expect(partial.code).toBe(0);
    expect(manifest().accounts).toEqual([ACCOUNTS[0]!]);
    for (const region of REGIONS) expect(manifest().regions[region].sharedWith).toEqual([ACCOUNTS[0]!]);

    expect((await revoke()).code).toBe(0);
    expect(manifest().accounts).toEqual([]);
    for (const region of REGIONS) expect(manifest().regions[region].sharedWith).toEqual([]);
    const again = await revoke(['--accounts', ACCOUNTS[0]!]);
    for (const region of REGIONS)
      expect(again.stdout).toContain(
        `✔ ${region}: ${amis()[region]!.id} nothing to remove (EC2 shows none of the accounts)`,
      );
    expect(again.stdout).not.toContain('already shared');
  });
});

describe('revoke and share say what EC2 shows', () => {
  const stateFile = () => join(s.work, '.bro/state.json');

  it('without the state file (deleted as bro advises for a corrupt one), revoke finds the AMIs by name and tags and removes every grant', async () => {
    expect((await s.build()).code).toBe(0);
    const ids = amis();
    rmSync(stateFile());
    s.world.calls.length = 0;
    const revoked = await revoke();
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    for (const region of REGIONS) {
      expect(revoked.stdout).toMatch(
        new RegExp(`✔ ${region}: ${ids[region]!.id} snap-\\w+ volume -2, snap-\\w+ volume -2, launch -2`),
      );
      expect(launchIn(region, ids[region]!.id)).toEqual([]);
      for (const snap of s.world.image(region, ids[region]!.id).snapshots)
        expect(s.world.volumePermissions(region, snap)).toEqual([]);
      expect(manifest().regions[region].sharedWith).toEqual([]);
    }
    // Found by EC2's answer to its name and owner, not by a file.
    expect(s.world.calls.filter((c) => c.action === 'DescribeImages').map((c) => c.input)).toContainEqual({
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: [AMI_NAME] }],
    });
    expect(manifest().accounts).toEqual([]);
  });

  it('a grants record with a wrong shape is refused (exit 2), naming the file, the record and the field; nothing is revoked', async () => {
    expect((await s.build()).code).toBe(0);
    const state = JSON.parse(readFileSync(stateFile(), 'utf8'));
    state.steps['grants:us-west-1'].outputs.accounts = ACCOUNTS[0];
    writeFileSync(stateFile(), JSON.stringify(state));
    s.world.calls.length = 0;
    const result = await revoke();
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      `${stateFile()}: is corrupted: the outputs recorded for grants:us-west-1 have an unexpected shape at accounts`,
    );
    expect(result.stderr).toContain(`Fix or remove the "grants:us-west-1" entry under "steps" in ${stateFile()}`);
    expect(grantsChanged()).toEqual([]);
    for (const region of REGIONS) expect(launchIn(region)).toEqual([...ACCOUNTS].sort());
  });

  it('no record and no AMI of that name in EC2: revoke refuses and says why', async () => {
    const result = await revoke();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Nothing to revoke: no build of aws-k8s-1.18 1.0.4-hc1 registered AMIs in ${s.work}, and EC2 shows none named ${AMI_NAME} owned by this account in ${REGIONS.join(', ')}`,
    );
    expect(result.stderr).toContain('Pass the --version (and --work-dir) of the build whose AMIs to revoke');
    expect(s.world.modifying()).toEqual([]);
  });

  it('a same-named AMI of another build (no state file): "not ours, left alone" with whom it grants; nothing changed there', async () => {
    expect((await s.build()).code).toBe(0);
    const ids = amis();
    rmSync(stateFile());
    // us-east-1's AMI under this name is another build's: the manifest's patch-series digest tells them apart.
    s.world.image('us-east-1', ids['us-east-1']!.id).tags.set('bro:patch-series', 'sha256:other');
    const revoked = await revoke(['--accounts', ACCOUNTS[1]!]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(
      new RegExp(
        `✔ us-east-1: ${ids['us-east-1']!.id} not ours, left alone \\(bro:patch-series = sha256:other \\(this build: sha256:\\w+\\)\\); it grants ${ACCOUNTS.join(', ')}`,
      ),
    );
    expect(revoked.stdout).not.toContain('nothing to remove');
    expect(launchIn('us-east-1', ids['us-east-1']!.id)).toEqual(ACCOUNTS);
    for (const region of ['ap-northeast-1', 'us-west-1'])
      expect(launchIn(region, ids[region]!.id)).toEqual([ACCOUNTS[0]!]);
    // The manifest keeps what it said for the AMI bro left alone.
    expect(manifest().regions['us-east-1'].sharedWith).toEqual(ACCOUNTS);
    expect(manifest().regions['us-west-1'].sharedWith).toEqual([ACCOUNTS[0]!]);
  });

  it('a grant gone behind the recorded share (an interrupted revoke) is found and repaired by the next build', async () => {
    expect((await s.build()).code).toBe(0);
    const ids = amis();
    // What a revoke killed after its first snapshot call leaves: one snapshot without the accounts.
    const [snap] = s.world.image('us-west-1', ids['us-west-1']!.id).snapshots;
    s.world.operations.ec2.ModifySnapshotAttribute('us-west-1', {
      SnapshotId: snap,
      CreateVolumePermission: { Remove: ACCOUNTS.map((UserId) => ({ UserId })) },
    });
    s.world.calls.length = 0;
    const rerun = await s.build();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toMatch(/Share the AMIs.*inputs unchanged/);
    expect(s.world.volumePermissions('us-west-1', snap!).sort()).toEqual(ACCOUNTS);
    expect(
      s.world
        .modifying()
        .map((c) => `${c.region} ${c.action}`)
        .sort(),
    ).toEqual(['us-west-1 ModifySnapshotAttribute']);
    // Converged: the next build verifies and skips.
    s.world.calls.length = 0;
    const again = await s.build();
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Share the AMIs.*inputs unchanged, verified/);
    expect(s.world.modifying()).toEqual([]);
  });

  it('an AMI deregistered behind bro: the next build fails in that region, naming the AMI and how to register it again, and grants nothing there', async () => {
    expect((await s.build()).code).toBe(0);
    const gone = amis()['us-east-1']!.id;
    s.world.operations.ec2.DeregisterImage('us-east-1', { ImageId: gone });
    s.world.calls.length = 0;
    const rerun = await s.build();
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain(
      `us-east-1: ${gone} is gone (deregistered outside bro): The image id '[${gone}]' does not exist`,
    );
    expect(rerun.stderr).toContain(
      'Register the AMIs again: rerun the build with `--from ami-register`, plus `--overwrite-parameters` if the variant publishes SSM parameters',
    );
    expect(s.world.hasImage('us-east-1', gone)).toBe(false);
    expect(grantsChanged()).toEqual([]);
  });
});

describe('share is declarative for the accounts bro granted', () => {
  it("an account removed from share-with loses its grants (shown in the plan first); others' grants stay; the manifest says what EC2 holds", async () => {
    expect((await s.build()).code).toBe(0);
    // Someone else granted an account by hand: bro never touches it.
    for (const region of REGIONS) s.world.image(region, amis()[region]!.id).launch.add('444444444444');
    setShareWith([ACCOUNTS[0]!]);

    const plan = await s.build(['--dry-run', '--json']);
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout);
    const removals = planned.aws.filter((a: { change?: string }) => a.change === 'remove');
    expect(
      removals
        .map(
          (a: { region: string; action: string; accounts: string[] }) =>
            `${a.region} ${a.action} ${a.accounts.join(',')}`,
        )
        .sort(),
    ).toEqual(
      REGIONS.flatMap((r) => [
        `${r} ModifyImageAttribute ${ACCOUNTS[1]}`,
        `${r} ModifySnapshotAttribute ${ACCOUNTS[1]}`,
      ]).sort(),
    );
    // The table of grants: the kept account is granted, the dropped one revoked, in every region.
    expect(planned.grants).toEqual(
      REGIONS.flatMap((region) => [
        { region, account: ACCOUNTS[0], change: 'grant' },
        { region, account: ACCOUNTS[1], change: 'revoke' },
      ]),
    );

    s.world.calls.length = 0;
    const result = await share();
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`revoked ${ACCOUNTS[1]} (no longer in share-with)`);
    for (const region of REGIONS) {
      expect(launchIn(region)).toEqual([ACCOUNTS[0]!, '444444444444']);
      for (const snap of s.world.image(region, amis()[region]!.id).snapshots)
        expect(s.world.volumePermissions(region, snap)).toEqual([ACCOUNTS[0]!]);
    }
    expect(manifest().accounts).toEqual([ACCOUNTS[0]!]);
    for (const region of REGIONS) expect(manifest().regions[region].sharedWith).toEqual([ACCOUNTS[0]!, '444444444444']);

    // Converged: another share changes nothing.
    s.world.calls.length = 0;
    expect((await share()).code).toBe(0);
    expect(grantsChanged()).toEqual([]);
  });
});
