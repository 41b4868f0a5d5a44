import { z } from 'zod';
import { readFile } from 'node:fs/promises';
import type { AwsAction } from '../aws-actions.js';
import { amiRegisterCommand } from '../commands-for-build.js';
import { digestOf } from '../state.js';
import { StepError } from '../../shared/errors.js';
import { amisJsonPath } from '../naming.js';
import { defineStep, type RegisteredAmi, type StepOutputs } from '../step.js';
import { buildInputs } from '../commands-for-build.js';
import { assertCleanTree, openLog, runLogged } from './run-logged.js';

const STEP = 'ami-register';

/**
 * The AWS calls pubsys makes under `cargo make ami` (tools/pubsys/src/aws/ami
 * at v1.0.4: register.rs, snapshot.rs, mod.rs), with the regions of
 * PUBLISH_REGIONS: in the first, it uploads both images as EBS snapshots with
 * coldsnap and registers the AMI; to each other region it copies that AMI.
 * Both skip a region where an AMI of that name exists.
 */
export function pubsysActions(regions: readonly string[], name: string): AwsAction[] {
  const [first, ...others] = regions;
  if (!first) return [];
  const action = (region: string, a: Omit<AwsAction, 'step' | 'by' | 'region'>): AwsAction => ({
    step: STEP,
    by: 'pubsys',
    region,
    ...a,
  });
  return [
    action(first, { service: 'ec2', action: 'DescribeImages', target: name, note: 'an AMI of that name is reused' }),
    action(first, {
      service: 'ebs',
      action: 'StartSnapshot/PutSnapshotBlock/CompleteSnapshot',
      target: 'the root and data images',
      note: 'coldsnap uploads them',
    }),
    action(first, { service: 'ec2', action: 'RegisterImage', target: name }),
    ...others.flatMap((region) => [
      action(region, { service: 'ec2', action: 'DescribeImages', target: name, note: 'an AMI of that name is reused' }),
      action(region, { service: 'ec2', action: 'CopyImage', target: name, note: `from ${first}` }),
    ]),
  ];
}

/** A region's entry in pubsys's amis.json (more fields are pubsys's business). */
const AmisJsonEntrySchema = z.object({ id: z.string().regex(/^ami-[0-9a-f]+$/), name: z.string() });

/** Reads pubsys's amis.json; every region the variant lists must be in it. */
export async function readAmisJson(path: string, regions: readonly string[]): Promise<Record<string, RegisteredAmi>> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new StepError(STEP, `${path} does not exist: \`cargo make ami\` wrote no AMI IDs`, {
      cause: error,
      hint: 'See the ami-register log; rerun `bro build` once the cause is fixed (pubsys reuses AMIs it already registered).',
    });
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StepError(STEP, `${path} is not valid JSON`, { cause: error });
  }
  const entries = z.record(z.string(), z.unknown()).safeParse(data).data;
  const amis: Record<string, RegisteredAmi> = {};
  const missing: string[] = [];
  for (const region of regions) {
    const entry = AmisJsonEntrySchema.safeParse(entries?.[region]);
    if (entry.success) amis[region] = { id: entry.data.id, name: entry.data.name };
    else missing.push(region);
  }
  if (missing.length) {
    throw new StepError(STEP, `${path} has no AMI for ${missing.join(', ')}`, {
      hint: 'pubsys registers in the first region and copies to the others; see the ami-register log, then rerun `bro build`.',
    });
  }
  return amis;
}

/** What ami-register records: the AMI of each region, as pubsys's amis.json has it. */
export const AmisSchema: z.ZodType<StepOutputs['ami-register']> = z.object({
  amis: z.record(z.string(), z.object({ id: z.string(), name: z.string() })),
});

export const amiRegisterStep = defineStep({
  id: STEP,
  title: 'OS image: register the AMI in every region (cargo make ami)',
  external: true,
  needs: ['sources', 'render', 'os-build'],
  async inputs(ctx, input) {
    const inputs = buildInputs(ctx, input);
    return {
      command: amiRegisterCommand(inputs),
      infraToml: digestOf(await readFile(inputs.infraPath, 'utf8')),
      images: input['os-build'],
    };
  },
  outputs: AmisSchema,
  async run(ctx, input, task) {
    const inputs = buildInputs(ctx, input);
    await assertCleanTree(ctx, STEP, inputs.bottlerocketDir);
    const log = await openLog(ctx, STEP);
    await runLogged(ctx, STEP, amiRegisterCommand(inputs), log, (line) => (task.output = line));
    const amis = await readAmisJson(
      amisJsonPath(inputs.bottlerocketDir, ctx.variant, ctx.version),
      ctx.variant.regions,
    );
    task.title = `OS image: AMI ${Object.entries(amis)
      .map(([r, a]) => `${r} ${a.id}`)
      .join(', ')}`;
    return { amis };
  },
});
