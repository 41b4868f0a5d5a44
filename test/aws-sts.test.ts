import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAws, networkProblem } from '../src/adapters/aws.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('STS through the real SDK client', () => {
  it('gives up when STS does not answer within the timeout (a firewall that drops packets)', async () => {
    // An endpoint that accepts the request and never answers.
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      vi.stubEnv('AWS_ENDPOINT_URL_STS', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-a-secret');
      const sts = createAws({ maxAttempts: 1 }).sts('us-east-1');
      const outcome = await sts.getCallerIdentity({ timeoutMs: 300 }).then(
        (x) => x,
        (e: unknown) => e,
      );
      expect(outcome).toMatchObject({ name: 'AbortError' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('tells a network problem (nothing listens, no such host) from an answer AWS gave', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    vi.stubEnv('AWS_ENDPOINT_URL_STS', `http://127.0.0.1:${port}`);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-a-secret');
    const refused = await createAws({ maxAttempts: 1 })
      .sts('us-east-1')
      .getCallerIdentity()
      .catch((e: unknown) => e);
    expect(networkProblem(refused)).toContain('ECONNREFUSED');
    expect(networkProblem(Object.assign(new Error('bad token'), { name: 'InvalidClientTokenId' }))).toBeUndefined();
  });
});
