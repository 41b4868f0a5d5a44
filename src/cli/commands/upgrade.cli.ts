import { Option, type Command } from 'commander';
import type { Io } from '../io.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

export function registerUpgrade(program: Command, io: Io): void {
  addCommonOptions(
    program
      .command('upgrade')
      .description(
        'carry the variant to a newer Bottlerocket tag: the smallest series for it in patches/, the admin container it defaults to in the variant file, and (with --user-data) the same node in the new settings',
      )
      .argument('<variant>', 'the variant, as in variants/<variant>.toml')
      .requiredOption('--to <tag>', 'the Bottlerocket release tag to go to, e.g. v1.7.2'),
  )
    .addOption(
      new Option('--user-data <file>', 'user data for the old base: show it migrated to the new one, as a diff'),
    )
    .addOption(new Option('--user-data-out <file>', 'write the migrated user data there (needs --user-data)'))
    .option(
      '--restart',
      'throw away a rebase left in the workspace (stopped at a conflict, or changed) and start again',
      false,
    )
    .option('--no-fetch', 'use the cached mirrors as they are; do not fetch new tags')
    .option('--json', 'print the report as one versioned JSON document (no credentials in it)', false)
    .action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
      const { runUpgrade } = await import('./upgrade.js');
      await runUpgrade(
        {
          ...commonOptions(raw, io.env, isDebug(command)),
          variant,
          to: String(raw.to),
          userData: raw.userData === undefined ? undefined : String(raw.userData),
          userDataOut: raw.userDataOut === undefined ? undefined : String(raw.userDataOut),
          restart: Boolean(raw.restart),
          fetch: raw.fetch !== false,
          json: Boolean(raw.json),
        },
        io,
      );
    });
}
