import type { Aws } from './aws.js';
import type { Git } from './git.js';
import type { Host } from './host.js';
import type { Mirrors } from './mirrors.js';
import type { Project } from './project.js';
import type { Runner } from './runner.js';
import { createGit } from './git.js';
import { createHost } from './host.js';
import { createMirrors } from './mirrors.js';
import { createProject } from './project.js';
import { Redactor } from './redactor.js';
import { createRunner } from './runner.js';

/** The outside world, created once by the command and passed down. */
export interface Adapters {
  runner: Runner;
  git: Git;
  project: Project;
  mirrors: Mirrors;
  redactor: Redactor;
  /** Free disk and cores, for the preflight. */
  host: Host;
  env: NodeJS.ProcessEnv;
  /** EC2 and ECR, per region. Set by the commands that publish (build, share); tests inject mocked ones. */
  aws?: Aws;
  /** Warnings for the user, printed after the task list. */
  warn: (message: string) => void;
}

export interface AdapterOptions {
  projectDir: string;
  cacheDir: string;
  dryRun: boolean;
  debug: boolean;
  env: NodeJS.ProcessEnv;
  stderr: NodeJS.WritableStream;
}

/** Environment variables that hold AWS secrets (the access key ID alone is not one). */
const AWS_SECRET_ENV = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN'] as const;

/** The one factory for the outside world. Tests call it too, with temporary directories. */
export function createAdapters(options: AdapterOptions): Adapters & { warnings: string[] } {
  const redactor = new Redactor();
  // AWS credentials reach cargo make (pubsys) through the environment: keep them out of its logs and errors.
  for (const name of AWS_SECRET_ENV) redactor.add(options.env[name]);
  const runner = createRunner({
    dryRun: options.dryRun,
    env: options.env,
    redactor,
    log: options.debug ? (line) => options.stderr.write(`${line}\n`) : undefined,
  });
  const git = createGit(runner);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(redactor.redact(message));
  };
  const adapters = {
    runner,
    git,
    redactor,
    host: createHost(),
    project: createProject(options.projectDir, warn),
    // Through `adapters.warn`, which a command may replace to print warnings as they come (a mirror wait does).
    mirrors: createMirrors(options.cacheDir, git, (message) => adapters.warn(message)),
    env: options.env,
    warnings,
    warn,
  };
  return adapters;
}
