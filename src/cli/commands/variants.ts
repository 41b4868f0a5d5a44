import { resolve } from 'node:path';
import { stringify } from 'smol-toml';
import { createProject } from '../../adapters/project.js';
import type { Io } from '../io.js';

export async function listVariants(projectDir: string, io: Io): Promise<void> {
  const project = createProject(resolve(projectDir));
  for (const name of await project.requireVariants()) {
    const variant = await project.readVariant(name);
    io.stdout.write(`${name}\t${variant.arch}\t${variant.regions.join(',')}\n`);
  }
}

export async function showVariant(projectDir: string, name: string, io: Io): Promise<void> {
  const variant = await createProject(resolve(projectDir)).readVariant(name);
  io.stdout.write(stringify(variant));
  io.stdout.write('\n');
}
