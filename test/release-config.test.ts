import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAws } from '../src/adapters/aws.js';
import { deprecationTime, parseDeprecation } from '../src/config/deprecation.js';
import { validateVariant } from '../src/config/variant.js';
import { revokeImage } from '../src/build/steps/revoke.js';
import { grantImage, verifyShare } from '../src/build/steps/share.js';
import { mockAws } from './helpers/aws-mock.js';
import type { AwsWorld } from './helpers/aws-world.js';
import { runCli } from './helpers/cli.js';
import { ORGANIZATION, releaseProject, variantToml } from './helpers/release-world.js';
import { problems } from './helpers/variant-problems.js';

/**
 * The variant keys of the release lifecycle (ssm-prefix, organization and
 * OU sharing, deprecate-after): each bad value is a configuration error
 * (exit 2) naming the key and the value; organization grants reach EC2 as
 * launch permissions only.
 */
const valid = `
name = "aws-k8s-1.18"
regions = ["us-west-2"]
share-with = ["111111111111"]
[sources.bottlerocket]
[admin-image]
repository = "bottlerocket-admin"
registry-account = "111111111111"
`;
const OU = 'arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdef3456';

describe('release keys of the variant file', () => {
  it.each([
    ['bro/ami', 'starting with "/"'],
    ['/bro/ami/', 'no trailing "/"'],
    ['/aws/service/bottlerocket', 'reserved by AWS'],
    ['/SSM/mine', 'reserved by AWS'],
    ['/ssmine', 'reserved by AWS'],
  ])('infra.ssm-prefix = %j is refused: %s', (prefix, why) => {
    const message = problems(`${valid}\n[infra]\nssm-prefix = "${prefix}"\n`);
    expect(message).toContain('infra.ssm-prefix');
    expect(message).toContain(JSON.stringify(prefix));
    expect(message).toContain(why);
  });

  it.each([
    ['share-with-organizations', 'arn:aws:organizations::123456789012:organization/abcde12345', 'Organizations ARN'],
    ['share-with-organizations', OU, 'Organizations ARN'],
    [
      'share-with-organizational-units',
      'arn:aws:organizations::123456789012:ou/ou-ab12-cdef3456',
      'organizational unit ARN',
    ],
  ])('%s = [%j] is refused', (key, arn, expected) => {
    const message = problems(valid.replace('share-with = ["111111111111"]', `share-with = []\n${key} = ["${arn}"]`));
    expect(message).toContain(`${key}[0]`);
    expect(message).toContain(expected);
  });

  it('accepts organizations and OUs, and no longer warns that the AMIs stay private', () => {
    const warnings: string[] = [];
    const v = validateVariant(
      'f',
      parse(
        valid.replace(
          'share-with = ["111111111111"]',
          `share-with = []\nshare-with-organizations = ["${ORGANIZATION}"]\nshare-with-organizational-units = ["${OU}"]`,
        ),
      ),
      'aws-k8s-1.18',
      (w) => warnings.push(w),
    );
    expect(v['share-with-organizations']).toEqual([ORGANIZATION]);
    expect(v['share-with-organizational-units']).toEqual([OU]);
    expect(warnings).toEqual([]);
  });

  it('ami.deprecate-after: a duration, a date or a TOML date; a date in the past and nonsense are refused', () => {
    expect(parseDeprecation('P180D')).toEqual({ after: { days: 180 } });
    expect(parseDeprecation('P26W')).toEqual({ after: { days: 182 } });
    expect(deprecationTime({ after: { days: 180 } }, new Date('2026-01-01T10:00:29Z')).toISOString()).toBe(
      '2026-06-30T10:00:00.000Z',
    );
    const ok = validateVariant('f', parse(`${valid}\n[ami]\ndeprecate-after = 2099-06-30\n`), 'aws-k8s-1.18');
    expect(ok.ami['deprecate-after']).toBeInstanceOf(Date);
    const past = problems(`${valid}\n[ami]\ndeprecate-after = "2020-01-01"\n`);
    expect(past).toContain('ami.deprecate-after: 2020-01-01T00:00:00.000Z is in the past');
    for (const bad of ['180 days', 'P0D', 'P1M'])
      expect(problems(`${valid}\n[ami]\ndeprecate-after = "${bad}"\n`)).toContain('ami.deprecate-after');
  });

  it('bro exits 2 on such a variant, before any AWS call', async () => {
    const w = releaseProject(variantToml({ prefix: '/aws/mine' }));
    try {
      const result = await runCli(['promote', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--to', 'stable', ...w.common]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('infra.ssm-prefix');
    } finally {
      w.cleanup();
    }
  });
});

describe('organization and OU grants', () => {
  /** EC2 as share sees it: the simulated world through aws-sdk-client-mock, holding one AMI with one snapshot. */
  const REGION = 'us-east-1';
  const image = {
    ImageId: 'ami-0123456789abcdef0',
    BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }],
    Tags: [],
  };
  let world: AwsWorld;
  let restore: () => void;
  beforeEach(() => {
    ({ world, restore } = mockAws());
    world.register(REGION, image.ImageId, { snapshots: ['snap-1'] });
  });
  afterEach(() => restore());
  const ec2 = () => createAws().ec2(REGION);
  const launch = () => world.image(REGION, image.ImageId).launch;

  it('launch permission by OrganizationArn and OrganizationalUnitArn; snapshots get account IDs only; a rerun changes nothing', async () => {
    const accounts = ['111111111111', ORGANIZATION, OU];
    const shared = await grantImage(ec2(), image, { accounts, tags: {} });
    expect([...launch()].sort()).toEqual([...accounts].sort());
    expect(world.volumePermissions(REGION, 'snap-1')).toEqual(['111111111111']);
    expect(world.modifying().find((m) => m.action === 'ModifyImageAttribute')?.input).toEqual({
      ImageId: image.ImageId,
      LaunchPermission: {
        Add: [{ UserId: '111111111111' }, { OrganizationArn: ORGANIZATION }, { OrganizationalUnitArn: OU }],
      },
    });
    expect(shared.accounts.sort()).toEqual([...accounts].sort());
    world.calls.length = 0;
    await grantImage(ec2(), image, { accounts, tags: {} });
    expect(world.modifying()).toEqual([]);
  });

  it('an organization no longer listed loses the launch permission bro gave it; no snapshot call for it', async () => {
    await grantImage(ec2(), image, { accounts: ['111111111111', ORGANIZATION], tags: {} });
    world.calls.length = 0;
    await grantImage(ec2(), image, { accounts: ['111111111111'], drop: [ORGANIZATION], tags: {} });
    expect([...launch()]).toEqual(['111111111111']);
    expect(world.modifying().map((m) => m.action)).toEqual(['ModifyImageAttribute']);
  });

  it('a rerun verifies the organization and OU launch grants (accounts only on snapshots); one removed behind bro reshares', async () => {
    const accounts = ['111111111111', ORGANIZATION, OU];
    const shared = await grantImage(ec2(), image, { accounts, tags: {} });
    const recorded = { ...shared, snapshotIds: ['snap-1'] };
    expect(await verifyShare(ec2(), recorded, accounts)).toMatchObject({ imageId: image.ImageId, changes: [] });
    launch().delete(OU);
    expect(await verifyShare(ec2(), recorded, accounts)).toBeUndefined();
  });

  it('revoking an organization removes its launch permission and makes no snapshot call', async () => {
    await grantImage(ec2(), image, { accounts: ['111111111111', ORGANIZATION], tags: {} });
    world.calls.length = 0;
    const revoked = await revokeImage(ec2(), image, [ORGANIZATION]);
    expect(revoked.accounts).toEqual(['111111111111']);
    expect(world.modifying().map((m) => m.action)).toEqual(['ModifyImageAttribute']);
  });
});
