import type { z } from 'zod';
import type { Series, SourceName } from '../config/series.js';
import type { StepId } from '../config/step-ids.js';
import type { BuildContext, PinnedSource, ResolvedSource } from './context.js';

/**
 * What a step is, and what each step produces. A step names the steps whose
 * outputs it reads (`needs`); the pipeline hands it exactly those, typed, and
 * a pipeline where a step comes before what it needs does not compile (see
 * `stages()` in pipeline.ts). A recorded step (one with `inputs`) keeps its
 * outputs in the state file, and they are parsed with its `outputs` schema
 * when a rerun skips it.
 */

/** What each step produces, by step id. Every step of STEP_IDS has an entry. */
export type StepOutputs = EveryStep<{
  resolve: { pins: Record<SourceName, PinnedSource> };
  sources: { sources: Record<SourceName, ResolvedSource>; adminVersion: string };
  patch: { series: Record<SourceName, Series | undefined>; patchedHeads: Record<SourceName, string> };
  verify: Record<string, never>;
  render: { infraPath: string };
  'admin-image-build': AdminImage;
  'admin-image-push': { regions: Record<string, PushedImage> };
  'os-build': OsImages;
  'ami-register': { amis: Record<string, RegisteredAmi> };
  share: { regions: Record<string, RegionShare> };
  /** When EC2 deprecates the AMIs; absent when the variant has no ami.deprecate-after. */
  'ami-deprecate': { at?: string };
  /** The version parameters (the same names in every region); absent without infra.ssm-prefix. */
  'ssm-publish': { parameters?: ParameterNames };
  manifest: { path: string };
}>;
type EveryStep<T extends Record<StepId, object>> = T;

/** The outputs of the steps `N`: what a step that needs them is given. */
export type Needed<N extends StepId> = Pick<StepOutputs, N>;

export interface StepTask {
  /** The progress line under the task title. */
  output: string;
  title: string;
}

export interface StepExtras {
  signal: AbortSignal;
  /** Redo the work even where the state file says it is done (--from, --only). */
  force: boolean;
}

interface StepBase<Id extends StepId, N extends StepId> {
  id: Id;
  title: string;
  external: boolean;
  /** The steps whose outputs this one reads. */
  needs: readonly N[];
  run(ctx: PublishContext, input: Needed<N>, task: StepTask, extras: StepExtras): Promise<StepOutputs[Id]>;
}

/** A step recorded in the state file: skipped when it finished with the same inputs. */
interface RecordedStep<Id extends StepId, N extends StepId> extends StepBase<Id, N> {
  /** What the step's result depends on. */
  inputs(ctx: PublishContext, input: Needed<N>): unknown;
  /** What it records; a rerun that skips it parses the recorded outputs with this. */
  outputs: z.ZodType<StepOutputs[Id]>;
  /** Whether recorded outputs still hold outside the workspace (false: the step is redone). */
  verify?(ctx: PublishContext, outputs: StepOutputs[Id]): Promise<boolean>;
}

/** A step that always runs (the cheap local ones) and records nothing. */
interface UnrecordedStep<Id extends StepId, N extends StepId> extends StepBase<Id, N> {
  inputs?: undefined;
  outputs?: undefined;
  verify?: undefined;
}

export type Step<Id extends StepId = StepId, N extends StepId = StepId> = RecordedStep<Id, N> | UnrecordedStep<Id, N>;

/** Infers a step's id and needs from its definition. */
export const defineStep = <Id extends StepId, N extends StepId = never>(step: Step<Id, N>): Step<Id, N> => step;

/** Options of the steps after render. */
export interface PublishSettings {
  /** How long share waits for each regional AMI to become available. */
  waitTimeoutSeconds: number;
  /** The first delay between polls while waiting (the SDK backs off from there). */
  waitPollSeconds: number;
  /** Regions worked on at once (push, share). */
  regionConcurrency: number;
  /** A `docker push` that prints nothing for this long is stopped and fails its region (--push-timeout). */
  pushTimeoutMs: number;
  /** Where the manifest goes; default `<work>/manifest.json`. */
  manifestPath?: string;
  from?: string;
  only?: string;
  /** ssm-publish replaces a version parameter that points at another AMI (--overwrite-parameters). */
  overwriteParameters?: boolean;
}

/** The context every step is given: the build's, plus the settings of the steps after render. */
export interface PublishContext extends BuildContext {
  settings: PublishSettings;
}

/**
 * Admin image, build: `docker build` in the patched admin-container checkout
 * with the build args its Makefile passes (IMAGE_VERSION, ARCH, DOCKER_ARCH),
 * then the Makefile's own `check` target against the image. Outputs the local
 * tag and the image ID, which the push step's state depends on.
 */
export interface AdminImage {
  /** `v0.5.2-hc1`: the tag pushed to every region. */
  tag: string;
  /** `bottlerocket-admin-amd64:v0.5.2-hc1` */
  localTag: string;
  /** `sha256:…` of the local image. */
  imageId: string;
}

/**
 * Admin image, push to every region, concurrently: ensure the ECR repository
 * (created with immutable tags and scan on push), get a token, `docker login
 * --password-stdin` into a per-run DOCKER_CONFIG under `.bro/docker/` (removed
 * when the push ends), tag, push, and verify the
 * pushed digest with ECR DescribeImages. A region whose tag already holds this
 * image is skipped; a tag holding other content is a clear error.
 */
export interface PushedImage {
  uri: string;
  digest: string;
  action: 'pushed' | 'already in ECR';
}

/**
 * OS build: `cargo make -e BUILDSYS_VARIANT=… -e BUILDSYS_VERSION_BUILD=…` in
 * the patched Bottlerocket checkout, the hour of work. Upstream's
 * Makefile.toml (v1.0.4, [tasks.build] → build-variant, link-variant) leaves
 * `${BUILDSYS_OUTPUT_DIR}/${BUILDSYS_NAME_FULL}.img.lz4` and `-data.img.lz4`,
 * which `cargo make ami` needs.
 */
export interface OsImages {
  files: string[];
  /** When they were built: `cargo make ami` reruns after every rebuild. */
  builtAt: string;
}

/**
 * AMI registration: `cargo make ami` with PUBLISH_INFRA_CONFIG_PATH pointing at
 * the rendered Infra.toml (plus PUBLISH_REGIONS and the AMI name and
 * description). pubsys registers the AMI in the first region, copies it to
 * the others, and writes `{"<region>": {"id", "name"}}` to
 * `${BUILDSYS_OUTPUT_DIR}/${BUILDSYS_NAME_FULL}-amis.json`, which this step reads.
 */
export interface RegisteredAmi {
  id: string;
  name: string;
}

/**
 * Share, with EC2, region by region (concurrently, with a bound): wait until
 * the regional copy is `available`, give every account createVolumePermission
 * on each snapshot of its block device mappings and launchPermission on the
 * AMI, tag both, and verify with DescribeImageAttribute. A permission already
 * there is left alone, so a rerun makes no modifying call; one region failing
 * does not stop the others, and a rerun redoes only the regions that failed.
 */
export interface RegionShare {
  imageId: string;
  snapshotIds: string[];
  /** Accounts that can launch the AMI. */
  accounts: string[];
  /** What this run changed, e.g. `launch +2`; empty when everything was already there. */
  changes: string[];
}

/**
 * SSM parameters of one build or channel in one region, as pubsys names them
 * (tools/pubsys/policies/ssm/defaults.toml at v1.0.4):
 * `<ssm-prefix>/<variant>/<arch>/<version or channel>/image_id` and `…/image_version`.
 */
export interface ParameterNames {
  imageId: string;
  version: string;
}
