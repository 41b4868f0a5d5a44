import type { Adapters } from '../context.js';
import { createGit } from './git.js';
import { createMirrors } from './mirrors.js';
import { createProject } from './project.js';
import { Redactor } from './redactor.js';
import { createRunner } from './runner.js';

export interface AdapterOptions {
  projectDir: string;
  cacheDir: string;
  dryRun: boolean;
  debug: boolean;
  env: NodeJS.ProcessEnv;
  stderr: NodeJS.WritableStream;
}

/** The one factory for the outside world. Tests call it too, with temporary directories. */
export function createAdapters(options: AdapterOptions): Adapters & { warnings: string[] } {
  const redactor = new Redactor();
  const runner = createRunner({
    dryRun: options.dryRun,
    env: options.env,
    redactor,
    log: options.debug ? (line) => options.stderr.write(`${line}\n`) : undefined,
  });
  const git = createGit(runner);
  const warnings: string[] = [];
  return {
    runner,
    git,
    redactor,
    project: createProject(options.projectDir),
    mirrors: createMirrors(options.cacheDir, git),
    env: options.env,
    warnings,
    warn: (message) => {
      warnings.push(redactor.redact(message));
    },
  };
}
