import { createHash } from 'node:crypto';
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

/**
 * EC2 and ECR as aws-sdk-client-mock stubs over a small in-memory world
 * (cdk-assets' test/mock-aws.ts): AMIs that cargo make ami registered, their
 * snapshots and permissions, ECR repositories, and the fake docker's
 * registry for image digests. Any bro client in any region reaches it.
 */
export const REGISTRY_PASSWORD = 'ecr-password-Zm9vYmFyYmF6cXV4-s3cr3t';
/** Who the credentials are: the fixture's registry account, in the commercial partition. */
export const CALLER_ARN = `arn:aws:iam::${FIXTURE_REGISTRY_ACCOUNT}:user/builder`;
export const AUTH_TOKEN = Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString('base64');

/** The name cargo make ami gives the AMIs of the build worlds (bottlerocket-<variant>-<arch>-v<version>). */
export const DEFAULT_AMI_NAME = 'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1';

interface FakeImage {
  name: string;
  state: string;
  snapshots: string[];
  launch: Set<string>;
  tags: Map<string, string>;
}

export interface AwsCall {
  region: string;
  command: string;
  input: Record<string, unknown>;
}

const MODIFYING = new Set(['ModifyImageAttribute', 'ModifySnapshotAttribute', 'CreateTags', 'CreateRepository']);

export function awsError(name: string, message = name): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

export function mockAws(tools: FakeTools) {
  const ec2 = mockClient(EC2Client);
  const ecr = mockClient(ECRClient);
  const sts = mockClient(STSClient);
  const images = new Map<string, FakeImage>();
  const volume = new Map<string, Set<string>>();
  const repositories = new Map<string, { immutable: boolean; scanOnPush: boolean }>();
  const calls: AwsCall[] = [];
  /** Errors a command raises in a region: `${region}/${command}` → error. */
  const failures = new Map<string, Error>();
  /** Regions where copies stay `pending`. */
  const pending = new Set<string>();

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

  const image = (region: string, id: string): FakeImage => {
    const key = `${region}/${id}`;
    let found = images.get(key);
    if (!found) {
      // cargo make ami registered it: a root and a data volume, like Bottlerocket's AMIs.
      const snap = (n: number) => `snap-${createHash('sha256').update(`${key}/${n}`).digest('hex').slice(0, 17)}`;
      found = {
        name: DEFAULT_AMI_NAME,
        state: pending.has(region) ? 'pending' : 'available',
        snapshots: [snap(0), snap(1)],
        launch: new Set(),
        tags: new Map(),
      };
      images.set(key, found);
      for (const s of found.snapshots) volume.set(`${region}/${s}`, new Set());
    }
    return found;
  };
  const users = (list: { UserId?: string }[] | undefined) => (list ?? []).map((p) => p.UserId as string);

  handle(ec2, DescribeImagesCommand, 'DescribeImages', (region, input: { ImageIds?: string[] }) => ({
    Images: (input.ImageIds ?? []).map((id) => {
      const i = image(region, id);
      return {
        ImageId: id,
        Name: i.name,
        State: i.state,
        BlockDeviceMappings: i.snapshots.map((SnapshotId, n) => ({
          DeviceName: n ? '/dev/xvdb' : '/dev/xvda',
          Ebs: { SnapshotId },
        })),
        Tags: [...i.tags].map(([Key, Value]) => ({ Key, Value })),
      };
    }),
  }));
  handle(ec2, DescribeImageAttributeCommand, 'DescribeImageAttribute', (region, input: { ImageId: string }) => ({
    ImageId: input.ImageId,
    LaunchPermissions: [...image(region, input.ImageId).launch].map((UserId) => ({ UserId })),
  }));
  handle(
    ec2,
    ModifyImageAttributeCommand,
    'ModifyImageAttribute',
    (
      region,
      input: { ImageId: string; LaunchPermission?: { Add?: { UserId?: string }[]; Remove?: { UserId?: string }[] } },
    ) => {
      const i = image(region, input.ImageId);
      for (const u of users(input.LaunchPermission?.Add)) i.launch.add(u);
      for (const u of users(input.LaunchPermission?.Remove)) i.launch.delete(u);
      return {};
    },
  );
  handle(
    ec2,
    DescribeSnapshotAttributeCommand,
    'DescribeSnapshotAttribute',
    (region, input: { SnapshotId: string }) => ({
      SnapshotId: input.SnapshotId,
      CreateVolumePermissions: [...(volume.get(`${region}/${input.SnapshotId}`) ?? [])].map((UserId) => ({ UserId })),
    }),
  );
  handle(
    ec2,
    ModifySnapshotAttributeCommand,
    'ModifySnapshotAttribute',
    (
      region,
      input: {
        SnapshotId: string;
        CreateVolumePermission?: { Add?: { UserId?: string }[]; Remove?: { UserId?: string }[] };
      },
    ) => {
      const set = volume.get(`${region}/${input.SnapshotId}`);
      if (!set) throw awsError('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`);
      for (const u of users(input.CreateVolumePermission?.Add)) set.add(u);
      for (const u of users(input.CreateVolumePermission?.Remove)) set.delete(u);
      return {};
    },
  );
  handle(
    ec2,
    CreateTagsCommand,
    'CreateTags',
    (region, input: { Resources: string[]; Tags: { Key: string; Value: string }[] }) => {
      for (const r of input.Resources)
        if (r.startsWith('ami-')) for (const t of input.Tags) image(region, r).tags.set(t.Key, t.Value);
      return {};
    },
  );

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
    pending,
    repositories,
    /** Calls that change something in AWS. */
    modifying: () => calls.filter((c) => MODIFYING.has(c.command)),
    image: (region: string, id: string) => image(region, id),
    volumePermissions: (region: string, snapshot: string) => [...(volume.get(`${region}/${snapshot}`) ?? [])],
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
