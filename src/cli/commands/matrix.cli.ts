import type { Command } from 'commander';
import type { Io } from '../io.js';
import { projectDirOf, projectDirOption } from '../options.js';

export function registerMatrix(program: Command, io: Io): void {
  program
    .command('matrix')
    .description('print every variant × arch as JSON, for CI to fan builds out')
    .addOption(projectDirOption())
    .option('--github', 'print only {"include": [...]}, the form GitHub Actions\' strategy.matrix takes', false)
    .action(async (raw: Record<string, unknown>) => {
      const { printMatrix } = await import('./matrix.js');
      await printMatrix({ projectDir: projectDirOf(raw, io.env), github: Boolean(raw.github) }, io);
    });
}
