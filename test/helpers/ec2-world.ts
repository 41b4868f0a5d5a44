import { createHash } from 'node:crypto';

/**
 * The one simulated EC2 world: the AMIs `cargo make ami` registered, their
 * snapshots, launch and volume permissions, names and tags, and the EC2
 * operations bro calls over them, with the SDK's own input and output shapes.
 * Two fronts serve it: aws-sdk-client-mock in this process (mock-aws.ts) and
 * a loopback endpoint for a bro started as its own process (ec2-endpoint.ts).
 */

/** The name cargo make ami gives the AMIs of the build worlds (bottlerocket-<variant>-<arch>-v<version>). */
export const DEFAULT_AMI_NAME = 'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1';

export interface FakeImage {
  name: string;
  state: string;
  /** `self`: the caller's own; any other owner's AMI is not listed by `Owners: ['self']`. */
  owner: string;
  snapshots: string[];
  launch: Set<string>;
  tags: Map<string, string>;
}

type UserIds = { UserId?: string }[] | undefined;
type PermissionChange = { Add?: UserIds; Remove?: UserIds } | undefined;
type Filter = { Name?: string; Values?: string[] };

export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export function ec2World() {
  const images = new Map<string, FakeImage>();
  const volume = new Map<string, Set<string>>();
  /** Regions where copies stay `pending`. */
  const pending = new Set<string>();

  /** The AMI `id` in `region`; one not seen yet is one `cargo make ami` registered: a root and a data volume. */
  const image = (region: string, id: string): FakeImage => {
    const key = `${region}/${id}`;
    let found = images.get(key);
    if (!found) {
      const snap = (n: number) => `snap-${createHash('sha256').update(`${key}/${n}`).digest('hex').slice(0, 17)}`;
      found = {
        name: DEFAULT_AMI_NAME,
        state: pending.has(region) ? 'pending' : 'available',
        owner: 'self',
        snapshots: [snap(0), snap(1)],
        launch: new Set(),
        tags: new Map(),
      };
      images.set(key, found);
      for (const s of found.snapshots) volume.set(`${region}/${s}`, new Set());
    }
    return found;
  };
  const users = (list: UserIds) => (list ?? []).map((p) => p.UserId as string);
  const change = (set: Set<string>, permission: PermissionChange) => {
    for (const u of users(permission?.Add)) set.add(u);
    for (const u of users(permission?.Remove)) set.delete(u);
  };
  const matches = (i: FakeImage, filter: Filter) => {
    const values = filter.Values ?? [];
    if (filter.Name === 'name') return values.includes(i.name);
    if (filter.Name === 'state') return values.includes(i.state);
    if (filter.Name?.startsWith('tag:')) return values.includes(i.tags.get(filter.Name.slice(4)) ?? '\0');
    throw new Ec2Error('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
  };
  const described = (id: string, i: FakeImage) => ({
    ImageId: id,
    Name: i.name,
    State: i.state,
    OwnerId: i.owner,
    BlockDeviceMappings: i.snapshots.map((SnapshotId, n) => ({
      DeviceName: n ? '/dev/xvdb' : '/dev/xvda',
      Ebs: { SnapshotId },
    })),
    Tags: [...i.tags].map(([Key, Value]) => ({ Key, Value })),
  });

  /** The EC2 operations bro makes, by their API names. */
  const operations = {
    DescribeImages(region: string, input: { ImageIds?: string[]; Owners?: string[]; Filters?: Filter[] }) {
      if (input.ImageIds?.length) return { Images: input.ImageIds.map((id) => described(id, image(region, id))) };
      const found = [...images]
        .filter(([key]) => key.startsWith(`${region}/`))
        .map(([key, i]) => [key.slice(region.length + 1), i] as const)
        .filter(([, i]) => !input.Owners?.length || input.Owners.includes(i.owner))
        .filter(([, i]) => (input.Filters ?? []).every((f) => matches(i, f)));
      return { Images: found.map(([id, i]) => described(id, i)) };
    },
    DescribeImageAttribute(region: string, input: { ImageId?: string }) {
      const id = input.ImageId ?? '';
      return { ImageId: id, LaunchPermissions: [...image(region, id).launch].map((UserId) => ({ UserId })) };
    },
    ModifyImageAttribute(region: string, input: { ImageId?: string; LaunchPermission?: PermissionChange }) {
      change(image(region, input.ImageId ?? '').launch, input.LaunchPermission);
      return {};
    },
    DescribeSnapshotAttribute(region: string, input: { SnapshotId?: string }) {
      return {
        SnapshotId: input.SnapshotId,
        CreateVolumePermissions: [...(volume.get(`${region}/${input.SnapshotId}`) ?? [])].map((UserId) => ({
          UserId,
        })),
      };
    },
    ModifySnapshotAttribute(region: string, input: { SnapshotId?: string; CreateVolumePermission?: PermissionChange }) {
      const set = volume.get(`${region}/${input.SnapshotId}`);
      if (!set) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`);
      change(set, input.CreateVolumePermission);
      return {};
    },
    CreateTags(region: string, input: { Resources?: string[]; Tags?: { Key?: string; Value?: string }[] }) {
      for (const r of input.Resources ?? [])
        if (r.startsWith('ami-')) for (const t of input.Tags ?? []) image(region, r).tags.set(t.Key!, t.Value ?? '');
      return {};
    },
  };

  return {
    pending,
    image,
    volumePermissions: (region: string, snapshot: string) => [...(volume.get(`${region}/${snapshot}`) ?? [])],
    operations,
  };
}

export type Ec2World = ReturnType<typeof ec2World>;
export type Ec2Operation = keyof Ec2World['operations'];
