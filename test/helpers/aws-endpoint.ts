import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsWorldError, awsWorld, type AwsWorld, type Service } from './aws-world.js';

/**
 * The simulated AWS world (aws-world.ts) over loopback HTTP, for a bro started
 * as its own process, in the protocols the real SDK speaks: EC2's query
 * protocol and STS's (a form-encoded POST, an XML answer), SSM's and ECR's
 * JSON 1.1 (the operation in X-Amz-Target). The service and region come from
 * the request's SigV4 credential scope; every operation the world has is
 * served, read and written generically.
 *
 * `holdAfter(action, nth)` applies the nth such call from now (default the
 * next) and then never answers it, so a test can kill bro right after AWS
 * changed something and before bro heard back. `throttle(actions, times)`
 * answers each such request `times` times with the service's throttling error
 * before it applies it.
 */
export interface AwsEndpoint {
  url: string;
  env: Record<string, string>;
  world: AwsWorld;
  /** Resolves once the held call has been applied. */
  holdAfter(action: string, nth?: number): Promise<void>;
  throttle(actions: readonly string[], times: number): void;
  /** How many throttles were answered, per action. */
  throttled: Map<string, number>;
  close(): Promise<void>;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Query lists the SDK sends one member at a time (`ImageId.1`), by the SDK input's name for the list. */
const QUERY_LISTS: Record<string, string> = {
  ImageId: 'ImageIds',
  Owner: 'Owners',
  Filter: 'Filters',
  Value: 'Values',
  ResourceId: 'Resources',
  Tag: 'Tags',
};
const listNamed = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(listNamed)
    : value && typeof value === 'object'
      ? Object.fromEntries(
          Object.entries(value).map(([k, v]) => [Array.isArray(v) ? (QUERY_LISTS[k] ?? k) : k, listNamed(v)]),
        )
      : value;

/** The SDK input a query stands for: `Filter.1.Value.2=x` → `{ Filters: [{ Values: [, 'x'] }] }`. */
function queryInput(params: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [name, value] of params) {
    if (name === 'Action' || name === 'Version') continue;
    const path = name.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) - 1 : s));
    let node = root as Record<string | number, unknown>;
    path.forEach((segment, i) => {
      const next = path[i + 1];
      if (next === undefined) node[segment] = value;
      else node = (node[segment] ??= typeof next === 'number' ? [] : {}) as Record<string | number, unknown>;
    });
  }
  return listNamed(root) as Record<string, unknown>;
}

/** EC2's names in its XML where they are not the SDK's name with a lower-case first letter. */
const EC2_XML_NAMES: Record<string, string> = {
  Images: 'imagesSet',
  BlockDeviceMappings: 'blockDeviceMapping',
  Tags: 'tagSet',
  LaunchPermissions: 'launchPermission',
  CreateVolumePermissions: 'createVolumePermission',
  OwnerId: 'imageOwnerId',
  State: 'imageState',
};

/** An SDK output as XML: EC2's names and `<item>` lists, or the query protocol's own names and `<member>` lists. */
function xml(value: unknown, ec2: boolean): string {
  if (Array.isArray(value))
    return value.map((v) => `<${ec2 ? 'item' : 'member'}>${xml(v, ec2)}</${ec2 ? 'item' : 'member'}>`).join('');
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object')
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => {
        const name = ec2 ? (EC2_XML_NAMES[k] ?? k[0]!.toLowerCase() + k.slice(1)) : k;
        return `<${name}>${xml(v, ec2)}</${name}>`;
      })
      .join('');
  return xmlEscape(String(value));
}

/** An SDK output as JSON 1.1: dates in epoch seconds. */
const json = (value: unknown) =>
  JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : v;
  });

/** The answer in the request's protocol: JSON 1.1 (SSM, ECR), EC2's query, or the query protocol (STS). */
function answer(service: Service, action: string, jsonProtocol: boolean) {
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
  const ns =
    service === 'ec2' ? 'http://ec2.amazonaws.com/doc/2016-11-15/' : 'https://sts.amazonaws.com/doc/2011-06-15/';
  return {
    ok(res: ServerResponse, out: object) {
      if (jsonProtocol) return send(res, 200, 'application/x-amz-json-1.1', json(out));
      const inner =
        service === 'ec2'
          ? `<requestId>r</requestId>${xml(out, true)}`
          : `<${action}Result>${xml(out, false)}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>`;
      send(
        res,
        200,
        'text/xml',
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${ns}">${inner}</${action}Response>`,
      );
    },
    error(res: ServerResponse, status: number, code: string, message: string) {
      if (jsonProtocol) return send(res, status, 'application/x-amz-json-1.1', json({ __type: code, message }));
      const error = `<Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
      send(
        res,
        status,
        'text/xml',
        service === 'ec2'
          ? `<Response><Errors>${error}</Errors><RequestID>r</RequestID></Response>`
          : `<ErrorResponse xmlns="${ns}">${error}<RequestId>r</RequestId></ErrorResponse>`,
      );
    },
  };
}

export async function startAwsEndpoint(world: AwsWorld = awsWorld()): Promise<AwsEndpoint> {
  const holds: { action: string; left: number; applied: () => void }[] = [];
  const held: ServerResponse[] = [];
  const throttles = { actions: new Set<string>(), times: 0, seen: new Map<string, number>() };
  const throttled = new Map<string, number>();

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      const scope = /Credential=[^/]+\/[^/]+\/([^/]+)\/([^/]+)\//.exec(String(req.headers.authorization));
      const [region, service] = [scope?.[1] ?? '?', (scope?.[2] ?? '?') as Service];
      const target = req.headers['x-amz-target'];
      const params = new URLSearchParams(target ? '' : body);
      const action = target ? String(target).split('.').pop()! : (params.get('Action') ?? '');
      const reply = answer(service, action, Boolean(target));
      if (throttles.actions.has(action)) {
        // The same request again (a retry) is counted: each is refused `times` times, then applied.
        const seen = throttles.seen.get(body) ?? 0;
        if (seen < throttles.times) {
          throttles.seen.set(body, seen + 1);
          throttled.set(action, (throttled.get(action) ?? 0) + 1);
          return service === 'ec2'
            ? reply.error(res, 503, 'RequestLimitExceeded', 'Request limit exceeded.')
            : reply.error(res, 400, 'ThrottlingException', 'Rate exceeded');
        }
      }
      let out: object;
      try {
        out = world.call(
          service,
          action,
          region,
          target ? (JSON.parse(body || '{}') as Record<string, unknown>) : queryInput(params),
        );
      } catch (error) {
        const code =
          error instanceof AwsWorldError ? error.code : error instanceof Error ? error.name : 'InternalError';
        return reply.error(res, 400, code, error instanceof Error ? error.message : String(error));
      }
      const hold = holds.findIndex((h) => h.action === action && --h.left === 0);
      if (hold >= 0) {
        const [h] = holds.splice(hold, 1);
        held.push(res);
        return h!.applied();
      }
      reply.ok(res, out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    env: {
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ENDPOINT_URL_STS: url,
      AWS_ENDPOINT_URL_ECR: url,
      AWS_ACCESS_KEY_ID: 'AKIDLOOPBACKTEST',
      AWS_SECRET_ACCESS_KEY: 'loopback-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: '',
    },
    world,
    holdAfter: (action, nth = 1) => new Promise((applied) => holds.push({ action, left: nth, applied })),
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
