import { createHash } from 'node:crypto';
import type * as Ec2 from '@aws-sdk/client-ec2';
import type * as Ecr from '@aws-sdk/client-ecr';
import type * as Ssm from '@aws-sdk/client-ssm';
import type * as Sts from '@aws-sdk/client-sts';
import { FIXTURE_REGISTRY_ACCOUNT } from './git-fixtures.js';

/**
 * The one simulated AWS world of the tests, per region: EC2 images (owner,
 * state, creation, deprecation, snapshots, tags, launch permissions by account,
 * organization or OU), snapshots with their create-volume permissions, SSM
 * parameters, ECR repositories, the caller's identity, every call made and the
 * failures planned for some. Each operation bro makes is in `operations`, keyed
 * by service and API name, taking and returning the SDK's own input and output
 * shapes; `call` runs one as AWS would (recorded, its planned failure raised).
 * Two fronts serve it: aws-sdk-client-mock in this process (aws-mock.ts) and a
 * loopback endpoint for a bro started as its own process (aws-endpoint.ts).
 *
 * The semantics follow the APIs: PutParameter without Overwrite refuses an
 * existing name (ParameterAlreadyExists); an `aws:ec2:image` value is validated
 * against this world's images after the answer, so a missing AMI means no
 * write; DeleteSnapshot refuses a snapshot an image still uses
 * (InvalidSnapshot.InUse); a deregistered image disappears from DescribeImages.
 */
export const OWNER = FIXTURE_REGISTRY_ACCOUNT;
/** Who the credentials are: the fixture's registry account, in the commercial partition. */
export const CALLER_ARN = `arn:aws:iam::${OWNER}:user/builder`;
export const REGISTRY_PASSWORD = 'ecr-password-Zm9vYmFyYmF6cXV4-s3cr3t';
export const AUTH_TOKEN = Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString('base64');
/** The name cargo make ami gives the AMIs of the build worlds (bottlerocket-<variant>-<arch>-v<version>). */
export const DEFAULT_AMI_NAME = 'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1';

export interface WorldImage {
  name: string;
  owner: string;
  state: string;
  created: string;
  snapshots: string[];
  tags: Map<string, string>;
  /** Account IDs, organization and OU ARNs. */
  launch: Set<string>;
  deprecation?: string;
}

export interface WorldParameter {
  value: string;
  dataType: string;
  version: number;
  modified: Date;
  user: string;
}

export type Service = 'ec2' | 'ssm' | 'ecr' | 'sts';

export interface AwsCall {
  region: string;
  service: Service;
  action: string;
  input: Record<string, unknown>;
}

/** An error AWS answers with: its code (`InvalidSnapshot.InUse`) and message. Either front turns it into the service's own. */
export class AwsWorldError extends Error {
  constructor(
    readonly code: string,
    message = code,
  ) {
    super(message);
    this.name = code;
  }
}

/** A planned failure (`world.failures`) answered as AWS answers an error. */
export const awsError = (code: string, message = code) => new AwsWorldError(code, message);

/** Every action that is not a read (Describe…, Get…) changes something. */
const modifies = (action: string) => !/^(Describe|Get)/.test(action);

type Answer<T> = Omit<T, '$metadata'>;
type Principal = { UserId?: string; OrganizationArn?: string; OrganizationalUnitArn?: string };
type Change = { Add?: Principal[]; Remove?: Principal[] } | undefined;

const principal = (p: Principal) => p.UserId ?? p.OrganizationArn ?? p.OrganizationalUnitArn ?? '';
const permission = (id: string): Principal =>
  /^\d{12}$/.test(id) ? { UserId: id } : id.includes(':ou/') ? { OrganizationalUnitArn: id } : { OrganizationArn: id };
const change = (set: Set<string>, permissions: Change) => {
  for (const p of permissions?.Add ?? []) set.add(principal(p));
  for (const p of permissions?.Remove ?? []) set.delete(principal(p));
};

export interface AwsWorldOptions {
  /**
   * A build world: an AMI ID never seen is one the fake `cargo make ami` registered
   * (named DEFAULT_AMI_NAME, a root and a data volume). A deregistered one stays gone.
   */
  registerOnSight?: boolean;
  /** What the registry holds (the fake docker's), for ECR's DescribeImages. */
  registryDigest?: (repositoryUri: string, tag: string) => string | undefined;
}

export function awsWorld(options: AwsWorldOptions = {}) {
  const images = new Map<string, WorldImage>();
  const deregistered = new Set<string>();
  /** Every snapshot, with the accounts that may create volumes from it. */
  const snapshots = new Map<string, Set<string>>();
  const parameters = new Map<string, WorldParameter>();
  const repositories = new Map<string, { immutable: boolean; scanOnPush: boolean }>();
  /** Regions where images registered on sight stay `pending`. */
  const pending = new Set<string>();
  const calls: AwsCall[] = [];
  /**
   * What is planned for a call, by `${region}/${action}`, `*\/${action}`, or with the service
   * (`*\/ecr:DescribeImages`): an error it raises, or a change in AWS just before it is done.
   */
  const failures = new Map<string, Error | ((input: Record<string, unknown>) => void)>();
  const key = (region: string, id: string) => `${region}/${id}`;

  /** Registers the AMI `id` in `region` (this account's, available, two snapshots) with `image`'s fields. */
  function register(region: string, id: string, image: Partial<WorldImage> = {}): WorldImage {
    const snap = (n: number) =>
      `snap-${createHash('sha256').update(`${region}/${id}/${n}`).digest('hex').slice(0, 17)}`;
    const made: WorldImage = {
      name: DEFAULT_AMI_NAME,
      owner: OWNER,
      state: pending.has(region) ? 'pending' : 'available',
      created: '2026-01-01T00:00:00.000Z',
      snapshots: [snap(0), snap(1)],
      tags: new Map(),
      launch: new Set(),
      ...image,
    };
    images.set(key(region, id), made);
    for (const s of made.snapshots) if (!snapshots.has(key(region, s))) snapshots.set(key(region, s), new Set());
    return made;
  }
  const find = (region: string, id: string): WorldImage | undefined =>
    images.get(key(region, id)) ??
    (options.registerOnSight && !deregistered.has(key(region, id)) ? register(region, id) : undefined);
  const existing = (region: string, id = ''): WorldImage => {
    const found = find(region, id);
    if (!found) throw new AwsWorldError('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
    return found;
  };
  const volume = (region: string, id = ''): Set<string> => {
    const found = snapshots.get(key(region, id));
    if (!found) throw new AwsWorldError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return found;
  };
  const inRegion = <T>(map: Map<string, T>, region: string) =>
    [...map].filter(([k]) => k.startsWith(`${region}/`)).map(([k, v]) => [k.slice(region.length + 1), v] as const);
  const matches = (i: WorldImage, filter: Ec2.Filter) => {
    const values = filter.Values ?? [];
    if (filter.Name === 'name') return values.includes(i.name);
    if (filter.Name === 'state') return values.includes(i.state);
    if (filter.Name?.startsWith('tag:')) return values.includes(i.tags.get(filter.Name.slice(4)) ?? '\0');
    throw new AwsWorldError('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
  };
  const described = ([id, i]: readonly [string, WorldImage]): Ec2.Image => ({
    ImageId: id,
    Name: i.name,
    State: i.state as Ec2.ImageState,
    OwnerId: i.owner,
    CreationDate: i.created,
    DeprecationTime: i.deprecation,
    BlockDeviceMappings: i.snapshots.map((SnapshotId, n) => ({
      DeviceName: n ? '/dev/xvdb' : '/dev/xvda',
      Ebs: { SnapshotId },
    })),
    Tags: [...i.tags].map(([Key, Value]) => ({ Key, Value })),
  });
  const setParameter = (region: string, name: string, value: string, dataType = 'text') => {
    const version = (parameters.get(key(region, name))?.version ?? 0) + 1;
    parameters.set(key(region, name), { value, dataType, version, modified: new Date(), user: CALLER_ARN });
    return version;
  };
  const repositoryUri = (region: string, registryId: string | undefined, name: string) =>
    `${registryId ?? OWNER}.dkr.ecr.${region}.amazonaws.com/${name}`;

  const ec2 = {
    DescribeImages(region: string, input: Ec2.DescribeImagesCommandInput): Answer<Ec2.DescribeImagesCommandOutput> {
      const listed = input.ImageIds?.length
        ? input.ImageIds.flatMap((id) => {
            const i = find(region, id);
            return i ? [[id, i] as const] : [];
          })
        : inRegion(images, region);
      const owners = (input.Owners ?? []).map((o) => (o === 'self' ? OWNER : o));
      return {
        Images: listed
          .filter(([, i]) => !owners.length || owners.includes(i.owner))
          .filter(([, i]) => (input.Filters ?? []).every((f) => matches(i, f)))
          .map(described),
      };
    },
    DescribeImageAttribute(
      region: string,
      input: Ec2.DescribeImageAttributeCommandInput,
    ): Answer<Ec2.DescribeImageAttributeCommandOutput> {
      return { ImageId: input.ImageId, LaunchPermissions: [...existing(region, input.ImageId).launch].map(permission) };
    },
    ModifyImageAttribute(region: string, input: Ec2.ModifyImageAttributeCommandInput) {
      change(existing(region, input.ImageId).launch, input.LaunchPermission);
      return {};
    },
    DescribeSnapshotAttribute(
      region: string,
      input: Ec2.DescribeSnapshotAttributeCommandInput,
    ): Answer<Ec2.DescribeSnapshotAttributeCommandOutput> {
      const users = [...volume(region, input.SnapshotId)];
      return { SnapshotId: input.SnapshotId, CreateVolumePermissions: users.map((UserId) => ({ UserId })) };
    },
    ModifySnapshotAttribute(region: string, input: Ec2.ModifySnapshotAttributeCommandInput) {
      change(volume(region, input.SnapshotId), input.CreateVolumePermission);
      return {};
    },
    CreateTags(region: string, input: Ec2.CreateTagsCommandInput) {
      for (const r of input.Resources ?? [])
        if (r.startsWith('ami-')) for (const t of input.Tags ?? []) existing(region, r).tags.set(t.Key!, t.Value ?? '');
      return {};
    },
    EnableImageDeprecation(
      region: string,
      input: Ec2.EnableImageDeprecationCommandInput,
    ): Answer<Ec2.EnableImageDeprecationCommandOutput> {
      // The loopback endpoint hands the date over as the query's text.
      existing(region, input.ImageId).deprecation = new Date(input.DeprecateAt!).toISOString();
      return { Return: true };
    },
    DeregisterImage(region: string, input: Ec2.DeregisterImageCommandInput) {
      existing(region, input.ImageId);
      images.delete(key(region, input.ImageId!));
      deregistered.add(key(region, input.ImageId!));
      return {};
    },
    DeleteSnapshot(region: string, input: Ec2.DeleteSnapshotCommandInput) {
      volume(region, input.SnapshotId);
      const user = inRegion(images, region).find(([, i]) => i.snapshots.includes(input.SnapshotId!));
      if (user)
        throw new AwsWorldError(
          'InvalidSnapshot.InUse',
          `The snapshot ${input.SnapshotId} is currently in use by ${user[0]}`,
        );
      snapshots.delete(key(region, input.SnapshotId!));
      return {};
    },
  };

  const ssm = {
    GetParameters(region: string, input: Ssm.GetParametersCommandInput): Answer<Ssm.GetParametersCommandOutput> {
      const names = input.Names ?? [];
      const found = names.filter((n) => parameters.has(key(region, n)));
      return {
        Parameters: found.map((Name) => {
          const p = parameters.get(key(region, Name))!;
          return { Name, Value: p.value, Type: 'String', DataType: p.dataType, Version: p.version };
        }),
        InvalidParameters: names.filter((n) => !found.includes(n)),
      };
    },
    GetParametersByPath(
      region: string,
      input: Ssm.GetParametersByPathCommandInput,
    ): Answer<Ssm.GetParametersByPathCommandOutput> {
      const under = `${input.Path?.replace(/\/$/, '')}/`;
      return {
        Parameters: inRegion(parameters, region)
          .filter(([name]) => name.startsWith(under))
          .map(([Name, p]) => ({ Name, Value: p.value, Type: 'String', DataType: p.dataType, Version: p.version })),
      };
    },
    DescribeParameters(
      region: string,
      input: Ssm.DescribeParametersCommandInput,
    ): Answer<Ssm.DescribeParametersCommandOutput> {
      const names = (input.ParameterFilters ?? []).filter((f) => f.Key === 'Name').flatMap((f) => f.Values ?? []);
      return {
        Parameters: names.flatMap((Name) => {
          const p = parameters.get(key(region, Name));
          return p ? [{ Name, Version: p.version, LastModifiedDate: p.modified, LastModifiedUser: p.user }] : [];
        }),
      };
    },
    PutParameter(region: string, input: Ssm.PutParameterCommandInput): Answer<Ssm.PutParameterCommandOutput> {
      const name = input.Name ?? '';
      const old = parameters.get(key(region, name));
      if (old && !input.Overwrite)
        throw new AwsWorldError(
          'ParameterAlreadyExists',
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
        );
      // aws:ec2:image is validated after the answer: an AMI this world does not hold means no write.
      if (input.DataType === 'aws:ec2:image' && !images.has(key(region, input.Value ?? '')))
        return { Version: old?.version ?? 0 };
      return { Version: setParameter(region, name, input.Value ?? '', input.DataType ?? 'text') };
    },
    DeleteParameters(
      region: string,
      input: Ssm.DeleteParametersCommandInput,
    ): Answer<Ssm.DeleteParametersCommandOutput> {
      const names = input.Names ?? [];
      const deleted = names.filter((n) => parameters.delete(key(region, n)));
      return { DeletedParameters: deleted, InvalidParameters: names.filter((n) => !deleted.includes(n)) };
    },
  };

  const ecr = {
    DescribeRepositories(
      region: string,
      input: Ecr.DescribeRepositoriesCommandInput,
    ): Answer<Ecr.DescribeRepositoriesCommandOutput> {
      return {
        repositories: (input.repositoryNames ?? []).map((name) => {
          const repo = repositories.get(key(region, name));
          if (!repo)
            throw new AwsWorldError('RepositoryNotFoundException', `The repository with name '${name}' does not exist`);
          return {
            repositoryName: name,
            repositoryUri: repositoryUri(region, input.registryId, name),
            imageTagMutability: repo.immutable ? 'IMMUTABLE' : 'MUTABLE',
          };
        }),
      };
    },
    CreateRepository(
      region: string,
      input: Ecr.CreateRepositoryCommandInput,
    ): Answer<Ecr.CreateRepositoryCommandOutput> {
      repositories.set(key(region, input.repositoryName ?? ''), {
        immutable: input.imageTagMutability === 'IMMUTABLE',
        scanOnPush: Boolean(input.imageScanningConfiguration?.scanOnPush),
      });
      return { repository: { repositoryName: input.repositoryName } };
    },
    GetAuthorizationToken(region: string): Answer<Ecr.GetAuthorizationTokenCommandOutput> {
      return {
        authorizationData: [
          { authorizationToken: AUTH_TOKEN, proxyEndpoint: `https://${OWNER}.dkr.ecr.${region}.amazonaws.com` },
        ],
      };
    },
    DescribeImages(region: string, input: Ecr.DescribeImagesCommandInput): Answer<Ecr.DescribeImagesCommandOutput> {
      const tag = input.imageIds?.[0]?.imageTag ?? '';
      const uri = repositoryUri(region, input.registryId, input.repositoryName ?? '');
      const digest = options.registryDigest?.(uri, tag);
      if (!digest)
        throw new AwsWorldError('ImageNotFoundException', `The image with imageId {imageTag:'${tag}'} does not exist`);
      return { imageDetails: [{ imageDigest: digest, imageTags: [tag] }] };
    },
  };

  const sts = {
    GetCallerIdentity(): Answer<Sts.GetCallerIdentityCommandOutput> {
      return { Account: OWNER, Arn: CALLER_ARN, UserId: 'AIDAEXAMPLEBUILDER' };
    },
  };

  /** The operations bro makes, by service and API name. */
  const operations: Record<Service, Record<string, (region: string, input: never) => object>> = {
    ec2,
    ssm,
    ecr,
    sts,
  };

  return {
    images,
    snapshots,
    parameters,
    repositories,
    pending,
    calls,
    failures,
    operations: { ec2, ssm, ecr, sts },
    /** Runs `action` as AWS would: recorded, then what is planned for it, then done. */
    call(service: Service, action: string, region: string, input: Record<string, unknown>): object {
      calls.push({ region, service, action, input });
      const failure = [`${region}/${service}:${action}`, `${region}/${action}`, `*/${service}:${action}`, `*/${action}`]
        .map((k) => failures.get(k))
        .find(Boolean);
      if (failure instanceof Error) throw failure;
      failure?.(input);
      const operation = operations[service][action];
      if (!operation) throw new AwsWorldError('InvalidAction', `${service} ${action} is not in this world`);
      return operation(region, input as never);
    },
    /** Calls that change something in AWS. */
    modifying: () => calls.filter((c) => modifies(c.action)),
    register,
    /** The image; in a build world, one never seen is registered now. */
    image: (region: string, id: string): WorldImage => {
      const found = find(region, id);
      if (!found) throw new Error(`no image ${id} in ${region} in this world`);
      return found;
    },
    hasImage: (region: string, id: string) => images.has(key(region, id)),
    hasSnapshot: (region: string, id: string) => snapshots.has(key(region, id)),
    volumePermissions: (region: string, snapshot: string) => [...(snapshots.get(key(region, snapshot)) ?? [])],
    parameter: (region: string, name: string) => parameters.get(key(region, name))?.value,
    setParameter,
  };
}

export type AwsWorld = ReturnType<typeof awsWorld>;
