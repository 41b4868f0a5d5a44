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
import { createSsm, type Ssm } from './ssm.js';

/**
 * EC2, ECR, STS (and SSM, ssm.ts) behind narrow interfaces holding only the calls bro makes
 * (cdk-assets' lib/aws.ts). One factory creates real SDK v3 clients, one per
 * service and region, on first use. The SDK does everything it normally does:
 * the credential chain, AWS_PROFILE, AWS_ENDPOINT_URL and its per-service
 * forms (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_SSM), and its own retries. No
 * endpoint is hard-coded, so LocalStack or another emulator works for a rehearsal.
 * Tests stub the clients with aws-sdk-client-mock.
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
}

export function createAws(options: AwsOptions = {}): Aws {
  const { signal, ...shared } = options;
  const config = (region: string) => ({ ...definedOnly(shared), region });
  const ec2Clients = new Map<string, Promise<EC2Client>>();
  const ecrClients = new Map<string, Promise<ECRClient>>();
  const stsClients = new Map<string, Promise<STSClient>>();
  const ec2Client = (region: string) =>
    memo(ec2Clients, region, async () => new (await import('@aws-sdk/client-ec2')).EC2Client(config(region)));
  const ecrClient = (region: string) =>
    memo(ecrClients, region, async () => new (await import('@aws-sdk/client-ecr')).ECRClient(config(region)));
  const stsClient = (region: string) =>
    memo(stsClients, region, async () => new (await import('@aws-sdk/client-sts')).STSClient(config(region)));
  const sendOptions = () => (signal ? { abortSignal: signal } : {});

  return {
    ssm: createSsm(config, sendOptions),
    ec2(region) {
      const sdk = () => import('@aws-sdk/client-ec2');
      return {
        describeImages: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).DescribeImagesCommand(input), sendOptions()),
        describeImageAttribute: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).DescribeImageAttributeCommand(input), sendOptions()),
        describeSnapshotAttribute: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).DescribeSnapshotAttributeCommand(input), sendOptions()),
        modifyImageAttribute: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).ModifyImageAttributeCommand(input), sendOptions()),
        modifySnapshotAttribute: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).ModifySnapshotAttributeCommand(input), sendOptions()),
        createTags: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).CreateTagsCommand(input), sendOptions()),
        enableImageDeprecation: async (input) =>
          (await ec2Client(region)).send(new (await sdk()).EnableImageDeprecationCommand(input), sendOptions()),
        deregisterImage: async (ImageId) =>
          (await ec2Client(region)).send(new (await sdk()).DeregisterImageCommand({ ImageId }), sendOptions()),
        deleteSnapshot: async (SnapshotId) =>
          (await ec2Client(region)).send(new (await sdk()).DeleteSnapshotCommand({ SnapshotId }), sendOptions()),
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
      return {
        describeRepositories: async (input) =>
          (await ecrClient(region)).send(new (await sdk()).DescribeRepositoriesCommand(input), sendOptions()),
        createRepository: async (input) =>
          (await ecrClient(region)).send(new (await sdk()).CreateRepositoryCommand(input), sendOptions()),
        getAuthorizationToken: async () =>
          (await ecrClient(region)).send(new (await sdk()).GetAuthorizationTokenCommand({}), sendOptions()),
        describeImages: async (input) =>
          (await ecrClient(region)).send(new (await sdk()).DescribeImagesCommand(input), sendOptions()),
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

/** Whether an SDK error is the service exception `name` (`ImageNotFoundException`…). */
export function isAwsError(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
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
