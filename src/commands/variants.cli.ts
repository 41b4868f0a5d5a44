import type { Command } from 'commander';
import type { Io } from '../cli.js';

export function registerVariants(program: Command, io: Io): void {
  const variants = program
    .command('variants')
    .description('list the variants in variants/')
    .option('--project-dir <dir>', 'the bro project (variants/, patches/)')
    .action(async (raw: Record<string, unknown>) => {
      const { listVariants } = await import('./variants.js');
      await listVariants(String(raw.projectDir ?? io.env.BRO_PROJECT_DIR ?? '.'), io);
    });
  variants
    .command('show')
    .description('print the resolved configuration of a variant, defaults filled in')
    .argument('<name>', 'the variant name')
    .option('--project-dir <dir>', 'the bro project (variants/, patches/)')
    .action(async (name: string, raw: Record<string, unknown>) => {
      const { showVariant } = await import('./variants.js');
      await showVariant(String(raw.projectDir ?? io.env.BRO_PROJECT_DIR ?? '.'), name, io);
    });
}
