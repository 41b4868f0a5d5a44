import { z } from 'zod';
import type { Ecr } from '../../adapters/aws.js';
import { isAwsError } from '../../adapters/aws.js';
import { createDocker, pushedDigest, type Docker, type DockerConfigDir } from '../../adapters/docker.js';
import type { Redactor } from '../../adapters/redactor.js';
import { minutes, type Command } from '../../adapters/runner.js';
import type { AwsAction } from '../aws-actions.js';
import { dockerLoginCommand, dockerPushCommand, dockerTagCommand } from '../commands-for-build.js';
import type { Variant } from '../../config/variant.js';
import { StepError } from '../../shared/errors.js';
import { adminImageUri, ecrRegistry } from '../naming.js';
import { defineStep, type PublishContext, type PushedImage, type StepTask } from '../step.js';
import { runRecorded } from '../state.js';
import type { AdminImage } from '../step.js';
import { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './regions.js';
import { requireAws } from './requires.js';
import { openLog, runLogged } from './run-logged.js';

const STEP = 'admin-image-push';

/** Creates the repository when it is missing: immutable tags, scan on push. */
export async function ensureRepository(
  ecr: Ecr,
  repository: string,
  registryId: string,
  warn: (message: string) => void,
  region: string,
): Promise<void> {
  try {
    const { repositories } = await ecr.describeRepositories({ repositoryNames: [repository], registryId });
    if (repositories?.[0]?.imageTagMutability === 'MUTABLE') {
      warn(
        `ECR repository ${repository} in ${region} allows tags to be overwritten; bro creates its repositories with immutable tags.`,
      );
    }
    return;
  } catch (error) {
    if (!isAwsError(error, 'RepositoryNotFoundException')) throw error;
  }
  try {
    await ecr.createRepository({
      repositoryName: repository,
      registryId,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    });
  } catch (error) {
    // Another build created it meanwhile: that is what we wanted.
    if (!isAwsError(error, 'RepositoryAlreadyExistsException')) throw error;
  }
}

/** The digest the tag holds in ECR, or undefined when there is no such tag. */
export async function taggedDigest(
  ecr: Ecr,
  repository: string,
  registryId: string,
  tag: string,
): Promise<string | undefined> {
  try {
    const { imageDetails } = await ecr.describeImages({
      repositoryName: repository,
      registryId,
      imageIds: [{ imageTag: tag }],
    });
    return imageDetails?.[0]?.imageDigest;
  } catch (error) {
    if (isAwsError(error, 'ImageNotFoundException')) return undefined;
    throw error;
  }
}

/** The registry password from GetAuthorizationToken (base64 of `AWS:<password>`), registered with the redactor at once. */
export async function registryPassword(ecr: Ecr, redactor: Redactor): Promise<string> {
  const token = (await ecr.getAuthorizationToken()).authorizationData?.[0]?.authorizationToken;
  redactor.add(token);
  const decoded = Buffer.from(token ?? '', 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  redactor.add(password);
  if (!decoded.startsWith('AWS:') || !password) {
    throw new StepError(
      STEP,
      'ECR GetAuthorizationToken returned no usable token (expected base64 of "AWS:<password>")',
    );
  }
  return password;
}

function conflict(uri: string, region: string, existing: string, image: AdminImage, cause?: unknown): StepError {
  return new StepError(
    STEP,
    `${uri} already holds ${existing} in ${region}, which is not this build's admin image (${image.imageId.slice(0, 19)})`,
    {
      cause,
      hint: 'ECR tags are immutable: publish a new admin image under a new build suffix (e.g. --version 1.0.4-hc2).',
    },
  );
}

/**
 * What the push does in one region, decided before any call: the image URI,
 * the ECR calls and the docker commands (run in `cwd`, the workspace).
 * `pushToRegion` carries it out and the plan shows it, so the two cannot drift.
 */
export interface RegionPush {
  uri: string;
  registry: string;
  repository: string;
  registryId: string;
  aws: AwsAction[];
  /** docker login, tag, push, with the DOCKER_CONFIG that holds the login. */
  commands(dockerConfig: string): [login: Command, tag: Command, push: Command];
}

export function pushPlan(variant: Variant, region: string, tag: string, localTag: string, cwd: string): RegionPush {
  const { repository, 'registry-account': registryId } = variant['admin-image'];
  const uri = adminImageUri(variant, region, tag);
  const registry = ecrRegistry(registryId, region);
  const action = (a: Omit<AwsAction, 'step' | 'by' | 'region' | 'service'>): AwsAction => ({
    step: STEP,
    by: 'bro',
    region,
    service: 'ecr',
    ...a,
  });
  return {
    uri,
    registry,
    repository,
    registryId,
    aws: [
      action({ action: 'DescribeRepositories', target: `${registryId}/${repository}` }),
      action({
        action: 'CreateRepository',
        target: `${registryId}/${repository}`,
        note: 'if missing: immutable tags, scan on push',
      }),
      action({
        action: 'DescribeImages',
        target: `${repository}:${tag}`,
        note: 'the region is done if the tag holds this image',
      }),
      action({ action: 'GetAuthorizationToken', target: registry, note: 'password to docker login on stdin' }),
      action({ action: 'DescribeImages', target: `${repository}:${tag}`, note: 'verify the pushed digest' }),
    ],
    commands: (dockerConfig) => [
      { ...dockerLoginCommand(registry, dockerConfig), cwd },
      { ...dockerTagCommand(localTag, uri), cwd },
      { ...dockerPushCommand(uri, dockerConfig), cwd },
    ],
  };
}

interface PushEnv {
  ctx: PublishContext;
  image: AdminImage;
  docker: Docker;
  configs: DockerConfigDir;
  task: StepTask;
}

export async function pushToRegion(
  { ctx, image, docker, configs, task }: PushEnv,
  region: string,
): Promise<PushedImage> {
  const ecr = requireAws(ctx).ecr(region);
  const plan = pushPlan(ctx.variant, region, image.tag, image.localTag, ctx.workspace.root);
  const { repository, registryId, uri, registry } = plan;
  const progress = (line: string) => (task.output = `${region}: ${line}`);

  progress(`ECR repository ${repository}`);
  await ensureRepository(ecr, repository, registryId, ctx.adapters.warn, region);
  const existing = await taggedDigest(ecr, repository, registryId, image.tag);
  if (existing) {
    const known = (await docker.repoDigests(image.localTag)).map((d) => d.slice(d.indexOf('@') + 1));
    if (known.includes(existing)) return { uri, digest: existing, action: 'already in ECR' };
    throw conflict(uri, region, existing, image);
  }

  const password = await registryPassword(ecr, ctx.adapters.redactor);
  const dockerConfig = await configs.forRegistry(registry);
  const [login, tag, push] = plan.commands(dockerConfig);
  const log = await openLog(ctx, `${STEP}-${region}`);
  let digest: string | undefined;
  const pushProgress = (line: string) => {
    digest ??= pushedDigest(line);
    progress(line);
  };
  try {
    await runLogged(ctx, STEP, { ...login, input: password }, log, progress);
    await runLogged(ctx, STEP, tag, log, progress);
    await runLogged(ctx, STEP, push, log, pushProgress, {
      quietTimeoutMs: ctx.settings.pushTimeoutMs,
      quietHint: `The registry stopped answering (check the network or proxy to ECR), or the layers need longer: raise --push-timeout (now ${minutes(ctx.settings.pushTimeoutMs)}). The login for the push was removed.`,
    });
  } catch (error) {
    if (error instanceof StepError && /cannot be overwritten because the repository is immutable/.test(error.message)) {
      throw conflict(
        uri,
        region,
        (await taggedDigest(ecr, repository, registryId, image.tag)) ?? 'another image',
        image,
        error,
      );
    }
    throw error;
  } finally {
    // The login is needed for this push only.
    await configs.removeRegistry(registry);
  }
  if (!digest) throw new StepError(STEP, `docker push ${uri} printed no digest`, { hint: `See ${log}.` });
  const verified = await taggedDigest(ecr, repository, registryId, image.tag);
  if (verified !== digest) {
    throw new StepError(
      STEP,
      `docker push ${uri} reported ${digest}, but ECR has ${verified ?? 'no image'} under that tag`,
      {
        hint: 'Check the repository in the ECR console, then rerun.',
      },
    );
  }
  return { uri, digest, action: 'pushed' };
}

const describe = (p: PushedImage & { skipped?: boolean }) => (p.skipped ? 'done earlier' : p.action);

/** What a push records, for each region (`admin-image-push:<region>`) and for the step. */
const PushedImageSchema: z.ZodType<PushedImage> = z.object({
  uri: z.string(),
  digest: z.string(),
  action: z.enum(['pushed', 'already in ECR']),
});

export const adminImagePushStep = defineStep({
  id: STEP,
  title: 'Admin image: push to every region',
  external: true,
  needs: ['admin-image-build'],
  inputs(ctx, { 'admin-image-build': image }) {
    return {
      imageId: image.imageId,
      uris: ctx.variant.regions.map((r) => adminImageUri(ctx.variant, r, image.tag)),
    };
  },
  outputs: z.object({ regions: z.record(z.string(), PushedImageSchema) }),
  async run(ctx, { 'admin-image-build': image }, task, { force }) {
    const docker = createDocker(ctx.adapters.runner);
    const configs = await docker.configDir(ctx.workspace.broDir);
    const env = { ctx, image, docker, configs, task };
    const outcomes = await forEachRegion(ctx.variant.regions, ctx.settings.regionConcurrency, (region) =>
      runRecorded(
        ctx.state,
        `${STEP}:${region}`,
        {
          inputs: { imageId: image.imageId, uri: adminImageUri(ctx.variant, region, image.tag) },
          outputs: PushedImageSchema,
          force,
        },
        () => pushToRegion(env, region),
      ),
    ).finally(() => configs.remove());
    throwIfAnyRegionFailed(
      STEP,
      'Pushing the admin image',
      outcomes,
      describe,
      'Rerun `bro build`: it pushes only to the regions that failed.',
    );
    const regions = Object.fromEntries(
      outcomes.map(({ region, value }) => [region, { uri: value!.uri, digest: value!.digest, action: value!.action }]),
    );
    task.title = `Admin image: ${regionSummary(outcomes, describe).join(', ')}`;
    return { regions };
  },
});
