import type { Ec2 } from '../../adapters/aws.js';
import { deprecationTime, parseDeprecation, type Deprecation } from '../../config/deprecation.js';
import type { Variant } from '../../config/variant.js';
import { StepError } from '../../shared/errors.js';
import type { AwsAction } from '../aws-actions.js';
import { z } from 'zod';
import { defineStep } from '../step.js';
import { runRecorded } from '../state.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { inRegion, requireAws } from './requires.js';
import { describeRegionWork } from './ssm-publish.js';

const STEP = 'ami-deprecate';

/** The tag that carries the deprecation time on each AMI. */
export const DEPRECATE_TAG = 'bro:deprecate-at';

/** The variant's `ami.deprecate-after`, parsed (validateVariant accepted it). */
export function deprecationOf(variant: Variant): Deprecation | undefined {
  const value = variant.ami['deprecate-after'];
  if (value === undefined) return undefined;
  const parsed = parseDeprecation(value);
  return typeof parsed === 'string' ? undefined : parsed;
}

/** The EC2 calls of ami-deprecate in one region, for the plan. */
export function deprecateActions(region: string, first: string, when: string, relative: boolean): AwsAction[] {
  const action = (a: Pick<AwsAction, 'action' | 'target' | 'note'>): AwsAction => ({
    step: STEP,
    by: 'bro',
    region,
    service: 'ec2',
    ...a,
  });
  return [
    ...(region === first && relative
      ? [action({ action: 'DescribeImages', target: 'the AMI', note: 'its registration time' })]
      : []),
    action({ action: 'DescribeImages', target: 'the AMI', note: 'its current deprecation and tags' }),
    action({ action: 'EnableImageDeprecation', target: 'the AMI', note: `at ${when}, unless already set so` }),
    action({ action: 'CreateTags', target: 'the AMI', note: `${DEPRECATE_TAG}, if it differs` }),
  ];
}

const sameMinute = (a: string | undefined, b: Date) =>
  a !== undefined && Math.round(new Date(a).getTime() / 60_000) === Math.round(b.getTime() / 60_000);

async function describeImage(ec2: Ec2, imageId: string) {
  const image = (await ec2.describeImages({ ImageIds: [imageId] })).Images?.[0];
  if (!image) throw new StepError(STEP, `${imageId} does not exist (or is not visible to these credentials)`);
  return image;
}

/**
 * Deprecation: with `ami.deprecate-after`, EC2 deprecates each region's AMI
 * at one time, a date or the duration after the AMI was registered in the
 * first region (so every region's copy expires together). Set with
 * EnableImageDeprecation, shown in the `bro:deprecate-at` tag and the
 * manifest; a region whose AMI already says so makes no call.
 */
/** What ami-deprecate records for each region (`ami-deprecate:<region>`). */
const RegionDeprecationSchema = z.object({ imageId: z.string(), changes: z.array(z.string()) });

export const amiDeprecateStep = defineStep({
  id: STEP,
  title: 'Set when the AMIs are deprecated',
  external: true,
  needs: ['ami-register'],
  inputs: (ctx, input) => ({
    amis: input['ami-register'].amis,
    deprecateAfter: ctx.variant.ami['deprecate-after'] ?? null,
  }),
  outputs: z.object({ at: z.string().optional() }),
  async run(ctx, input, task, { force }) {
    const deprecation = deprecationOf(ctx.variant);
    if (!deprecation) {
      task.title = 'Deprecation: none (the variant has no ami.deprecate-after)';
      return {};
    }
    const { amis } = input['ami-register'];
    const aws = requireAws(ctx);
    // A duration counts from the registration in the first region, so every region's copy expires together.
    const registeredAt = async (first: string) => {
      if ('at' in deprecation) return new Date();
      const image = await describeImage(aws.ec2(first), inRegion(amis, first, STEP, 'ami-register').id);
      if (!image.CreationDate) throw new StepError(STEP, `EC2 gives no CreationDate for ${image.ImageId} in ${first}`);
      return new Date(image.CreationDate);
    };
    const at = deprecationTime(deprecation, await registeredAt(ctx.variant.regions[0]!));
    const outcomes = await forEachRegion(ctx.variant.regions, ctx.settings.regionConcurrency, async (region) => {
      const imageId = inRegion(amis, region, STEP, 'ami-register').id;
      const check = { inputs: { imageId, at: at.toISOString() }, outputs: RegionDeprecationSchema, force };
      return runRecorded(ctx.state, `${STEP}:${region}`, check, async () => {
        const ec2 = aws.ec2(region);
        const image = await describeImage(ec2, imageId);
        const changes: string[] = [];
        if (!sameMinute(image.DeprecationTime, at)) {
          await ec2.enableImageDeprecation({ ImageId: imageId, DeprecateAt: at });
          changes.push('deprecation set');
        }
        if (image.Tags?.find((t) => t.Key === DEPRECATE_TAG)?.Value !== at.toISOString()) {
          await ec2.createTags({ Resources: [imageId], Tags: [{ Key: DEPRECATE_TAG, Value: at.toISOString() }] });
          changes.push('tagged');
        }
        return { imageId, changes };
      });
    });
    const describe = describeRegionWork('already set');
    throwIfAnyRegionFailed(
      STEP,
      'Setting the deprecation',
      outcomes,
      describe,
      'Rerun `bro build`: it sets it only where it is missing.',
    );
    task.title = `Deprecated at ${at.toISOString()}: ${regionSummary(outcomes, describe).join('; ')}`;
    return { at: at.toISOString() };
  },
});
