import { networkProblem, type Aws } from '../../adapters/aws.js';
import type { Host } from '../../adapters/host.js';
import type { Redactor } from '../../adapters/redactor.js';
import { telltaleLine, type Runner } from '../../adapters/runner.js';
import { partitionOf, type Variant } from '../../config/variant.js';
import { SubprocessError } from '../../shared/errors.js';
import type { StepId } from '../../config/step-ids.js';

/**
 * The preflight: can this host run the build? Each check names what it found,
 * and when something is missing, how to fix it. A failed must-have stops a
 * real build before it starts; advice is printed and the build goes on.
 */
export type CheckStatus = 'ok' | 'fail' | 'advice' | 'skipped';

export type CheckId = 'docker' | 'cargo-make' | 'disk' | 'cores' | 'aws-identity' | 'ecr-registry' | 'example-accounts';

export interface CheckResult {
  id: CheckId;
  title: string;
  /** A failed must-have stops a real build (exit 2) and makes `bro doctor` exit 1. */
  mustHave: boolean;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it. */
  fix?: string;
}

export interface CheckInputs {
  variant: Variant;
  /** The variant file, as the user knows it (variants/aws-k8s-1.18.toml). */
  variantFile: string;
  workDir: string;
  runner: Runner;
  host: Host;
  aws: Aws;
  env: NodeJS.ProcessEnv;
  redactor: Redactor;
  /** Free disk the build needs, in GiB; default: the rule of `requiredDiskGiB`. */
  minFreeDiskGiB?: number;
  /** An earlier OS build finished in this workspace: its caches are there and reused. */
  hasBuildCaches: boolean;
  /** A dry run: AWS is asked only where credentials are configured (never the instance metadata service on a guess). */
  dryRun?: boolean;
}

/** Environment variables through which the SDK's chain finds credentials without instance metadata. */
const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

/**
 * One preflight check: its name, its importance, the steps it matters to,
 * and its code. `Extra` is what it finds beyond its verdict, for other checks.
 */
export interface PreflightCheck<Extra extends object = object> {
  id: CheckId;
  title: string;
  /** A failed must-have stops a build; the others are advice. */
  mustHave: boolean;
  /** The steps it matters to: `--only <step>` checks only what that step needs. */
  neededBy: readonly StepId[];
  run(inputs: CheckInputs, found: Found): Promise<Verdict & Extra> | (Verdict & Extra);
}

/** What a check says: its result without the check's own name. */
export type Verdict = Pick<CheckResult, 'status' | 'detail' | 'fix'>;

/** What other checks found (each check runs once per preflight). */
export interface Found {
  /** Who the credentials are, from the AWS identity check; undefined when STS did not say. */
  identity(): Promise<Identity | undefined>;
}

/**
 * Free disk a build needs under the work dir. Upstream's BUILDING.md: "The build process
 * artifacts and resulting images can consume in excess of 80GB in the local directory." That is a
 * first build. A rebuild in a workspace whose earlier OS build finished reuses those caches (the
 * RPMs of unchanged packages, cargo's target directories), which already occupy the disk; it
 * writes the changed packages and a new set of images: 20 GiB covers that.
 */
export const FIRST_BUILD_GIB = 80;
export const INCREMENTAL_BUILD_GIB = 20;

export function requiredDiskGiB(inputs: Pick<CheckInputs, 'minFreeDiskGiB' | 'hasBuildCaches'>): {
  gib: number;
  why: string;
} {
  if (inputs.minFreeDiskGiB !== undefined) return { gib: inputs.minFreeDiskGiB, why: '--min-free-disk' };
  return inputs.hasBuildCaches
    ? { gib: INCREMENTAL_BUILD_GIB, why: 'a rebuild that reuses the caches of the earlier build in this workspace' }
    : { gib: FIRST_BUILD_GIB, why: "a first build in this workspace, per upstream's BUILDING.md" };
}

/**
 * Account IDs that stand for "your account here": the shipped variant's 111111111111 and
 * 222222222222 (any ID of one repeated digit), and AWS documentation's 123456789012,
 * 111122223333, 444455556666 and 777788889999. Sharing an AMI with one of them grants it
 * to a stranger, or fails.
 */
export function isExampleAccount(id: string): boolean {
  return /^(\d)\1{11}$/.test(id) || ['123456789012', '111122223333', '444455556666', '777788889999'].includes(id);
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;

/** The Docker engine answers (`docker info`), not only the CLI: the build runs in upstream's SDK container. */
export const dockerCheck: PreflightCheck = {
  id: 'docker',
  title: 'Docker engine',
  mustHave: true,
  neededBy: ['admin-image-build', 'admin-image-push', 'os-build', 'ami-register'],
  async run({ runner, redactor }) {
    try {
      const { stdout } = await runner.run({ argv: ['docker', 'info', '--format', '{{.ServerVersion}}'], mode: 'read' });
      const version = stdout.trim();
      if (!version)
        return {
          status: 'fail',
          detail: 'docker info gave no server version',
          fix: 'Check that `docker info` reports a Server section.',
        };
      return { status: 'ok', detail: `engine ${version} answers` };
    } catch (error) {
      if (error instanceof SubprocessError && error.reason === 'spawn') {
        return {
          status: 'fail',
          detail: 'docker is not installed (not on PATH)',
          fix: 'Install Docker Engine (https://docs.docker.com/engine/install/) and start it.',
        };
      }
      const said = redactor.redact(
        telltaleLine(error instanceof SubprocessError ? (error.detail.output ?? '') : String(error)),
      );
      const denied = /permission denied/i.test(said);
      return {
        status: 'fail',
        detail: `the docker CLI is installed, but no engine answers: ${said}`,
        fix: denied
          ? 'Let your user reach the engine: `sudo usermod -aG docker $USER`, then log in again.'
          : 'Start the engine (`sudo systemctl start docker`), or set DOCKER_HOST to one that runs.',
      };
    }
  },
};

/** `cargo make` runs upstream's Makefile.toml (BUILDING.md: `cargo install cargo-make`). */
export const cargoMakeCheck: PreflightCheck = {
  id: 'cargo-make',
  title: 'cargo make',
  mustHave: true,
  neededBy: ['os-build', 'ami-register'],
  async run({ runner, redactor }) {
    try {
      const { stdout } = await runner.run({ argv: ['cargo', 'make', '--version'], mode: 'read' });
      return { status: 'ok', detail: stdout.trim().split('\n')[0] || 'installed' };
    } catch (error) {
      if (error instanceof SubprocessError && error.reason === 'spawn') {
        return {
          status: 'fail',
          detail: 'cargo is not installed (not on PATH)',
          fix: 'Install Rust (https://rustup.rs), then `cargo install cargo-make`.',
        };
      }
      const said = redactor.redact(
        telltaleLine(error instanceof SubprocessError ? (error.detail.output ?? '') : String(error)),
      );
      return {
        status: 'fail',
        detail: `cargo-make is not installed (${said})`,
        fix: 'Install it: `cargo install cargo-make`.',
      };
    }
  },
};

export const diskCheck: PreflightCheck = {
  id: 'disk',
  title: 'Free disk',
  mustHave: true,
  neededBy: ['os-build'],
  async run(inputs) {
    const need = requiredDiskGiB(inputs);
    try {
      const { bytes, measuredAt } = await inputs.host.freeBytes(inputs.workDir);
      const where = measuredAt === inputs.workDir ? inputs.workDir : `${inputs.workDir} (on the disk of ${measuredAt})`;
      const detail = `${gib(bytes)} free under ${where}; needs ${need.gib} GiB (${need.why})`;
      if (bytes >= need.gib * GIB) return { status: 'ok', detail };
      return {
        status: 'fail',
        detail,
        fix: `Free ${gib(need.gib * GIB - bytes)} there, or put the workspace on a larger disk (--work-dir). --min-free-disk <GiB> sets the figure when you know the build needs less.`,
      };
    } catch (error) {
      return {
        status: 'fail',
        detail: `cannot measure the free disk under ${inputs.workDir}: ${(error as Error).message}`,
        fix: 'Check that the work dir is on a mounted file system you can read.',
      };
    }
  },
};

export const RECOMMENDED_CORES = 8;

export const coresCheck: PreflightCheck = {
  id: 'cores',
  title: 'Cores',
  mustHave: false,
  neededBy: ['os-build'],
  run({ host }) {
    const cores = host.cores();
    if (cores >= RECOMMENDED_CORES) return { status: 'ok', detail: `${cores}` };
    return {
      status: 'advice',
      detail: `${cores}; the build compiles a kernel and every package, and takes hours on few cores`,
      fix: `Build on ${RECOMMENDED_CORES} or more (the source document used a c5.2xlarge: 8 vCPUs).`,
    };
  },
};

/** STS answers in well under a second; a minute covers the SDK's retries on a slow link. */
export const STS_TIMEOUT_MS = 60_000;

export interface Identity {
  account: string;
  arn: string;
  partition: string;
}

/** Who the credentials are, through STS GetCallerIdentity, with the profile and partition in use. */
export const awsIdentityCheck: PreflightCheck<{ identity?: Identity }> = {
  id: 'aws-identity',
  title: 'AWS identity',
  mustHave: true,
  neededBy: ['admin-image-push', 'ami-register', 'share'],
  async run(inputs) {
    const { variant, env, redactor } = inputs;
    const region = variant.regions[0] as string;
    const partition = partitionOf(region);
    const profile = variant.infra.profile
      ? `profile ${variant.infra.profile} (infra.profile)`
      : env.AWS_PROFILE
        ? `profile ${env.AWS_PROFILE} (AWS_PROFILE)`
        : "the SDK's default chain (no profile set)";
    if (
      inputs.dryRun &&
      !variant.infra.profile &&
      !CREDENTIAL_ENV.some((name) => env[name]) &&
      !(await inputs.host.hasAwsFiles(env))
    ) {
      return {
        status: 'skipped',
        detail:
          'not asked in a dry run: no AWS credentials are configured in the environment or in ~/.aws (an instance role is asked by `bro doctor` and by the real build)',
      };
    }
    try {
      const out = await inputs.aws.sts(region).getCallerIdentity({ timeoutMs: STS_TIMEOUT_MS });
      const arn = out.Arn ?? '';
      const identity = { account: out.Account ?? '', arn, partition: arn.split(':')[1] ?? '' };
      const detail = `account ${identity.account} as ${arn}, through ${profile}, partition ${identity.partition}`;
      if (identity.partition !== partition) {
        return {
          status: 'fail',
          detail,
          fix: `The variant's regions are in partition ${partition}: use credentials of an account there (infra.profile in ${inputs.variantFile}, or AWS_PROFILE).`,
          identity,
        };
      }
      return { status: 'ok', detail, identity };
    } catch (error) {
      // Unreachable STS is the network's problem, not the credentials': the advice differs.
      const network = networkProblem(error);
      const message =
        (error as Error).name === 'AbortError'
          ? `no answer within ${STS_TIMEOUT_MS / 1000} s`
          : redactor.redact(network ?? (error as Error).message ?? String(error)).split('\n')[0];
      return {
        status: 'fail',
        detail: `STS GetCallerIdentity in ${region} ${network ? 'could not reach AWS' : 'failed'} through ${profile}, partition ${partition}: ${message}`,
        fix: network
          ? `This is the network, not your credentials: check DNS, the proxy (HTTPS_PROXY) and the firewall to STS in ${region}${env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL ? ', and AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL' : ''}, then rerun.`
          : `Give bro credentials that can publish: set infra.profile in ${inputs.variantFile} or AWS_PROFILE (after \`aws sso login\` if it is an SSO profile), or run on an instance with a role.`,
      };
    }
  },
};

/** The admin image's registry: the caller's own account, or another one (cross-account push). */
export const ecrRegistryCheck: PreflightCheck = {
  id: 'ecr-registry',
  title: 'ECR registry',
  mustHave: false,
  neededBy: ['admin-image-push'],
  async run(inputs, found) {
    const registry = inputs.variant['admin-image']['registry-account'];
    const identity = await found.identity();
    if (!identity) return { status: 'skipped', detail: `account ${registry}; not compared (no AWS identity)` };
    if (registry === identity.account) return { status: 'ok', detail: `account ${registry}, your own` };
    return {
      status: 'advice',
      detail: `account ${registry} is not your account ${identity.account}: the admin image is pushed across accounts`,
      fix: `The repository ${inputs.variant['admin-image'].repository} must exist in ${registry} in every region (bro can create it only in your own account), with a repository policy that lets ${identity.account} push; or set infra.profile in ${inputs.variantFile} to a profile of ${registry}.`,
    };
  },
};

/** The shipped example IDs are placeholders: a build must not share with them or push there. */
export const exampleAccountsCheck: PreflightCheck = {
  id: 'example-accounts',
  title: 'Accounts',
  mustHave: true,
  neededBy: ['admin-image-push', 'share'],
  run({ variant, variantFile }) {
    const registry = variant['admin-image']['registry-account'];
    const shared = variant['share-with'].filter(isExampleAccount);
    const found = [
      ...(shared.length ? [`share-with ${shared.join(', ')}`] : []),
      ...(isExampleAccount(registry) ? [`admin-image.registry-account ${registry}`] : []),
    ];
    const accounts = [...new Set([registry, ...variant['share-with']])].join(', ');
    if (!found.length) return { status: 'ok', detail: `${accounts}: none is an example ID` };
    return {
      status: 'fail',
      detail: `${found.join('; ')}: example account IDs, not real ones`,
      fix: `Put your own account IDs in ${variantFile} (share-with, [admin-image] registry-account).`,
    };
  },
};

/** Every check, in the order they are shown. */
export const CHECKS: readonly PreflightCheck[] = [
  dockerCheck,
  cargoMakeCheck,
  diskCheck,
  coresCheck,
  awsIdentityCheck,
  ecrRegistryCheck,
  exampleAccountsCheck,
];
