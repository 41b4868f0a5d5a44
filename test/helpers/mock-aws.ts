import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  EC2ServiceException,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateRepositoryCommand,
  DescribeImagesCommand as EcrDescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ImageNotFoundException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { FIXTURE_REGISTRY_ACCOUNT } from './git-fixtures.js';
import type { FakeTools } from './fake-tools.js';
import { DEFAULT_AMI_NAME, Ec2Error, ec2World, type Ec2Operation } from './ec2-world.js';

export { DEFAULT_AMI_NAME };

/**
 * EC2, ECR and STS as aws-sdk-client-mock stubs (cdk-assets' test/mock-aws.ts):
 * EC2 is the one simulated world of ec2-world.ts, ECR holds repositories and
 * the fake docker's registry for image digests. Any bro client in any region
 * reaches it.
 */
export const REGISTRY_PASSWORD = 'ecr-password-Zm9vYmFyYmF6cXV4-s3cr3t';
/** Who the credentials are: the fixture's registry account, in the commercial partition. */
export const CALLER_ARN = `arn:aws:iam::${FIXTURE_REGISTRY_ACCOUNT}:user/builder`;
export const AUTH_TOKEN = Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString('base64');

export interface AwsCall {
  region: string;
  command: string;
  input: Record<string, unknown>;
}

const EC2_COMMANDS: Record<Ec2Operation, unknown> = {
  DescribeImages: DescribeImagesCommand,
  DescribeImageAttribute: DescribeImageAttributeCommand,
  ModifyImageAttribute: ModifyImageAttributeCommand,
  DescribeSnapshotAttribute: DescribeSnapshotAttributeCommand,
  ModifySnapshotAttribute: ModifySnapshotAttributeCommand,
  CreateTags: CreateTagsCommand,
};

const MODIFYING = new Set(['ModifyImageAttribute', 'ModifySnapshotAttribute', 'CreateTags', 'CreateRepository']);

export function awsError(name: string, message = name): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

export function mockAws(tools: FakeTools) {
  const ec2 = mockClient(EC2Client);
  const ecr = mockClient(ECRClient);
  const sts = mockClient(STSClient);
  const world = ec2World();
  const repositories = new Map<string, { immutable: boolean; scanOnPush: boolean }>();
  const calls: AwsCall[] = [];
  /** Errors a command raises in a region: `${region}/${command}` → error. */
  const failures = new Map<string, Error>();
  const regionOf = async (getClient: () => { config: { region: unknown } }) => {
    const region = getClient().config.region;
    return typeof region === 'function' ? String(await region()) : String(region);
  };
  const handle = <I>(
    client: typeof ec2 | typeof ecr | typeof sts,
    command: unknown,
    name: string,
    fn: (region: string, input: I) => unknown,
  ) =>
    (client as typeof ec2)
      .on(command as never)
      .callsFake(async (input: I, getClient: () => { config: { region: unknown } }) => {
        const region = await regionOf(getClient);
        calls.push({ region, command: name, input: input as Record<string, unknown> });
        const failure = failures.get(`${region}/${name}`) ?? failures.get(`*/${name}`);
        if (failure) throw failure;
        return fn(region, input);
      });

  for (const [name, command] of Object.entries(EC2_COMMANDS) as [Ec2Operation, unknown][]) {
    handle(ec2, command, name, (region, input: never) => {
      try {
        return world.operations[name](region, input);
      } catch (error) {
        throw error instanceof Ec2Error ? awsError(error.code, error.message) : error;
      }
    });
  }

  const repoUri = (region: string, registryId: string, name: string) =>
    `${registryId}.dkr.ecr.${region}.amazonaws.com/${name}`;
  handle(
    ecr,
    DescribeRepositoriesCommand,
    'DescribeRepositories',
    (region, input: { repositoryNames: string[]; registryId: string }) => {
      const name = input.repositoryNames[0] as string;
      const repo = repositories.get(`${region}/${name}`);
      if (!repo)
        throw new RepositoryNotFoundException({
          message: `The repository with name '${name}' does not exist`,
          $metadata: {},
        });
      return {
        repositories: [
          {
            repositoryName: name,
            repositoryUri: repoUri(region, input.registryId, name),
            imageTagMutability: repo.immutable ? 'IMMUTABLE' : 'MUTABLE',
          },
        ],
      };
    },
  );
  handle(
    ecr,
    CreateRepositoryCommand,
    'CreateRepository',
    (
      region,
      input: {
        repositoryName: string;
        imageTagMutability?: string;
        imageScanningConfiguration?: { scanOnPush?: boolean };
      },
    ) => {
      repositories.set(`${region}/${input.repositoryName}`, {
        immutable: input.imageTagMutability === 'IMMUTABLE',
        scanOnPush: Boolean(input.imageScanningConfiguration?.scanOnPush),
      });
      return { repository: { repositoryName: input.repositoryName } };
    },
  );
  handle(ecr, GetAuthorizationTokenCommand, 'GetAuthorizationToken', (region) => ({
    authorizationData: [
      {
        authorizationToken: AUTH_TOKEN,
        proxyEndpoint: `https://${FIXTURE_REGISTRY_ACCOUNT}.dkr.ecr.${region}.amazonaws.com`,
      },
    ],
  }));
  handle(
    ecr,
    EcrDescribeImagesCommand,
    'DescribeImages(ECR)',
    (region, input: { repositoryName: string; registryId: string; imageIds: { imageTag: string }[] }) => {
      const tag = input.imageIds[0]?.imageTag as string;
      const digest = tools.registryDigest(repoUri(region, input.registryId, input.repositoryName), tag);
      if (!digest)
        throw new ImageNotFoundException({
          message: `The image with imageId {imageTag:'${tag}'} does not exist`,
          $metadata: {},
        });
      return { imageDetails: [{ imageDigest: digest, imageTags: [tag] }] };
    },
  );

  handle(sts, GetCallerIdentityCommand, 'GetCallerIdentity', () => ({
    Account: FIXTURE_REGISTRY_ACCOUNT,
    Arn: CALLER_ARN,
    UserId: 'AIDAEXAMPLEBUILDER',
  }));

  return {
    ec2,
    ecr,
    sts,
    calls,
    failures,
    pending: world.pending,
    repositories,
    /** Calls that change something in AWS. */
    modifying: () => calls.filter((c) => MODIFYING.has(c.command)),
    ec2World: world,
    image: world.image,
    volumePermissions: world.volumePermissions,
    restore() {
      ec2.restore();
      ecr.restore();
      sts.restore();
    },
  };
}

export type AwsWorld = ReturnType<typeof mockAws>;

/**
 * STS for a bro in a child process, where aws-sdk-client-mock cannot reach: a local endpoint
 * answering GetCallerIdentity as STS does (the Query protocol's XML), with static credentials.
 */
export async function stsEndpoint(): Promise<{ env: Record<string, string>; close(): void }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/xml' });
      response.end(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${CALLER_ARN}</Arn><UserId>AIDAEXAMPLEBUILDER</UserId><Account>${FIXTURE_REGISTRY_ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: {
      AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEBUILDER',
      AWS_SECRET_ACCESS_KEY: 'test-secret-not-real',
      AWS_PROFILE: '',
    },
    close: () => server.close(),
  };
}
