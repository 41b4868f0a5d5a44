import { Option, type Command } from 'commander';
import type { Io } from '../io.js';
import { projectDirOf } from '../options.js';

export function registerMatrix(program: Command, io: Io): void {
  program
    .command('matrix')
    .description('print every variant × arch as JSON, for CI to fan builds out')
    .addOption(new Option('--project-dir <dir>', 'the bro project (variants/, patches/)').env('BRO_PROJECT_DIR'))
    .option('--github', 'print only {"include": [...]}, the form GitHub Actions\' strategy.matrix takes', false)
    .action(async (raw: Record<string, unknown>) => {
      const { printMatrix } = await import('./matrix.js');
      await printMatrix({ projectDir: projectDirOf(raw, io.env), github: Boolean(raw.github) }, io);
    });
}
