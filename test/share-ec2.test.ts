import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAws } from '../src/adapters/aws.js';
import { forEachRegion } from '../src/build/steps/regions.js';
import { revokeImage } from '../src/build/steps/revoke.js';
import { shareImage } from '../src/build/steps/share.js';
import { ACCOUNTS, buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { awsError } from './helpers/aws-world.js';

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const AMI = 'ami-0123456789abcdef0';
const wait = { maxWaitSeconds: 0.3, minDelaySeconds: 0.05 };
const request = (progress: string[] = []) => ({
  imageId: AMI,
  accounts: ACCOUNTS,
  tags: { 'bro:version': '1.0.4-hc1' },
  wait,
  progress: (l: string) => progress.push(l),
});

describe('share (EC2 through aws-sdk-client-mock)', () => {
  it('adds only the permissions that are missing; a second run makes no modifying call', async () => {
    const ec2 = createAws().ec2('us-east-1');
    const image = s.world.image('us-east-1', AMI);
    image.launch.add(ACCOUNTS[0]!);
    const [snap0, snap1] = image.snapshots as [string, string];
    await ec2.modifySnapshotAttribute({
      SnapshotId: snap0,
      CreateVolumePermission: { Add: [{ UserId: ACCOUNTS[0]! }] },
    });
    s.world.calls.length = 0;

    const first = await shareImage(ec2, request());
    expect({ ...first, changes: [...first.changes].sort() }).toEqual({
      imageId: AMI,
      snapshotIds: [snap0, snap1],
      accounts: ACCOUNTS,
      changes: [`${snap0} volume +1`, `${snap1} volume +2`, 'launch +1', 'tags'].sort(),
    });
    const launch = s.world.calls.filter((c) => c.action === 'ModifyImageAttribute');
    expect(launch.map((c) => c.input)).toEqual([
      { ImageId: AMI, LaunchPermission: { Add: [{ UserId: ACCOUNTS[1]! }] } },
    ]);
    const volume = s.world.calls.filter((c) => c.action === 'ModifySnapshotAttribute').map((c) => c.input);
    expect(volume).toContainEqual({
      SnapshotId: snap0,
      Attribute: 'createVolumePermission',
      CreateVolumePermission: { Add: [{ UserId: ACCOUNTS[1]! }] },
    });
    expect(volume).toContainEqual({
      SnapshotId: snap1,
      Attribute: 'createVolumePermission',
      CreateVolumePermission: { Add: ACCOUNTS.map((UserId) => ({ UserId })) },
    });
    expect(s.world.calls.find((c) => c.action === 'CreateTags')?.input).toEqual({
      Resources: [AMI, snap0, snap1],
      Tags: [{ Key: 'bro:version', Value: '1.0.4-hc1' }],
    });
    // Verified with DescribeImageAttribute after adding.
    expect(s.world.calls.filter((c) => c.action === 'DescribeImageAttribute')).toHaveLength(2);

    s.world.calls.length = 0;
    const second = await shareImage(ec2, request());
    expect(second.changes).toEqual([]);
    expect(s.world.modifying()).toEqual([]);
  });

  it('refuses an AMI that bro tagged for another build (pubsys reused the name): nothing is changed', async () => {
    s.world.image('us-east-1', AMI).tags.set('bro:version', '1.0.4-hc0');
    await expect(shareImage(createAws().ec2('us-east-1'), request())).rejects.toThrow(
      `${AMI} is an earlier build published under the same name, not this one: bro:version = 1.0.4-hc0 (this build: 1.0.4-hc1)`,
    );
    expect(s.world.modifying()).toEqual([]);
  });

  it('a copy that stays pending past the wait fails its region, clearly, after polling', async () => {
    s.world.pending.add('us-west-1');
    const progress: string[] = [];
    await expect(shareImage(createAws().ec2('us-west-1'), request(progress))).rejects.toThrow(
      `${AMI} is still pending after 0.3 seconds`,
    );
    expect(s.world.calls.filter((c) => c.action === 'DescribeImages').length).toBeGreaterThanOrEqual(1);
    expect(s.world.modifying()).toEqual([]);
    expect(progress).toEqual([`waiting until ${AMI} is available`]);
  });

  it('a copy that failed says why', async () => {
    s.world.image('us-east-1', AMI).state = 'failed';
    await expect(shareImage(createAws().ec2('us-east-1'), request())).rejects.toThrow(`${AMI} failed: no reason given`);
  });

  it('a region still throttled when the SDK gives up fails alone; the others are shared', async () => {
    // aws-sdk-client-mock replaces send(), so the SDK's retries do not run here: the error is what
    // the SDK raises once they are used up. The real-client tests below cover the retries themselves.
    s.world.failures.set(
      'us-west-1/DescribeSnapshotAttribute',
      awsError('RequestLimitExceeded', 'Request limit exceeded.'),
    );
    const aws = createAws();
    const outcomes = await forEachRegion(REGIONS, 2, (region) => shareImage(aws.ec2(region), request()));
    expect(outcomes.map((o) => [o.region, o.error === undefined ? 'ok' : (o.error as Error).name])).toEqual([
      ['ap-northeast-1', 'ok'],
      ['us-west-1', 'RequestLimitExceeded'],
      ['us-east-1', 'ok'],
    ]);
    for (const region of ['ap-northeast-1', 'us-east-1']) {
      const image = s.world.image(region, AMI);
      expect([...image.launch].sort(), region).toEqual(ACCOUNTS);
      for (const snap of image.snapshots)
        expect(s.world.volumePermissions(region, snap).sort(), `${region} ${snap}`).toEqual(ACCOUNTS);
    }
  });

  it('revokes what is there and leaves the rest alone', async () => {
    const ec2 = createAws().ec2('us-east-1');
    await shareImage(ec2, request());
    s.world.calls.length = 0;
    const image = (await ec2.describeImages({ ImageIds: [AMI] })).Images![0]!;
    const revoked = await revokeImage(ec2, image, [ACCOUNTS[1]!]);
    expect(revoked.accounts).toEqual([ACCOUNTS[0]!]);
    expect([...s.world.image('us-east-1', AMI).launch]).toEqual([ACCOUNTS[0]!]);
    for (const snap of revoked.snapshotIds)
      expect(s.world.volumePermissions('us-east-1', snap)).toEqual([ACCOUNTS[0]!]);
    expect(s.world.modifying()).toHaveLength(3);
    s.world.calls.length = 0;
    expect((await revokeImage(ec2, image, [ACCOUNTS[1]!])).changes).toEqual([]);
    expect(s.world.modifying()).toEqual([]);
  });
});

describe('bro share', () => {
  it('--revoke removes every account in every region; bro share grants again without building', async () => {
    expect((await s.build()).code).toBe(0);
    s.tools.clearCalls();
    const revoke = await s.cli(['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--revoke', '--ci']);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout.trim().split('\n')).toHaveLength(3);
    for (const region of REGIONS)
      expect(revoke.stdout).toMatch(
        new RegExp(`✔ ${region}: ami-\\w+ snap-\\w+ volume -2, snap-\\w+ volume -2, launch -2`),
      );
    expect([
      ...s.world.image(
        'us-east-1',
        s.world.calls.find((c) => c.region === 'us-east-1' && c.action === 'ModifyImageAttribute')?.input
          .ImageId as string,
      ).launch,
    ]).toEqual([]);

    s.world.calls.length = 0;
    const share = await s.cli(['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--ci', '--wait-poll', '0.05']);
    expect(share.code).toBe(0);
    expect(s.tools.calls()).toEqual([]);
    expect(
      s.world
        .modifying()
        .filter((c) => c.action === 'ModifyImageAttribute')
        .map((c) => c.region)
        .sort(),
    ).toEqual([...REGIONS].sort());
  });

  it('refuses --accounts that are not account IDs', async () => {
    const result = await s.cli(['share', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--revoke', '--accounts', '1234']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--accounts: "1234" is not a 12-digit AWS account ID');
  });
});

/** An HTTP handler standing in for EC2: the SDK's own serialisation, signing and retries run for real. */
function fakeEc2Http(
  responses: { status: number; body: string }[],
  seen: { hostname: string; port?: number; body: string }[],
) {
  return {
    async handle(req: { hostname: string; port?: number; body?: unknown }) {
      seen.push({ hostname: req.hostname, port: req.port, body: String(req.body) });
      const next = responses.shift() ?? { status: 500, body: '' };
      return {
        response: {
          statusCode: next.status,
          headers: { 'content-type': 'text/xml' },
          body: Readable.from([Buffer.from(next.body)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
}

const THROTTLED = {
  status: 503,
  body: '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>',
};
const LAUNCH_PERMISSIONS = {
  status: 200,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeImageAttributeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><imageId>${AMI}</imageId><launchPermission><item><userId>111111111111</userId></item></launchPermission></DescribeImageAttributeResponse>`,
};
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('the AWS adapter (real SDK clients)', () => {
  beforeEach(() => s.restoreAws());

  it("retries a throttled call with the SDK's own retry strategy", async () => {
    const seen: { hostname: string; body: string }[] = [];
    const aws = createAws({
      credentials,
      maxAttempts: 3,
      requestHandler: fakeEc2Http([THROTTLED, LAUNCH_PERMISSIONS], seen),
    });
    const result = await aws.ec2('us-east-1').describeImageAttribute({ ImageId: AMI, Attribute: 'launchPermission' });
    expect(result.LaunchPermissions).toEqual([{ UserId: '111111111111' }]);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.body).toContain('Action=DescribeImageAttribute');
  });

  it("gives up after maxAttempts, with the service's error", async () => {
    const seen: { hostname: string; body: string }[] = [];
    const aws = createAws({
      credentials,
      maxAttempts: 2,
      requestHandler: fakeEc2Http([THROTTLED, THROTTLED, LAUNCH_PERMISSIONS], seen),
    });
    await expect(
      aws.ec2('us-east-1').describeImageAttribute({ ImageId: AMI, Attribute: 'launchPermission' }),
    ).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(seen).toHaveLength(2);
  });

  it('honours AWS_ENDPOINT_URL_EC2 (LocalStack or another emulator); no endpoint is hard-coded', async () => {
    const seen: { hostname: string; port?: number; body: string }[] = [];
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', 'http://localhost:4566');
    try {
      const aws = createAws({ credentials, requestHandler: fakeEc2Http([LAUNCH_PERMISSIONS], seen) });
      await aws.ec2('us-east-1').describeImageAttribute({ ImageId: AMI, Attribute: 'launchPermission' });
    } finally {
      vi.unstubAllEnvs();
    }
    expect(seen.map((r) => [r.hostname, r.port])).toEqual([['localhost', 4566]]);
  });
});
