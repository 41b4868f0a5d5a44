import type { Command } from 'commander';
import type { Io } from '../io.js';
import { addCommonOptions, commonOptions, isDebug } from '../options.js';

export function registerManifest(program: Command, io: Io): void {
  const manifest = program.command('manifest').description('the release manifest a build wrote');
  addCommonOptions(
    manifest
      .command('show')
      .description("print the release manifest of a variant's workspace (or of --manifest FILE)")
      .argument('[variant]', 'the variant whose workspace holds the manifest'),
  )
    .option('--manifest <file>', 'read this manifest file instead')
    .option('--json', 'print the manifest document itself', false)
    .action(async (variant: string | undefined, raw: Record<string, unknown>, command: Command) => {
      const { showManifest } = await import('./manifest.js');
      await showManifest(
        {
          ...commonOptions(raw, io.env, isDebug(command), { projectOptional: Boolean(raw.manifest) }),
          variant,
          manifest: raw.manifest ? String(raw.manifest) : undefined,
          json: Boolean(raw.json),
        },
        io,
      );
    });
}
