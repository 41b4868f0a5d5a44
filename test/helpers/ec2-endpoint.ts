import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ec2Error, ec2World, type Ec2Operation, type Ec2World } from './ec2-world.js';

/**
 * A loopback EC2 endpoint (the query protocol the SDK speaks: a form-encoded
 * POST, an XML answer) for a bro started as its own process, serving the one
 * simulated EC2 world of ec2-world.ts (a fresh one, or the world a mock-aws
 * test already holds). `holdAfter(action)` applies the next such call and then
 * never answers it, so a test can kill bro right after AWS changed something
 * and before bro heard back. `throttle(actions, times)` answers each such
 * request `times` times with EC2's RequestLimitExceeded before it applies it.
 */
export interface Ec2Endpoint {
  url: string;
  env: Record<string, string>;
  calls: { region: string; action: string }[];
  world: Ec2World;
  image: Ec2World['image'];
  volumePermissions: Ec2World['volumePermissions'];
  /** Resolves once a held call has been applied. */
  holdAfter(action: string): Promise<void>;
  throttle(actions: readonly string[], times: number): void;
  /** How many throttles were answered, per action. */
  throttled: Map<string, number>;
  close(): Promise<void>;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const items = (values: string[], tag: string) =>
  values.map((v) => `<item><${tag}>${xmlEscape(v)}</${tag}></item>`).join('');

/** `Prefix.1.<field>=…&Prefix.2.<field>=…`, as the SDK serialises a list. */
function list(params: URLSearchParams, prefix: string, field = ''): string[] {
  const out: string[] = [];
  const key = (i: number) => `${prefix}.${i}${field ? `.${field}` : ''}`;
  for (let i = 1; params.has(key(i)); i++) out.push(params.get(key(i)) ?? '');
  return out;
}
const userIds = (params: URLSearchParams, prefix: string) =>
  list(params, prefix, 'UserId').map((UserId) => ({ UserId }));

/** The SDK input of each operation, read back from the query the SDK sent. */
const INPUTS: Record<Ec2Operation, (p: URLSearchParams) => object> = {
  DescribeImages: (p) => ({
    ImageIds: list(p, 'ImageId'),
    Owners: list(p, 'Owner'),
    Filters: list(p, 'Filter', 'Name').map((Name, n) => ({ Name, Values: list(p, `Filter.${n + 1}.Value`) })),
  }),
  DescribeImageAttribute: (p) => ({ ImageId: p.get('ImageId') }),
  ModifyImageAttribute: (p) => ({
    ImageId: p.get('ImageId'),
    LaunchPermission: {
      Add: userIds(p, 'LaunchPermission.Add'),
      Remove: userIds(p, 'LaunchPermission.Remove'),
    },
  }),
  DescribeSnapshotAttribute: (p) => ({ SnapshotId: p.get('SnapshotId') }),
  ModifySnapshotAttribute: (p) => ({
    SnapshotId: p.get('SnapshotId'),
    CreateVolumePermission: {
      Add: userIds(p, 'CreateVolumePermission.Add'),
      Remove: userIds(p, 'CreateVolumePermission.Remove'),
    },
  }),
  CreateTags: (p) => ({
    Resources: list(p, 'ResourceId'),
    Tags: list(p, 'Tag', 'Key').map((Key, n) => ({ Key, Value: p.get(`Tag.${n + 1}.Value`) ?? '' })),
  }),
};

type Output = Record<string, unknown>;
const users = (list: unknown) => ((list ?? []) as { UserId: string }[]).map((u) => u.UserId);

/** The XML of each operation's answer, from the world's SDK-shaped output. */
const XML: Record<Ec2Operation, (out: Output) => string> = {
  DescribeImages: (out) =>
    `<imagesSet>${(out.Images as Output[])
      .map((i) => {
        const devices = (i.BlockDeviceMappings as { DeviceName: string; Ebs: { SnapshotId: string } }[])
          .map(
            (d) =>
              `<item><deviceName>${d.DeviceName}</deviceName><ebs><snapshotId>${d.Ebs.SnapshotId}</snapshotId></ebs></item>`,
          )
          .join('');
        const tags = (i.Tags as { Key: string; Value: string }[])
          .map((t) => `<item><key>${xmlEscape(t.Key)}</key><value>${xmlEscape(t.Value)}</value></item>`)
          .join('');
        return `<item><imageId>${String(i.ImageId)}</imageId><name>${xmlEscape(String(i.Name))}</name><imageOwnerId>${String(i.OwnerId)}</imageOwnerId><imageState>${String(i.State)}</imageState><blockDeviceMapping>${devices}</blockDeviceMapping><tagSet>${tags}</tagSet></item>`;
      })
      .join('')}</imagesSet>`,
  DescribeImageAttribute: (out) =>
    `<imageId>${String(out.ImageId)}</imageId><launchPermission>${items(users(out.LaunchPermissions), 'userId')}</launchPermission>`,
  DescribeSnapshotAttribute: (out) =>
    `<snapshotId>${String(out.SnapshotId)}</snapshotId><createVolumePermission>${items(users(out.CreateVolumePermissions), 'userId')}</createVolumePermission>`,
  ModifyImageAttribute: () => '<return>true</return>',
  ModifySnapshotAttribute: () => '<return>true</return>',
  CreateTags: () => '<return>true</return>',
};

export async function startEc2Endpoint(world: Ec2World = ec2World()): Promise<Ec2Endpoint> {
  const calls: { region: string; action: string }[] = [];
  const holds: { action: string; applied: () => void }[] = [];
  const held: ServerResponse[] = [];
  const throttles = { actions: new Set<string>(), times: 0, seen: new Map<string, number>() };
  const throttled = new Map<string, number>();
  const error = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(
      `<Response><Errors><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>r</RequestID></Response>`,
    );
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const action = params.get('Action') ?? '';
      const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '?';
      calls.push({ region, action });
      if (!(action in INPUTS)) return error(res, 400, 'InvalidAction', `not in this fake: ${action}`);
      if (throttles.actions.has(action)) {
        // The same request again (a retry) is counted: each is refused `times` times, then applied.
        const seen = throttles.seen.get(body) ?? 0;
        if (seen < throttles.times) {
          throttles.seen.set(body, seen + 1);
          throttled.set(action, (throttled.get(action) ?? 0) + 1);
          return error(res, 503, 'RequestLimitExceeded', 'Request limit exceeded.');
        }
      }
      const operation = action as Ec2Operation;
      let out: Output;
      try {
        out = world.operations[operation](region, INPUTS[operation](params));
      } catch (e) {
        if (e instanceof Ec2Error) return error(res, 400, e.code, e.message);
        throw e;
      }
      const hold = holds.findIndex((h) => h.action === action);
      if (hold >= 0) {
        const [h] = holds.splice(hold, 1);
        held.push(res);
        h!.applied();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${XML[operation](out)}</${action}Response>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    env: {
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ACCESS_KEY_ID: 'AKIDLOOPBACKTEST',
      AWS_SECRET_ACCESS_KEY: 'loopback-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    calls,
    world,
    image: world.image,
    volumePermissions: world.volumePermissions,
    holdAfter: (action) => new Promise((applied) => holds.push({ action, applied })),
    throttle(actions, times) {
      throttles.actions = new Set(actions);
      throttles.times = times;
    },
    throttled,
    close: () =>
      new Promise((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
