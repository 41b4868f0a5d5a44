import type { Image } from '@aws-sdk/client-ec2';
import type { Ec2 } from '../../adapters/aws.js';
import { StepError } from '../../shared/errors.js';
import type { RegionShare } from '../step.js';
import {
  accountsOnly,
  identityProblems,
  launchPermission,
  snapshotsOf,
  update,
  volumePermission,
  type Grants,
} from './share.js';

/**
 * `bro share --revoke`, region by region: which AMI is this build's (the
 * state's record of it, or EC2's answer to its name and owner), whether its
 * `bro:*` tags prove it, and then what EC2 holds before and after the change.
 * Nothing here reports what it did not read from EC2.
 */

/** What revoke found in one region before it changes anything. */
export type RevokeTarget =
  /** This build's AMI: remove `accounts`. */
  | { kind: 'ours'; image: Image; accounts: readonly string[]; grants?: Grants }
  /** An AMI under this build's name that is not this build's: left alone. */
  | { kind: 'foreign'; imageId: string; problems: string[]; sharedWith: string[] }
  /** EC2 shows no AMI of that name owned by these credentials. */
  | { kind: 'none'; name: string };

export interface RevokeRequest {
  /** The AMI the state records for the region (ami-register), if any. */
  imageId?: string;
  name: string;
  /** What proves an AMI is this build's: its `bro:*` tags as share wrote them. */
  tags: Record<string, string>;
  grants?: Grants;
  /** --accounts; else the principals bro granted; else share-with and the organizations and OUs. */
  accounts: readonly string[];
}

/** The EC2 filter that finds this build's AMI without a record of its ID: its name, owned by these credentials. */
export const byName = (name: string) => ({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] });

/**
 * Finds the region's AMI and decides, reading only, whether revoke may change it.
 * An AMI bro recorded granting on whose tags no longer match is refused (an error: a human
 * should look); an AMI that is not this build's otherwise is "foreign", left alone.
 */
export async function findForRevoke(ec2: Ec2, request: RevokeRequest): Promise<RevokeTarget> {
  const { imageId, name, tags, grants } = request;
  const image = imageId
    ? (await ec2.describeImages({ ImageIds: [imageId] })).Images?.[0]
    : (await ec2.describeImages(byName(name))).Images?.[0];
  if (!image?.ImageId) {
    if (imageId) throw new StepError('share', `${imageId} does not exist (or is not visible to these credentials)`);
    return { kind: 'none', name };
  }
  const granted = grants?.imageId === image.ImageId;
  // The tags bro put on this AMI when it granted, else this build's. An AMI found by its name only,
  // or one bro tagged when it granted, must carry them.
  const expected = granted && Object.keys(grants.tags).length ? grants.tags : tags;
  const problems = identityProblems(image, { name, tags: expected }, granted || !imageId);
  if (problems.length && granted) {
    throw new StepError(
      'share',
      `${image.ImageId} is not this build's AMI, so bro leaves its permissions alone: ${problems.join(', ')}`,
      {
        hint: "bro revokes only what it shared for this variant and version. Check the version (and the workspace: --work-dir), or change that AMI's permissions by hand.",
      },
    );
  }
  if (problems.length) {
    const sharedWith = [...(await launchPermission(ec2, image.ImageId).read())].sort();
    return { kind: 'foreign', imageId: image.ImageId, problems, sharedWith };
  }
  return { kind: 'ours', image, accounts: request.accounts, grants: granted ? grants : undefined };
}

/**
 * Removes launch permissions for `accounts` (accounts, organizations, OUs) and volume permissions
 * for the account IDs among them (ones EC2 does not show are left alone); returns what EC2 shows after.
 */
export async function revokeImage(ec2: Ec2, image: Image, accounts: readonly string[]): Promise<RegionShare> {
  const imageId = image.ImageId as string;
  const snapshotIds = snapshotsOf(image);
  const launch = launchPermission(ec2, imageId);
  const changes = (
    await Promise.all([
      ...snapshotIds.map((id) => update(volumePermission(ec2, id), 'Remove', accountsOnly(accounts))),
      update(launch, 'Remove', accounts),
    ])
  ).flat();
  return { imageId, snapshotIds, accounts: [...(await launch.read())].sort(), changes };
}

/** A region's revoke: what changed, or why nothing did. */
export type RevokeOutcome = RegionShare & { leftAlone?: string };

export function leftAlone(target: Exclude<RevokeTarget, { kind: 'ours' }>): RevokeOutcome {
  if (target.kind === 'none')
    return {
      imageId: '(no AMI)',
      snapshotIds: [],
      accounts: [],
      changes: [],
      leftAlone: `EC2 shows no AMI named ${target.name} owned by this account`,
    };
  const still = target.sharedWith.length ? `; it grants ${target.sharedWith.join(', ')}` : '';
  return {
    imageId: target.imageId,
    snapshotIds: [],
    accounts: target.sharedWith,
    changes: [],
    leftAlone: `not ours, left alone (${target.problems.join(', ')})${still}`,
  };
}

export const describeRevoke = (s: RevokeOutcome) =>
  `${s.imageId} ${s.leftAlone ?? (s.changes.length ? s.changes.join(', ') : 'nothing to remove (EC2 shows none of the accounts)')}`;
