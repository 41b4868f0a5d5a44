import { createHash } from 'node:crypto';
import { FIXTURE_REGISTRY_ACCOUNT } from './git-fixtures.js';

/**
 * AWS as the release commands see it, in memory: EC2 images (owner, state,
 * tags, snapshots, launch permissions, deprecation), their snapshots, and SSM
 * parameters, per region. mock-release.ts serves it to bro in this process
 * (aws-sdk-client-mock), release-endpoint.ts to a bro child (loopback HTTP),
 * so both behave alike. Semantics follow the APIs: PutParameter without
 * Overwrite refuses an existing name (ParameterAlreadyExists); an
 * `aws:ec2:image` value whose AMI is not there is accepted and then dropped
 * (SSM validates it after answering); DeleteSnapshot refuses a snapshot an
 * image still uses (InvalidSnapshot.InUse); a deregistered image disappears
 * from DescribeImages.
 */
export const OWNER = FIXTURE_REGISTRY_ACCOUNT;

export interface ModelImage {
  id: string;
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

export interface ModelParameter {
  value: string;
  dataType: string;
  version: number;
  modified: Date;
  user: string;
}

export interface ModelCall {
  region: string;
  service: 'ec2' | 'ssm';
  action: string;
  input: Record<string, unknown>;
}

const MODIFYING = new Set([
  'PutParameter',
  'DeleteParameters',
  'DeregisterImage',
  'DeleteSnapshot',
  'EnableImageDeprecation',
  'CreateTags',
  'ModifyImageAttribute',
]);

export class AwsModelError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** `amiExists`: what SSM's aws:ec2:image validation sees (default: the model's images; a build world keeps its AMIs elsewhere). */
export function releaseModel(options: { amiExists?: (region: string, id: string) => boolean } = {}) {
  const images = new Map<string, ModelImage>();
  const snapshots = new Set<string>();
  const parameters = new Map<string, ModelParameter>();
  const calls: ModelCall[] = [];
  /** `${region}/${action}` or `*\/${action}` → the error that call raises. */
  const failures = new Map<string, Error>();
  const key = (region: string, id: string) => `${region}/${id}`;

  const model = {
    images,
    parameters,
    calls,
    failures,
    modifying: () => calls.filter((c) => MODIFYING.has(c.action)),
    /** Records the call, raises its planned failure. */
    called(region: string, service: 'ec2' | 'ssm', action: string, input: Record<string, unknown>) {
      calls.push({ region, service, action, input });
      const failure = failures.get(`${region}/${action}`) ?? failures.get(`*/${action}`);
      if (failure) throw failure;
    },
    /** An AMI bro built: this account's, tagged for `version`, shared with `launch`. */
    addImage(region: string, id: string, version: string, options: Partial<ModelImage> = {}): ModelImage {
      const snap = (n: number) =>
        `snap-${createHash('sha256').update(`${region}/${id}/${n}`).digest('hex').slice(0, 17)}`;
      const image: ModelImage = {
        id,
        name: `bottlerocket-aws-k8s-1.18-x86_64-v${version.replace('-', '-')}`,
        owner: OWNER,
        state: 'available',
        created: '2026-01-01T00:00:00.000Z',
        snapshots: [snap(0), snap(1)],
        tags: new Map([
          ['bro:variant', 'aws-k8s-1.18'],
          ['bro:version', version],
          ['bro:patch-series', 'sha256:abc'],
        ]),
        launch: new Set(),
        ...options,
      };
      images.set(key(region, id), image);
      for (const s of image.snapshots) snapshots.add(key(region, s));
      return image;
    },
    image: (region: string, id: string) => images.get(key(region, id)),
    hasSnapshot: (region: string, id: string) => snapshots.has(key(region, id)),
    parameter: (region: string, name: string) => parameters.get(key(region, name))?.value,
    setParameter(region: string, name: string, value: string, dataType = 'text') {
      const old = parameters.get(key(region, name));
      parameters.set(key(region, name), {
        value,
        dataType,
        version: (old?.version ?? 0) + 1,
        modified: new Date(),
        user: `arn:aws:iam::${OWNER}:user/builder`,
      });
    },

    // EC2
    describeImages(region: string, ids: string[]): ModelImage[] {
      return ids.flatMap((id) => {
        const image = images.get(key(region, id));
        return image ? [image] : [];
      });
    },
    enableImageDeprecation(region: string, id: string, at: Date) {
      const image = images.get(key(region, id));
      if (!image) throw new AwsModelError('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
      image.deprecation = at.toISOString();
    },
    createTags(region: string, resources: string[], tags: { Key: string; Value: string }[]) {
      for (const r of resources) for (const t of tags) images.get(key(region, r))?.tags.set(t.Key, t.Value);
    },
    deregisterImage(region: string, id: string) {
      if (!images.delete(key(region, id)))
        throw new AwsModelError('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
    },
    deleteSnapshot(region: string, id: string) {
      if (!snapshots.has(key(region, id)))
        throw new AwsModelError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      const user = [...images.entries()].find(([k, i]) => k.startsWith(`${region}/`) && i.snapshots.includes(id));
      if (user)
        throw new AwsModelError('InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${user[1].id}`);
      snapshots.delete(key(region, id));
    },

    // SSM
    getParameters(region: string, names: string[]) {
      const found = names.filter((n) => parameters.has(key(region, n)));
      return {
        Parameters: found.map((n) => ({ Name: n, Value: parameters.get(key(region, n))!.value, Type: 'String' })),
        InvalidParameters: names.filter((n) => !found.includes(n)),
      };
    },
    getParametersByPath(region: string, path: string) {
      return {
        Parameters: [...parameters.entries()]
          .filter(([k]) => k.startsWith(`${region}/${path}/`))
          .map(([k, p]) => ({ Name: k.slice(region.length + 1), Value: p.value, Type: 'String' })),
      };
    },
    describeParameters(region: string, names: string[]) {
      return names.flatMap((n) => {
        const p = parameters.get(key(region, n));
        return p ? [{ Name: n, Version: p.version, LastModifiedDate: p.modified, LastModifiedUser: p.user }] : [];
      });
    },
    putParameter(region: string, input: { Name: string; Value: string; DataType?: string; Overwrite?: boolean }) {
      const old = parameters.get(key(region, input.Name));
      if (old && !input.Overwrite)
        throw new AwsModelError(
          'ParameterAlreadyExists',
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
        );
      // aws:ec2:image: validated after the answer; an AMI that is not there means no write.
      const exists = options.amiExists ?? ((r: string, id: string) => images.has(key(r, id)));
      if (input.DataType === 'aws:ec2:image' && !exists(region, input.Value)) return { Version: old?.version ?? 0 };
      model.setParameter(region, input.Name, input.Value, input.DataType ?? 'text');
      return { Version: parameters.get(key(region, input.Name))!.version };
    },
    deleteParameters(region: string, names: string[]) {
      const deleted = names.filter((n) => parameters.delete(key(region, n)));
      return { DeletedParameters: deleted, InvalidParameters: names.filter((n) => !deleted.includes(n)) };
    },
  };
  return model;
}

export type ReleaseModel = ReturnType<typeof releaseModel>;
