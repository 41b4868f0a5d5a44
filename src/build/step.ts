import type { BuildContext } from './context.js';

/** What a step is, and the outputs the steps after render record (each restored from the state file on a rerun). */

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

export interface Step<C extends BuildContext = BuildContext> {
  id: string;
  title: string;
  external: boolean;
  run(ctx: C, task: StepTask, extras: StepExtras): Promise<unknown>;
  /** What the step's result depends on. Steps without inputs (the cheap local ones) always run. */
  inputs?(ctx: C): unknown;
  /** Puts recorded outputs back into the context when the step is skipped. */
  restore?(ctx: C, outputs: Record<string, unknown>): void;
}

/** Options of the steps after render. */
export interface PublishSettings {
  /** How long share waits for each regional AMI to become available. */
  waitTimeoutSeconds: number;
  /** The first delay between polls while waiting (the SDK backs off from there). */
  waitPollSeconds: number;
  /** Regions worked on at once (push, share). */
  regionConcurrency: number;
  /** Where the manifest goes; default `<work>/manifest.json`. */
  manifestPath?: string;
  from?: string;
  only?: string;
  /** ssm-publish replaces a version parameter that points at another AMI (--overwrite-parameters). */
  overwriteParameters?: boolean;
}

/** What the steps after render produced; set by each step, or restored from the state file. */
export interface BuildOutputs {
  adminImage?: AdminImage;
  adminImages?: Record<string, PushedImage>;
  osImages?: OsImages;
  amis?: Record<string, RegisteredAmi>;
  shares?: Record<string, RegionShare>;
  /** When EC2 deprecates the AMIs (ami-deprecate), if the variant says. */
  deprecateAt?: string;
  /** The version parameters per region (ssm-publish), if the variant has an ssm-prefix. */
  parameters?: Record<string, ParameterNames>;
  manifestPath?: string;
}

export interface PublishContext extends BuildContext {
  settings: PublishSettings;
  out: BuildOutputs;
}

export type PipelineStep = Step<PublishContext>;

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
