import type { Command } from 'commander';
import type { Io } from '../io.js';
import { projectDirOf } from '../options.js';

export function registerVariants(program: Command, io: Io): void {
  // `bro variants show x --project-dir d`: commander gives --project-dir to `variants`, so read it with the parent's.
  const projectDir = (command: Command) =>
    projectDirOf({ projectDir: command.optsWithGlobals().projectDir ?? io.env.BRO_PROJECT_DIR }, io.env);
  const variants = program
    .command('variants')
    .description('list the variants in variants/')
    .option('--project-dir <dir>', 'the bro project (variants/, patches/)')
    .action(async (_raw: Record<string, unknown>, command: Command) => {
      const { listVariants } = await import('./variants.js');
      await listVariants(projectDir(command), io);
    });
  variants
    .command('show')
    .description('print the resolved configuration of a variant, defaults filled in')
    .argument('<name>', 'the variant name')
    .option('--project-dir <dir>', 'the bro project (variants/, patches/)')
    .action(async (name: string, _raw: Record<string, unknown>, command: Command) => {
      const { showVariant } = await import('./variants.js');
      await showVariant(projectDir(command), name, io);
    });
}
