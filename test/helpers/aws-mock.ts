import * as Ec2Sdk from '@aws-sdk/client-ec2';
import * as EcrSdk from '@aws-sdk/client-ecr';
import * as SsmSdk from '@aws-sdk/client-ssm';
import * as StsSdk from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsWorldError, awsWorld, type AwsWorld, type Service } from './aws-world.js';

/**
 * The simulated AWS world (aws-world.ts) behind aws-sdk-client-mock
 * (cdk-assets' test/mock-aws.ts): every EC2, SSM, ECR and STS client bro
 * creates, in any region, reaches `world.call` for each operation the world
 * has; an error the world answers with becomes the service's own exception.
 */
type Sdk = Record<string, unknown>;
const SERVICES: Record<Service, { sdk: Sdk; client: unknown; exception: unknown }> = {
  ec2: { sdk: Ec2Sdk, client: Ec2Sdk.EC2Client, exception: Ec2Sdk.EC2ServiceException },
  ssm: { sdk: SsmSdk, client: SsmSdk.SSMClient, exception: SsmSdk.SSMServiceException },
  ecr: { sdk: EcrSdk, client: EcrSdk.ECRClient, exception: EcrSdk.ECRServiceException },
  sts: { sdk: StsSdk, client: StsSdk.STSClient, exception: StsSdk.STSServiceException },
};

type GetClient = () => { config: { region: unknown } };
type Stub = {
  onAnyCommand(): { rejects(error: Error): unknown };
  on(command: unknown): { callsFake(fn: (input: Record<string, unknown>, getClient: GetClient) => unknown): unknown };
  restore(): void;
};
type Exception = new (options: { name: string; $fault: 'client'; $metadata: object; message: string }) => Error;

export function mockAws(world: AwsWorld = awsWorld()) {
  const stubs = Object.entries(SERVICES).map(([service, { sdk, client, exception }]) => {
    const stub = mockClient(client as never) as unknown as Stub;
    // A call this world does not model fails, as the endpoint's InvalidAction does: it never passes unseen.
    stub.onAnyCommand().rejects(new Error(`not in the simulated AWS world: a ${service} call it does not model`));
    for (const action of Object.keys(world.operations[service as Service]))
      stub.on(sdk[`${action}Command`]).callsFake(async (input, getClient) => {
        const configured = getClient().config.region;
        const region = typeof configured === 'function' ? String(await configured()) : String(configured);
        try {
          return world.call(service as Service, action, region, input);
        } catch (error) {
          if (!(error instanceof AwsWorldError)) throw error;
          const Thrown = exception as Exception;
          throw new Thrown({
            name: error.code,
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
            message: error.message,
          });
        }
      });
    return stub;
  });
  return { world, restore: () => stubs.forEach((s) => s.restore()) };
}
