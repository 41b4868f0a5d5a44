import type { Io } from './io.js';
import { Command, CommanderError, Option } from 'commander';
import { broVersion } from '../shared/bro-version.js';
import { EXIT_OK, EXIT_USAGE, formatError, isBroError } from '../shared/errors.js';
import { registerBuild } from './commands/build.cli.js';
import { registerDoctor } from './commands/doctor.cli.js';
import { registerManifest } from './commands/manifest.cli.js';
import { registerMatrix } from './commands/matrix.cli.js';
import { registerPatches } from './commands/patches.cli.js';
import { registerPreview } from './commands/preview.cli.js';
import { registerPromote } from './commands/promote.cli.js';
import { registerPrune } from './commands/prune.cli.js';
import { registerShare } from './commands/share.cli.js';
import { registerUpgrade } from './commands/upgrade.cli.js';
import { registerVariants } from './commands/variants.cli.js';

/**
 * The command line. Each command lives in `commands/<name>.cli.ts`, which
 * declares its options and lazy-imports its implementation, so `bro --help`
 * loads no AWS SDK, listr2 or execa.
 */

/** Runs bro; returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  // `bro --version` as every CLI has it. Only first: after a command, --version is `bro build`'s own option.
  if (argv[0] === '--version') {
    io.stdout.write(`${await broVersion()}\n`);
    return EXIT_OK;
  }
  // `bro help patches check`: commander's help command knows one level only.
  if (argv[0] === 'help' && argv.length > 2) argv = [...argv.slice(1), '--help'];
  const program = new Command('bro')
    .description('Build custom Bottlerocket AMIs from a versioned patch series.')
    .version(await broVersion(), '-V, --bro-version', 'print the bro version (also `bro --version`)')
    .addOption(new Option('--debug', 'show stack traces and every command run').default(false))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const register of [
    registerBuild,
    registerDoctor,
    registerPreview,
    registerPatches,
    registerShare,
    registerPromote,
    registerPrune,
    registerManifest,
    registerMatrix,
    registerUpgrade,
    registerVariants,
  ]) {
    register(program, io);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const debug = Boolean(program.opts().debug) || argv.includes('--debug');
    if (!(isBroError(error) && error.name === 'ExitError')) io.stderr.write(`${formatError(error, debug)}\n`);
    return isBroError(error) ? error.exitCode : 1;
  }
}
