import { Option, type Command } from 'commander';
import type { Io } from '../io.js';
import { commonOptions, isDebug, minFreeDiskOption, projectDirOption } from '../options.js';

export function registerDoctor(program: Command, io: Io): void {
  program
    .command('doctor')
    .description('check that this host can build: Docker engine, cargo make, disk, cores, AWS identity, accounts')
    .argument('[variant]', 'the variant to check (default: the first in variants/)')
    .addOption(projectDirOption())
    .addOption(
      new Option('--work-dir <dir>', 'the workspace whose disk is measured (default: <project-dir>/work/<variant>)'),
    )
    .addOption(minFreeDiskOption())
    .option('--json', 'print the checks as one versioned JSON document', false)
    .action(async (variant: string | undefined, raw: Record<string, unknown>, command: Command) => {
      const { runDoctor } = await import('./doctor.js');
      await runDoctor(
        {
          ...commonOptions(raw, io.env, isDebug(command)),
          variant,
          json: Boolean(raw.json),
          minFreeDiskGiB: raw.minFreeDisk === undefined ? undefined : Number(raw.minFreeDisk),
        },
        io,
      );
    });
}
