import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_AMI_NAME } from './mock-aws.js';

/**
 * A loopback EC2 endpoint (the query protocol the SDK speaks: a form-encoded
 * POST, an XML answer) for a bro started as its own process. It keeps the AMIs
 * that `cargo make ami` registered, with the same snapshot IDs as mock-aws.ts,
 * their launch and volume permissions and tags. `holdAfter(action)` applies the
 * next such call and then never answers it, so a test can kill bro right after
 * AWS changed something and before bro heard back.
 */
export interface Ec2Endpoint {
  url: string;
  env: Record<string, string>;
  calls: { region: string; action: string }[];
  image(region: string, id: string): { launch: Set<string>; snapshots: string[]; tags: Map<string, string> };
  volumePermissions(region: string, snapshot: string): string[];
  /** Resolves once a held call has been applied. */
  holdAfter(action: string): Promise<void>;
  close(): Promise<void>;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const items = (values: string[], tag: string) =>
  values.map((v) => `<item><${tag}>${xmlEscape(v)}</${tag}></item>`).join('');

export async function startEc2Endpoint(): Promise<Ec2Endpoint> {
  const images = new Map<string, { launch: Set<string>; snapshots: string[]; tags: Map<string, string> }>();
  const volume = new Map<string, Set<string>>();
  const calls: { region: string; action: string }[] = [];
  const holds: { action: string; applied: () => void }[] = [];
  const held: ServerResponse[] = [];
  const image = (region: string, id: string) => {
    const key = `${region}/${id}`;
    let found = images.get(key);
    if (!found) {
      const snap = (n: number) => `snap-${createHash('sha256').update(`${key}/${n}`).digest('hex').slice(0, 17)}`;
      found = { launch: new Set(), snapshots: [snap(0), snap(1)], tags: new Map() };
      images.set(key, found);
      for (const s of found.snapshots) volume.set(`${region}/${s}`, new Set());
    }
    return found;
  };
  /** `Prefix.1.UserId=…&Prefix.2.UserId=…`, as the SDK serialises a list of UserIds. */
  const list = (params: URLSearchParams, prefix: string) => {
    const out: string[] = [];
    for (let i = 1; params.has(`${prefix}.${i}.UserId`); i++) out.push(params.get(`${prefix}.${i}.UserId`) ?? '');
    return out;
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const action = params.get('Action') ?? '';
      const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '?';
      calls.push({ region, action });
      const reply = (inner: string) => {
        const hold = holds.findIndex((h) => h.action === action);
        if (hold >= 0) {
          const [h] = holds.splice(hold, 1);
          held.push(res);
          h!.applied();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${inner}</${action}Response>`,
        );
      };
      switch (action) {
        case 'DescribeImages': {
          const ids = [...params.entries()].filter(([k]) => k.startsWith('ImageId.')).map(([, v]) => v);
          return reply(
            `<imagesSet>${ids
              .map((id) => {
                const i = image(region, id);
                const devices = i.snapshots
                  .map(
                    (s, n) =>
                      `<item><deviceName>/dev/xvd${n ? 'b' : 'a'}</deviceName><ebs><snapshotId>${s}</snapshotId></ebs></item>`,
                  )
                  .join('');
                const tags = [...i.tags]
                  .map(([k, v]) => `<item><key>${xmlEscape(k)}</key><value>${xmlEscape(v)}</value></item>`)
                  .join('');
                return `<item><imageId>${id}</imageId><name>${DEFAULT_AMI_NAME}</name><imageState>available</imageState><blockDeviceMapping>${devices}</blockDeviceMapping><tagSet>${tags}</tagSet></item>`;
              })
              .join('')}</imagesSet>`,
          );
        }
        case 'DescribeImageAttribute': {
          const id = params.get('ImageId') ?? '';
          return reply(
            `<imageId>${id}</imageId><launchPermission>${items([...image(region, id).launch], 'userId')}</launchPermission>`,
          );
        }
        case 'DescribeSnapshotAttribute': {
          const id = params.get('SnapshotId') ?? '';
          return reply(
            `<snapshotId>${id}</snapshotId><createVolumePermission>${items([...(volume.get(`${region}/${id}`) ?? [])], 'userId')}</createVolumePermission>`,
          );
        }
        case 'ModifyImageAttribute': {
          const i = image(region, params.get('ImageId') ?? '');
          for (const u of list(params, 'LaunchPermission.Add')) i.launch.add(u);
          for (const u of list(params, 'LaunchPermission.Remove')) i.launch.delete(u);
          return reply('<return>true</return>');
        }
        case 'ModifySnapshotAttribute': {
          const set = volume.get(`${region}/${params.get('SnapshotId')}`) ?? new Set<string>();
          for (const u of list(params, 'CreateVolumePermission.Add')) set.add(u);
          for (const u of list(params, 'CreateVolumePermission.Remove')) set.delete(u);
          return reply('<return>true</return>');
        }
        case 'CreateTags': {
          const resources = [...params.entries()].filter(([k]) => k.startsWith('ResourceId.')).map(([, v]) => v);
          for (let n = 1; params.has(`Tag.${n}.Key`); n++) {
            for (const r of resources)
              if (r.startsWith('ami-'))
                image(region, r).tags.set(params.get(`Tag.${n}.Key`)!, params.get(`Tag.${n}.Value`) ?? '');
          }
          return reply('<return>true</return>');
        }
        default:
          res.writeHead(400, { 'content-type': 'text/xml' });
          res.end(
            `<Response><Errors><Error><Code>InvalidAction</Code><Message>not in this fake: ${action}</Message></Error></Errors><RequestID>r</RequestID></Response>`,
          );
      }
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
    image,
    volumePermissions: (region, snapshot) => [...(volume.get(`${region}/${snapshot}`) ?? [])],
    holdAfter: (action) => new Promise((applied) => holds.push({ action, applied })),
    close: () =>
      new Promise((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
