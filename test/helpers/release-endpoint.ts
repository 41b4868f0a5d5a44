import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsModelError, type ModelImage, type ReleaseModel } from './release-model.js';

/**
 * The release model (release-model.ts) over loopback HTTP, for a bro started
 * as its own process: EC2 in its query protocol (a form-encoded POST, an XML
 * answer) and SSM in its JSON 1.1 protocol (X-Amz-Target), as the real SDK
 * speaks them. `holdAfter(action)` applies the next such call and then never
 * answers it, so a test can kill bro right after AWS changed something and
 * before bro heard back.
 */
export interface ReleaseEndpoint {
  env: Record<string, string>;
  /** Holds the `nth` such call from now (default the next). */
  holdAfter(action: string, nth?: number): Promise<void>;
  close(): Promise<void>;
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const listOf = (params: URLSearchParams, prefix: string) =>
  [...params.entries()].filter(([k]) => new RegExp(`^${prefix}\\.\\d+$`).test(k)).map(([, v]) => v);

const imageXml = (i: ModelImage) =>
  `<item><imageId>${i.id}</imageId><name>${xml(i.name)}</name><imageOwnerId>${i.owner}</imageOwnerId><imageState>${i.state}</imageState><creationDate>${i.created}</creationDate>${i.deprecation ? `<deprecationTime>${i.deprecation}</deprecationTime>` : ''}<blockDeviceMapping>${i.snapshots
    .map(
      (s, n) =>
        `<item><deviceName>/dev/xvd${n ? 'b' : 'a'}</deviceName><ebs><snapshotId>${s}</snapshotId></ebs></item>`,
    )
    .join('')}</blockDeviceMapping><tagSet>${[...i.tags]
    .map(([k, v]) => `<item><key>${xml(k)}</key><value>${xml(v)}</value></item>`)
    .join('')}</tagSet></item>`;

const launchXml = (i: ModelImage | undefined) =>
  [...(i?.launch ?? [])]
    .map((id) =>
      /^\d{12}$/.test(id)
        ? `<item><userId>${id}</userId></item>`
        : id.includes(':ou/')
          ? `<item><organizationalUnitArn>${id}</organizationalUnitArn></item>`
          : `<item><organizationArn>${id}</organizationArn></item>`,
    )
    .join('');

export async function startReleaseEndpoint(model: ReleaseModel): Promise<ReleaseEndpoint> {
  const holds: { action: string; left: number; applied: () => void }[] = [];
  const held: ServerResponse[] = [];

  const ec2 = (region: string, params: URLSearchParams): string => {
    const action = params.get('Action') ?? '';
    const input = Object.fromEntries(params);
    model.called(region, 'ec2', action, input);
    switch (action) {
      case 'DescribeImages':
        return `<imagesSet>${model.describeImages(region, listOf(params, 'ImageId')).map(imageXml).join('')}</imagesSet>`;
      case 'DescribeImageAttribute': {
        const id = params.get('ImageId') ?? '';
        return `<imageId>${id}</imageId><launchPermission>${launchXml(model.image(region, id))}</launchPermission>`;
      }
      case 'DeregisterImage':
        model.deregisterImage(region, params.get('ImageId') ?? '');
        return '<return>true</return>';
      case 'DeleteSnapshot':
        model.deleteSnapshot(region, params.get('SnapshotId') ?? '');
        return '<return>true</return>';
      default:
        throw new AwsModelError('InvalidAction', `not in this fake: ${action}`);
    }
  };

  const ssm = (region: string, action: string, input: Record<string, unknown>): unknown => {
    model.called(region, 'ssm', action, input);
    const names = input.Names as string[];
    switch (action) {
      case 'GetParameters':
        return model.getParameters(region, names);
      case 'GetParametersByPath':
        return model.getParametersByPath(region, input.Path as string);
      case 'DescribeParameters':
        return {
          Parameters: model
            .describeParameters(region, (input.ParameterFilters as { Values: string[] }[])[0]!.Values)
            .map((p) => ({ ...p, LastModifiedDate: p.LastModifiedDate.getTime() / 1000 })),
        };
      case 'PutParameter':
        return model.putParameter(region, input as never);
      case 'DeleteParameters':
        return model.deleteParameters(region, names);
      default:
        throw new AwsModelError('InvalidAction', `not in this fake: ${action}`);
    }
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '?';
      const target = String(req.headers['x-amz-target'] ?? '');
      const action = target ? target.replace('AmazonSSM.', '') : (new URLSearchParams(body).get('Action') ?? '');
      const send = (status: number, type: string, text: string) => {
        const hold = holds.findIndex((h) => h.action === action && --h.left === 0);
        if (status === 200 && hold >= 0) {
          const [h] = holds.splice(hold, 1);
          held.push(res);
          h!.applied();
          return;
        }
        res.writeHead(status, { 'content-type': type });
        res.end(text);
      };
      try {
        if (target) {
          send(200, 'application/x-amz-json-1.1', JSON.stringify(ssm(region, action, JSON.parse(body || '{}'))));
        } else {
          const inner = ec2(region, new URLSearchParams(body));
          send(
            200,
            'text/xml',
            `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${inner}</${action}Response>`,
          );
        }
      } catch (error) {
        const code =
          error instanceof AwsModelError ? error.code : error instanceof Error ? error.name : 'InternalError';
        const message = error instanceof Error ? error.message : String(error);
        if (target) send(400, 'application/x-amz-json-1.1', JSON.stringify({ __type: code, message }));
        else
          send(
            400,
            'text/xml',
            `<Response><Errors><Error><Code>${code}</Code><Message>${xml(message)}</Message></Error></Errors><RequestID>r</RequestID></Response>`,
          );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    env: {
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ACCESS_KEY_ID: 'AKIDLOOPBACKTEST',
      AWS_SECRET_ACCESS_KEY: 'loopback-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    holdAfter: (action, nth = 1) => new Promise((applied) => holds.push({ action, left: nth, applied })),
    close: () =>
      new Promise((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
