import { join } from 'node:path';
import { createAws } from '../../adapters/aws.js';
import { createAdapters } from '../../adapters/index.js';
import type { Io } from '../io.js';
import type { CommonOptions } from '../../build/index.js';
import { EXIT_FAILURE, ExitError, UsageError } from '../../shared/errors.js';
import { failedMustHaves, formatChecks, preflightOf } from '../../build/index.js';
import { createStateStore } from '../../build/index.js';
import { workDirFor } from '../options.js';

export const DOCTOR_SCHEMA_VERSION = 1;

export interface DoctorOptions extends CommonOptions {
  variant?: string;
  json: boolean;
  minFreeDiskGiB?: number;
}

/**
 * `bro doctor`: the preflight of `bro build`, on its own. It only reads (the
 * runner is in dry-run mode: a write would be shown, never run). Exits 1 when
 * a must-have fails.
 */
export async function runDoctor(options: DoctorOptions, io: Io): Promise<void> {
  const adapters = createAdapters({ ...options, dryRun: true, env: io.env, stderr: io.stderr });
  const name = options.variant ?? (await adapters.project.listVariants())[0];
  if (!name)
    throw new UsageError(`No variant files in ${join(options.projectDir, 'variants')}`, {
      hint: 'Run bro doctor in the project, or pass --project-dir.',
    });
  const variant = await adapters.project.readVariant(name);
  const root = workDirFor(options, variant.name);
  // The checks read only the variant, the workspace's state and the adapters.
  const ctx = { adapters, variant, workspace: { root }, state: createStateStore(join(root, '.bro')) };
  const checks = await preflightOf(ctx, createAws({ profile: variant.infra.profile }), options);
  const failed = failedMustHaves(checks);
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ schemaVersion: DOCTOR_SCHEMA_VERSION, kind: 'bro.doctor', variant: variant.name, workDir: root, ok: !failed.length, checks }, null, 2)}\n`,
    );
  } else {
    const verdict = failed.length
      ? `${failed.length} must-have${failed.length > 1 ? 's' : ''} failed: a build of ${variant.name} would refuse to start.`
      : `This host can build ${variant.name}.`;
    io.stdout.write(
      [`bro doctor: ${variant.name}, work dir ${root}`, ...formatChecks(checks, '  '), verdict, ''].join('\n'),
    );
  }
  if (failed.length) throw new ExitError(EXIT_FAILURE);
}
