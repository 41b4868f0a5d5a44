import type {
  CreateTagsCommandInput,
  DescribeImageAttributeCommandInput,
  DescribeImageAttributeCommandOutput,
  DescribeImagesCommandInput,
  DescribeImagesCommandOutput,
  DescribeSnapshotAttributeCommandInput,
  DescribeSnapshotAttributeCommandOutput,
  EC2Client,
  EnableImageDeprecationCommandInput,
  EC2ClientConfig,
  Image,
  ModifyImageAttributeCommandInput,
  ModifySnapshotAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import type {
  CreateRepositoryCommandInput,
  CreateRepositoryCommandOutput,
  DescribeImagesCommandInput as EcrDescribeImagesCommandInput,
  DescribeImagesCommandOutput as EcrDescribeImagesCommandOutput,
  DescribeRepositoriesCommandInput,
  DescribeRepositoriesCommandOutput,
  ECRClient,
  GetAuthorizationTokenCommandOutput,
} from '@aws-sdk/client-ecr';
import type { GetCallerIdentityCommandOutput, STSClient } from '@aws-sdk/client-sts';
import type * as Ec2Sdk from '@aws-sdk/client-ec2';
import type * as EcrSdk from '@aws-sdk/client-ecr';
import { createSsm, type Ssm } from './ssm.js';

/**
 * EC2, ECR, STS (and SSM, ssm.ts) behind narrow interfaces holding only the calls bro makes
 * (cdk-assets' lib/aws.ts). One factory creates real SDK v3 clients, one per
 * service and region, on first use. The SDK does everything it normally does:
 * the credential chain, AWS_PROFILE, AWS_ENDPOINT_URL and its per-service
 * forms (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_SSM), and its own retries. No
 * endpoint is hard-coded, so LocalStack or another emulator works for a rehearsal.
 * Tests stub the clients with aws-sdk-client-mock.
 *
 * Routine throttling is the SDK's to absorb: EC2, ECR and SSM clients use its
 * adaptive retry mode (backoff plus a client-side rate limit that learns from
 * throttles) with `RETRY_ATTEMPTS` attempts, and at most `requestsPerRegion`
 * requests of a service are in flight in one region (EC2's limits are per
 * account and region), however many accounts and snapshots a share touches.
 * STS keeps the SDK's standard three attempts: the preflight fails fast.
 */

export interface Ec2 {
  describeImages(input: DescribeImagesCommandInput): Promise<DescribeImagesCommandOutput>;
  describeImageAttribute(input: DescribeImageAttributeCommandInput): Promise<DescribeImageAttributeCommandOutput>;
  describeSnapshotAttribute(
    input: DescribeSnapshotAttributeCommandInput,
  ): Promise<DescribeSnapshotAttributeCommandOutput>;
  modifyImageAttribute(input: ModifyImageAttributeCommandInput): Promise<unknown>;
  modifySnapshotAttribute(input: ModifySnapshotAttributeCommandInput): Promise<unknown>;
  createTags(input: CreateTagsCommandInput): Promise<unknown>;
  /** The AMI lifecycle: deprecation, and pruning (an image first, then its snapshots). */
  enableImageDeprecation(input: EnableImageDeprecationCommandInput): Promise<unknown>;
  deregisterImage(imageId: string): Promise<unknown>;
  deleteSnapshot(snapshotId: string): Promise<unknown>;
  /** Polls DescribeImages with the SDK's waiter until the image is `available`, `failed`, or the wait is over. */
  waitForImageAvailable(imageId: string, wait: WaitOptions): Promise<WaitResult>;
}

export interface Ecr {
  describeRepositories(input: DescribeRepositoriesCommandInput): Promise<DescribeRepositoriesCommandOutput>;
  createRepository(input: CreateRepositoryCommandInput): Promise<CreateRepositoryCommandOutput>;
  getAuthorizationToken(): Promise<GetAuthorizationTokenCommandOutput>;
  describeImages(input: EcrDescribeImagesCommandInput): Promise<EcrDescribeImagesCommandOutput>;
}

/** Who the credentials belong to (the preflight's AWS identity check). */
export interface Sts {
  /** `timeoutMs`: give up (AbortError) when STS has not answered by then, e.g. behind a firewall that drops packets. */
  getCallerIdentity(options?: { timeoutMs?: number }): Promise<GetCallerIdentityCommandOutput>;
}

export interface Aws {
  ec2(region: string): Ec2;
  ecr(region: string): Ecr;
  sts(region: string): Sts;
  ssm(region: string): Ssm;
}

export interface WaitOptions {
  /** Give up after this many seconds. */
  maxWaitSeconds: number;
  /** The first delay between polls; later delays grow, up to `maxDelaySeconds`. */
  minDelaySeconds: number;
  maxDelaySeconds?: number;
}

export interface WaitResult {
  state: 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'ABORTED' | 'RETRY';
  /** The image as the last poll saw it. */
  image?: Image;
  /** The last error, when polling failed. */
  error?: unknown;
}

type SharedConfig = Pick<
  EC2ClientConfig,
  'profile' | 'maxAttempts' | 'retryMode' | 'retryStrategy' | 'requestHandler' | 'credentials'
>;

export interface AwsOptions extends SharedConfig {
  /** Cancels requests and waits in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** Requests of one service in flight at once in one region (default `REQUESTS_PER_REGION`). */
  requestsPerRegion?: number;
}

/** Attempts per EC2, ECR or SSM call: five throttles in a row still leave room, with up to 20 s of backoff between them. */
export const RETRY_ATTEMPTS = 10;
/** EC2 refills a few mutating requests per second per region: four in flight keeps a share well inside that. */
export const REQUESTS_PER_REGION = 4;

export function createAws(options: AwsOptions = {}): Aws {
  const { signal, requestsPerRegion = REQUESTS_PER_REGION, ...shared } = options;
  const throttled = { retryMode: 'adaptive', maxAttempts: RETRY_ATTEMPTS } as const;
  const config = (region: string, retry: Partial<typeof throttled> = throttled) => ({
    ...retry,
    ...definedOnly(shared),
    region,
  });
  const ec2Clients = new Map<string, Promise<EC2Client>>();
  const ecrClients = new Map<string, Promise<ECRClient>>();
  const stsClients = new Map<string, Promise<STSClient>>();
  const ec2Client = (region: string) =>
    memo(ec2Clients, region, async () => new (await import('@aws-sdk/client-ec2')).EC2Client(config(region)));
  const ecrClient = (region: string) =>
    memo(ecrClients, region, async () => new (await import('@aws-sdk/client-ecr')).ECRClient(config(region)));
  const stsClient = (region: string) =>
    memo(stsClients, region, async () => new (await import('@aws-sdk/client-sts')).STSClient(config(region, {})));
  const sendOptions = () => (signal ? { abortSignal: signal } : {});
  const slots = new Map<string, ReturnType<typeof limiter>>();
  const inRegion = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    let slot = slots.get(key);
    if (!slot) slots.set(key, (slot = limiter(requestsPerRegion)));
    return slot(work);
  };

  return {
    ssm: createSsm(config, sendOptions, (region, work) => inRegion(`ssm/${region}`, work)),
    ec2(region) {
      const sdk = () => import('@aws-sdk/client-ec2');
      const send = <T>(work: (client: EC2Client, s: typeof Ec2Sdk) => Promise<T>) =>
        inRegion(`ec2/${region}`, async () => work(await ec2Client(region), await sdk()));
      return {
        describeImages: (input) => send((c, s) => c.send(new s.DescribeImagesCommand(input), sendOptions())),
        describeImageAttribute: (input) =>
          send((c, s) => c.send(new s.DescribeImageAttributeCommand(input), sendOptions())),
        describeSnapshotAttribute: (input) =>
          send((c, s) => c.send(new s.DescribeSnapshotAttributeCommand(input), sendOptions())),
        modifyImageAttribute: (input) =>
          send((c, s) => c.send(new s.ModifyImageAttributeCommand(input), sendOptions())),
        modifySnapshotAttribute: (input) =>
          send((c, s) => c.send(new s.ModifySnapshotAttributeCommand(input), sendOptions())),
        createTags: (input) => send((c, s) => c.send(new s.CreateTagsCommand(input), sendOptions())),
        enableImageDeprecation: (input) =>
          send((c, s) => c.send(new s.EnableImageDeprecationCommand(input), sendOptions())),
        deregisterImage: (ImageId) => send((c, s) => c.send(new s.DeregisterImageCommand({ ImageId }), sendOptions())),
        deleteSnapshot: (SnapshotId) =>
          send((c, s) => c.send(new s.DeleteSnapshotCommand({ SnapshotId }), sendOptions())),
        async waitForImageAvailable(imageId, wait) {
          const { waitForImageAvailable } = await sdk();
          const result = await waitForImageAvailable(
            {
              client: await ec2Client(region),
              maxWaitTime: wait.maxWaitSeconds,
              minDelay: wait.minDelaySeconds,
              maxDelay: Math.max(wait.maxDelaySeconds ?? 120, wait.minDelaySeconds),
              abortSignal: signal,
            },
            { ImageIds: [imageId] },
          );
          const reason = result.reason as DescribeImagesCommandOutput | Error | undefined;
          const image = reason && 'Images' in reason ? reason.Images?.[0] : undefined;
          return {
            state: result.state as WaitResult['state'],
            image,
            error: reason instanceof Error ? reason : undefined,
          };
        },
      };
    },
    ecr(region) {
      const sdk = () => import('@aws-sdk/client-ecr');
      const send = <T>(work: (client: ECRClient, s: typeof EcrSdk) => Promise<T>) =>
        inRegion(`ecr/${region}`, async () => work(await ecrClient(region), await sdk()));
      return {
        describeRepositories: (input) =>
          send((c, s) => c.send(new s.DescribeRepositoriesCommand(input), sendOptions())),
        createRepository: (input) => send((c, s) => c.send(new s.CreateRepositoryCommand(input), sendOptions())),
        getAuthorizationToken: () => send((c, s) => c.send(new s.GetAuthorizationTokenCommand({}), sendOptions())),
        describeImages: (input) => send((c, s) => c.send(new s.DescribeImagesCommand(input), sendOptions())),
      };
    },
    sts(region) {
      return {
        async getCallerIdentity({ timeoutMs } = {}) {
          // A controller and a timer, not AbortSignal.timeout()/any(): those can be garbage-collected
          // before they fire, and the call would then wait forever.
          const abort = new AbortController();
          const stop = () => abort.abort(signal?.reason);
          signal?.addEventListener('abort', stop, { once: true });
          const timer =
            timeoutMs === undefined
              ? undefined
              : setTimeout(() => abort.abort(new Error(`STS did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
          try {
            const client = await stsClient(region);
            return await client.send(new (await import('@aws-sdk/client-sts')).GetCallerIdentityCommand({}), {
              abortSignal: abort.signal,
            });
          } finally {
            clearTimeout(timer);
            signal?.removeEventListener('abort', stop);
          }
        },
      };
    },
  };
}

/** The codes of a request that never got an answer from AWS: DNS, connection, routing, TLS. */
const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
]);

/**
 * What kept a request from reaching AWS (`getaddrinfo ENOTFOUND sts.us-east-1.amazonaws.com`), or
 * undefined when AWS answered (bad credentials, access denied: not the network's fault).
 */
export function networkProblem(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const { code, hostname, address } = e as Error & { code?: unknown; hostname?: string; address?: string };
    if (typeof code === 'string' && NETWORK_CODES.has(code))
      return e.message.includes(code) ? e.message : `${code} ${hostname ?? address ?? ''}`.trim();
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return e.message || 'no answer';
  }
  return undefined;
}

/** Whether an SDK error is the service exception `name` (`ImageNotFoundException`…). */
export function isAwsError(error: unknown, name: string): error is Error {
  return error instanceof Error && error.name === name;
}

/** At most `limit` of the works at once; the others wait their turn, in order. */
function limiter(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes to the next in line, or is freed.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (!value) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
