import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Io } from '../io.js';
import { addCommonOptions, ciOption, commonOptions, isDebug, updateLockOption, VARIANT_ARGUMENT } from '../options.js';

const cpuCount = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096)
    throw new InvalidArgumentError('--cpus must be a whole number of CPUs, from 1 to 4096');
  return n;
};

const instanceType = (value: string) => {
  if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(value))
    throw new InvalidArgumentError('--instance-type must be an EC2 instance type such as m5.large');
  return value;
};

export function registerPreview(program: Command, io: Io): void {
  addCommonOptions(
    program
      .command('preview')
      .description(
        'fetch and patch (no build), then render the files a node would write from your user data, and check them',
      )
      .argument(...VARIANT_ARGUMENT)
      .requiredOption('--version <version>', 'the upstream release and build suffix, e.g. 1.0.4-hc1')
      .requiredOption('--user-data <file>', 'the user data (TOML) to check, e.g. examples/user-data.toml'),
  )
    .addOption(
      new Option(
        '--instance-type <type>',
        'the EC2 instance type: max pods and kubeReserved memory come from it (default: m5.large, as a sample)',
      ).argParser(instanceType),
    )
    .addOption(
      new Option(
        '--cpus <n>',
        "the instance's CPU count: kubeReserved cpu comes from it (default: 2, as a sample)",
      ).argParser(cpuCount),
    )
    .option('--out <dir>', 'write the rendered files here (default: <work-dir>/preview)')
    .option('--json', 'print one versioned JSON document instead of the summary', false)
    .addOption(updateLockOption())
    .addOption(ciOption())
    .action(async (variant: string, raw: Record<string, unknown>, command: Command) => {
      const { runPreview } = await import('./preview.js');
      await runPreview(
        {
          ...commonOptions(raw, io.env, isDebug(command)),
          variant,
          version: String(raw.version),
          userData: resolve(String(raw.userData)),
          instanceType: raw.instanceType === undefined ? undefined : String(raw.instanceType),
          cpus: raw.cpus === undefined ? undefined : Number(raw.cpus),
          out: raw.out === undefined ? undefined : resolve(String(raw.out)),
          json: Boolean(raw.json),
          updateLock: Boolean(raw.updateLock),
          ci: Boolean(raw.ci),
        },
        io,
      );
    });
}
