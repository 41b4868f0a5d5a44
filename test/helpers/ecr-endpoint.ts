import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUTH_TOKEN } from './aws-world.js';

/**
 * A loopback ECR endpoint (the JSON 1.1 protocol the SDK speaks: POST /, the
 * operation in `X-Amz-Target`) for a bro started as its own process, where
 * aws-sdk-client-mock cannot reach. It answers what the admin image push
 * asks: the repository exists, the tag does not, and a login token.
 */
export interface EcrEndpoint {
  url: string;
  /** Operations received, in order. */
  calls: string[];
  /** The environment that points a child bro's SDK here, with dummy credentials. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * `digestOf(repositoryUri, tag)`: what the registry holds (the fake docker's registry), so a
 * push is verified as with ECR. The region comes from the request's SigV4 credential scope.
 */
export async function startEcrEndpoint(
  digestOf: (repositoryUri: string, tag: string) => string | undefined = () => undefined,
): Promise<EcrEndpoint> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      calls.push(operation);
      const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      const send = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(data));
      };
      switch (operation) {
        case 'DescribeRepositories':
          return send(200, {
            repositories: [{ repositoryName: (input.repositoryNames as string[])[0], imageTagMutability: 'IMMUTABLE' }],
          });
        case 'DescribeImages': {
          const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1];
          const tag = (input.imageIds as { imageTag: string }[])[0]?.imageTag ?? '';
          const digest = digestOf(
            `${String(input.registryId)}.dkr.ecr.${region}.amazonaws.com/${String(input.repositoryName)}`,
            tag,
          );
          if (digest) return send(200, { imageDetails: [{ imageDigest: digest, imageTags: [tag] }] });
          return send(400, { __type: 'ImageNotFoundException', message: 'The image does not exist' });
        }
        case 'GetAuthorizationToken':
          return send(200, {
            authorizationData: [
              { authorizationToken: AUTH_TOKEN, proxyEndpoint: 'https://111111111111.dkr.ecr.us-east-1.amazonaws.com' },
            ],
          });
        default:
          return send(400, { __type: 'UnknownOperationException', message: `not in this fake: ${operation}` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    env: {
      AWS_ENDPOINT_URL_ECR: url,
      AWS_ACCESS_KEY_ID: 'AKIDLOOPBACKTEST',
      AWS_SECRET_ACCESS_KEY: 'loopback-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
