import type {
  DeleteParametersCommandOutput,
  DescribeParametersCommandOutput,
  GetParametersByPathCommandOutput,
  GetParametersCommandOutput,
  PutParameterCommandInput,
  SSMClient,
  SSMClientConfig,
} from '@aws-sdk/client-ssm';
import type * as SsmSdk from '@aws-sdk/client-ssm';

/**
 * SSM Parameter Store behind a narrow interface holding only the calls bro
 * makes (the version parameters, the channels, pruning). Created by the AWS
 * factory (aws.ts), one real SDK v3 client per region on first use, with the
 * same credentials, adaptive retries, per-region request limit and endpoint rules as EC2 (AWS_ENDPOINT_URL_SSM
 * for an emulator). Tests stub SSMClient with aws-sdk-client-mock.
 */
export interface Ssm {
  /** At most 10 names per call (the API's limit); unknown names come back in InvalidParameters. */
  getParameters(names: readonly string[]): Promise<GetParametersCommandOutput>;
  /** Every parameter under `path`, recursively, one page. */
  getParametersByPath(path: string, nextToken?: string): Promise<GetParametersByPathCommandOutput>;
  /** Who last changed the parameters: only asked when one is in the way. */
  describeParameters(names: readonly string[]): Promise<DescribeParametersCommandOutput>;
  putParameter(input: PutParameterCommandInput): Promise<unknown>;
  deleteParameters(names: readonly string[]): Promise<DeleteParametersCommandOutput>;
}

export type SsmFactory = (region: string) => Ssm;

/**
 * `config` gives a region's client configuration (the same adaptive retries as
 * EC2 and ECR); `inRegion` queues a request behind the others of SSM in that
 * region, as aws.ts does for EC2 and ECR.
 */
export function createSsm(
  config: (region: string) => SSMClientConfig,
  sendOptions: () => { abortSignal?: AbortSignal },
  inRegion: <T>(region: string, work: () => Promise<T>) => Promise<T>,
): SsmFactory {
  const clients = new Map<string, Promise<SSMClient>>();
  const sdk = () => import('@aws-sdk/client-ssm');
  const client = (region: string) => {
    let found = clients.get(region);
    if (!found) {
      found = sdk().then(({ SSMClient }) => new SSMClient(config(region)));
      clients.set(region, found);
    }
    return found;
  };
  return (region) => {
    const send = <T>(work: (client: SSMClient, s: typeof SsmSdk) => Promise<T>) =>
      inRegion(region, async () => work(await client(region), await sdk()));
    return {
      getParameters: (names) =>
        send((c, s) => c.send(new s.GetParametersCommand({ Names: [...names] }), sendOptions())),
      getParametersByPath: (Path, NextToken) =>
        send((c, s) => c.send(new s.GetParametersByPathCommand({ Path, Recursive: true, NextToken }), sendOptions())),
      describeParameters: (names) =>
        send((c, s) =>
          c.send(
            new s.DescribeParametersCommand({
              ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [...names] }],
            }),
            sendOptions(),
          ),
        ),
      putParameter: (input) => send((c, s) => c.send(new s.PutParameterCommand(input), sendOptions())),
      deleteParameters: (names) =>
        send((c, s) => c.send(new s.DeleteParametersCommand({ Names: [...names] }), sendOptions())),
    };
  };
}
