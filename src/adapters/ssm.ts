import type {
  DeleteParametersCommandOutput,
  DescribeParametersCommandOutput,
  GetParametersByPathCommandOutput,
  GetParametersCommandOutput,
  PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';

/**
 * SSM Parameter Store behind a narrow interface holding only the calls bro
 * makes (the version parameters, the channels, pruning). Created by the AWS
 * factory (aws.ts), one real SDK v3 client per region on first use, with the
 * same credentials, retries and endpoint rules as EC2 (AWS_ENDPOINT_URL_SSM
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

export function createSsm(
  config: (region: string) => object,
  sendOptions: () => { abortSignal?: AbortSignal },
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
  return (region) => ({
    getParameters: async (names) =>
      (await client(region)).send(new (await sdk()).GetParametersCommand({ Names: [...names] }), sendOptions()),
    getParametersByPath: async (path, NextToken) =>
      (await client(region)).send(
        new (await sdk()).GetParametersByPathCommand({ Path: path, Recursive: true, NextToken }),
        sendOptions(),
      ),
    describeParameters: async (names) =>
      (await client(region)).send(
        new (await sdk()).DescribeParametersCommand({
          ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [...names] }],
        }),
        sendOptions(),
      ),
    putParameter: async (input) =>
      (await client(region)).send(new (await sdk()).PutParameterCommand(input), sendOptions()),
    deleteParameters: async (names) =>
      (await client(region)).send(new (await sdk()).DeleteParametersCommand({ Names: [...names] }), sendOptions()),
  });
}
