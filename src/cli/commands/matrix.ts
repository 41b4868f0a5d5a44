import { resolve } from 'node:path';
import { createProject } from '../../adapters/project.js';
import type { Io } from '../io.js';

/**
 * `bro matrix`: every variant × arch, as JSON, so CI can fan builds out over
 * build hosts. `--github` prints the `{"include": [...]}` object GitHub
 * Actions' `strategy.matrix` takes through `fromJSON()`.
 */
export const MATRIX_SCHEMA_VERSION = 1;

export interface MatrixEntry {
  variant: string;
  arch: string;
  regions: string[];
}

export async function printMatrix(options: { projectDir: string; github: boolean }, io: Io): Promise<void> {
  const project = createProject(resolve(options.projectDir));
  const include: MatrixEntry[] = [];
  for (const name of await project.requireVariants()) {
    const variant = await project.readVariant(name);
    include.push({ variant: variant.name, arch: variant.arch, regions: variant.regions });
  }
  const document = options.github ? { include } : { schemaVersion: MATRIX_SCHEMA_VERSION, kind: 'bro.matrix', include };
  io.stdout.write(`${JSON.stringify(document)}\n`);
}
