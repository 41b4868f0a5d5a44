import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  EC2Client,
  EnableImageDeprecationCommand,
} from '@aws-sdk/client-ec2';
import {
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { OWNER, releaseModel, type ModelImage, type ReleaseModel } from './release-model.js';

/**
 * The release model (release-model.ts) behind aws-sdk-client-mock: every SSM
 * client bro creates, and with `ec2` the EC2 and STS clients too (a build
 * world mocks EC2 itself; promote and prune tests use this one).
 */
type Input = Record<string, unknown>;
type Stub = {
  on(command: unknown): {
    callsFake(fn: (input: Input, getClient: () => { config: { region: unknown } }) => unknown): unknown;
  };
};

const regionOf = async (getClient: () => { config: { region: unknown } }) => {
  const region = getClient().config.region;
  return typeof region === 'function' ? String(await region()) : String(region);
};

function serve(
  stub: Stub,
  model: ReleaseModel,
  service: 'ec2' | 'ssm',
  command: unknown,
  action: string,
  fn: (region: string, input: Input) => unknown,
) {
  stub.on(command).callsFake(async (input, getClient) => {
    const region = await regionOf(getClient);
    model.called(region, service, action, input);
    return fn(region, input);
  });
}

export const imageShape = (i: ModelImage) => ({
  ImageId: i.id,
  Name: i.name,
  OwnerId: i.owner,
  State: i.state,
  CreationDate: i.created,
  DeprecationTime: i.deprecation,
  BlockDeviceMappings: i.snapshots.map((SnapshotId, n) => ({
    DeviceName: n ? '/dev/xvdb' : '/dev/xvda',
    Ebs: { SnapshotId },
  })),
  Tags: [...i.tags].map(([Key, Value]) => ({ Key, Value })),
});

export const launchShape = (i: ModelImage) =>
  [...i.launch].map((id) =>
    /^\d{12}$/.test(id)
      ? { UserId: id }
      : id.includes(':ou/')
        ? { OrganizationalUnitArn: id }
        : { OrganizationArn: id },
  );

export function mockRelease(options: { ec2?: boolean; model?: ReleaseModel } = {}) {
  const model = options.model ?? releaseModel();
  const ssm = mockClient(SSMClient) as unknown as Stub & { restore(): void };
  serve(ssm, model, 'ssm', GetParametersCommand, 'GetParameters', (r, i) =>
    model.getParameters(r, i.Names as string[]),
  );
  serve(ssm, model, 'ssm', GetParametersByPathCommand, 'GetParametersByPath', (r, i) =>
    model.getParametersByPath(r, i.Path as string),
  );
  serve(ssm, model, 'ssm', DescribeParametersCommand, 'DescribeParameters', (r, i) => ({
    Parameters: model.describeParameters(r, (i.ParameterFilters as { Values: string[] }[])[0]!.Values),
  }));
  serve(ssm, model, 'ssm', PutParameterCommand, 'PutParameter', (r, i) => model.putParameter(r, i as never));
  serve(ssm, model, 'ssm', DeleteParametersCommand, 'DeleteParameters', (r, i) =>
    model.deleteParameters(r, i.Names as string[]),
  );
  const restores = [() => ssm.restore()];
  if (options.ec2) {
    const ec2 = mockClient(EC2Client) as unknown as Stub & { restore(): void };
    const sts = mockClient(STSClient) as unknown as Stub & { restore(): void };
    serve(ec2, model, 'ec2', DescribeImagesCommand, 'DescribeImages', (r, i) => ({
      Images: model.describeImages(r, (i.ImageIds as string[]) ?? []).map(imageShape),
    }));
    serve(ec2, model, 'ec2', DescribeImageAttributeCommand, 'DescribeImageAttribute', (r, i) => {
      const image = model.image(r, i.ImageId as string);
      return { ImageId: i.ImageId, LaunchPermissions: image ? launchShape(image) : [] };
    });
    serve(ec2, model, 'ec2', EnableImageDeprecationCommand, 'EnableImageDeprecation', (r, i) =>
      model.enableImageDeprecation(r, i.ImageId as string, i.DeprecateAt as Date),
    );
    serve(ec2, model, 'ec2', CreateTagsCommand, 'CreateTags', (r, i) =>
      model.createTags(r, i.Resources as string[], i.Tags as { Key: string; Value: string }[]),
    );
    serve(ec2, model, 'ec2', DeregisterImageCommand, 'DeregisterImage', (r, i) =>
      model.deregisterImage(r, i.ImageId as string),
    );
    serve(ec2, model, 'ec2', DeleteSnapshotCommand, 'DeleteSnapshot', (r, i) =>
      model.deleteSnapshot(r, i.SnapshotId as string),
    );
    sts.on(GetCallerIdentityCommand).callsFake(() => ({ Account: OWNER, Arn: `arn:aws:iam::${OWNER}:user/builder` }));
    restores.push(
      () => ec2.restore(),
      () => sts.restore(),
    );
  }
  return { model, restore: () => restores.forEach((r) => r()) };
}
