import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS, buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';
import type { AwsCall } from './helpers/aws-world.js';

/**
 * The plan's AWS actions are what the build then does: the same world is
 * planned with `--dry-run --json`, then built against aws-sdk-client-mock,
 * and every call bro made (pubsys' own run under the fake cargo make, which
 * makes none) is one the plan listed, with the same accounts.
 */
let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

interface PlannedAction {
  step: string;
  by: 'bro' | 'pubsys';
  region: string;
  service: string;
  action: string;
  change?: 'add' | 'remove';
  accounts?: string[];
  perSnapshot?: boolean;
  onRerun?: boolean;
}

/** `<region> <service> <action> [add|remove accounts]`. */
const fromPlan = (a: PlannedAction) =>
  `${a.region} ${a.service} ${a.action}${a.change ? ` ${a.change} ${[...a.accounts!].sort().join(',')}` : ''}`;

function fromCall(c: AwsCall): string {
  const permission = (c.input.LaunchPermission ?? c.input.CreateVolumePermission) as
    { Add?: { UserId: string }[]; Remove?: { UserId: string }[] } | undefined;
  const [change, users] = permission?.Add
    ? ['add', permission.Add]
    : permission?.Remove
      ? ['remove', permission.Remove]
      : [undefined, []];
  return `${c.region} ${c.service} ${c.action}${
    change
      ? ` ${change} ${users
          .map((u) => u.UserId)
          .sort()
          .join(',')}`
      : ''
  }`;
}

describe('the plan and the build', () => {
  it('the AWS calls of a first build, and of a rerun that verifies before it skips, are exactly the AWS actions the dry run planned for bro', async () => {
    const dry = await s.build(['--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { schemaVersion: number; kind: string; aws: PlannedAction[] };
    expect([plan.schemaVersion, plan.kind]).toEqual([2, 'bro.plan']);
    s.world.calls.length = 0;

    const built = await s.build();
    expect(built.code, built.stderr).toBe(0);
    // The identity check of the preflight is not a change the plan lists.
    const calls = s.world.calls.filter((c) => c.action !== 'GetCallerIdentity');
    // Snapshots are known only once pubsys registered the AMI: the plan says "each snapshot".
    const snapshotsIn = (region: string) => {
      const imageId = calls.find((c) => c.region === region && c.action === 'ModifyImageAttribute')?.input
        .ImageId as string;
      return s.world.image(region, imageId).snapshots.length;
    };
    const expected = (rerun: boolean) =>
      plan.aws
        .filter((a) => a.by === 'bro' && Boolean(a.onRerun) === rerun)
        .flatMap((a) => Array.from({ length: a.perSnapshot ? snapshotsIn(a.region) : 1 }, () => fromPlan(a)));
    expect(calls.map(fromCall).sort()).toEqual(expected(false).sort());
    // Not vacuous: every region got its push and its grants for every account.
    for (const region of REGIONS) {
      expect(calls.map(fromCall)).toContain(`${region} ecr CreateRepository`);
      expect(calls.map(fromCall)).toContain(`${region} ec2 ModifyImageAttribute add ${[...ACCOUNTS].sort().join(',')}`);
    }

    // A rerun with the same inputs makes the calls the plan lists for a rerun: it verifies the grants, then skips.
    s.world.calls.length = 0;
    const rerun = await s.build();
    expect(rerun.code, rerun.stderr).toBe(0);
    const rerunCalls = s.world.calls.filter((c) => c.action !== 'GetCallerIdentity').map(fromCall);
    expect(rerunCalls.sort()).toEqual(expected(true).sort());
    expect(rerunCalls.length).toBe(REGIONS.length * 3);
  });

  it("pubsys' own actions are in the plan: register in the first region, copy to the others", async () => {
    const dry = await s.build(['--dry-run', '--json']);
    const plan = JSON.parse(dry.stdout) as { aws: PlannedAction[]; regions: string[] };
    const pubsys = plan.aws.filter((a) => a.by === 'pubsys' && /RegisterImage|CopyImage/.test(a.action));
    expect(pubsys.map((a) => `${a.region} ${a.action}`)).toEqual([
      `${REGIONS[0]} RegisterImage`,
      ...REGIONS.slice(1).map((r) => `${r} CopyImage`),
    ]);
    expect(plan.regions).toEqual(REGIONS);
  });
});
