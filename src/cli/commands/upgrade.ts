import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createAdapters } from '../../adapters/index.js';
import { createGitPlumbing } from '../../adapters/git-plumbing.js';
import { createGitTrees } from '../../adapters/git-trees.js';
import { createRollback } from '../../adapters/rollback.js';
import { prepareDir } from '../../adapters/user-paths.js';
import type { CommonOptions } from '../../build/index.js';
import { readUserData, upgradeVariant, type UpgradeResult } from '../../patches/index.js';
import { ConfigError, UsageError } from '../../shared/errors.js';
import type { Io } from '../io.js';
import { workDirFor } from '../options.js';

/** `bro upgrade <variant> --to <tag>`: the command's glue; the work is in src/patches/upgrade/. */

export interface UpgradeOptions extends CommonOptions {
  variant: string;
  to: string;
  userData?: string;
  userDataOut?: string;
  restart: boolean;
  fetch: boolean;
  json: boolean;
}

/**
 * `--json`: the upgrade's report for machines. Schema 1. The migrated user
 * data itself (it holds credentials) is not in it: only what moved, what was
 * kept or dropped, and the redacted diff.
 */
export const UPGRADE_REPORT_SCHEMA_VERSION = 1;

/** How the user reruns this upgrade, for the instructions of a stop. */
function rerunCommand(options: UpgradeOptions): string {
  const flags = [`--to ${options.to}`];
  if (options.projectDir !== process.cwd()) flags.push(`--project-dir ${options.projectDir}`);
  if (options.workDir) flags.push(`--work-dir ${options.workDir}`);
  if (options.userData) flags.push(`--user-data ${options.userData}`);
  if (options.userDataOut) flags.push(`--user-data-out ${options.userDataOut}`);
  return `bro upgrade ${options.variant} ${flags.join(' ')}`;
}

export async function runUpgrade(options: UpgradeOptions, io: Io): Promise<void> {
  if (options.userDataOut && !options.userData) {
    throw new UsageError('--user-data-out needs --user-data (the file to migrate)', {
      hint: 'Add --user-data <old.toml>.',
    });
  }
  // User data that does not parse stops the upgrade before it starts.
  let userData: { file: string; text: string } | undefined;
  if (options.userData) {
    const text = await readFile(resolve(options.userData), 'utf8').catch((error: unknown) => {
      throw new ConfigError(options.userData!, 'cannot be read', {
        cause: error,
        hint: 'Pass the user data file of a node on the old base.',
      });
    });
    readUserData(options.userData, text);
    userData = { file: options.userData, text };
  }
  const adapters = createAdapters({ ...options, dryRun: false, env: io.env, stderr: io.stderr });
  await prepareDir('--cache-dir', options.cacheDir);
  const rollback = createRollback();
  let result: UpgradeResult;
  try {
    result = await rollback.run(adapters.runner, () =>
      upgradeVariant(
        {
          adapters,
          plumbing: createGitPlumbing(adapters.runner, rollback.signal),
          trees: createGitTrees(adapters.runner),
          rollback,
        },
        {
          variant: options.variant,
          to: options.to,
          root: join(workDirFor(options, options.variant), 'upgrade'),
          fetch: options.fetch,
          restart: options.restart,
          userData,
          rerun: rerunCommand(options),
        },
      ),
    );
  } finally {
    for (const warning of adapters.warnings) io.stderr.write(`! ${warning}\n`);
  }
  const written = options.userDataOut && result.userData ? options.userDataOut : undefined;
  if (written) await writeFile(resolve(written), result.userData!.text, { mode: 0o600 });
  io.stdout.write(
    adapters.redactor.redact(
      options.json ? `${JSON.stringify(upgradeReport(result, written), null, 2)}\n` : formatUpgrade(result),
    ),
  );
  if (written && !options.json) io.stdout.write(`Wrote ${written}.\n`);
}

/** The report as one versioned document: each source's patches (carried, and dropped with why), the variant's entry, the user data's migration. */
export function upgradeReport(result: UpgradeResult, userDataOut?: string) {
  const ud = result.userData;
  return {
    schemaVersion: UPGRADE_REPORT_SCHEMA_VERSION,
    kind: 'bro.upgrade.report',
    variant: result.variant,
    from: result.from,
    to: result.to,
    admin: result.admin,
    sources: result.sources.map((s) => ({
      source: s.source,
      from: s.from,
      to: s.to,
      dir: s.dir,
      status: s.status,
      ...(s.result ? { patches: s.result.patches, dropped: s.result.dropped } : {}),
    })),
    variantFile: result.variantFile,
    rerere: result.rerere,
    ...(ud
      ? {
          userData: {
            moved: ud.migration.moved,
            carried: ud.migration.carried,
            dropped: ud.migration.dropped,
            notes: ud.migration.notes,
            diff: ud.diff,
            ...(userDataOut ? { written: userDataOut } : {}),
          },
        }
      : {}),
  };
}

export function formatUpgrade(result: UpgradeResult): string {
  const lines = [
    `Upgraded ${result.variant}: Bottlerocket ${result.from.tag} → ${result.to.tag}, admin container ${result.admin.version} (${result.to.tag}'s default, from ${result.admin.file}).`,
  ];
  for (const s of result.sources) {
    if (s.status !== 'written' || !s.result) {
      lines.push(`${s.source}: ${s.dir}/ is already there: kept as it is.`);
      continue;
    }
    const { patches, dropped } = s.result;
    const width = Math.max(0, ...[...patches, ...dropped].map((p) => p.name.length));
    lines.push(`${s.source}: ${s.dir}/ from ${s.from} (${patches.length} patches, ${dropped.length} dropped):`);
    for (const p of patches) {
      const moves = p.moves.map((m) => `${m.from} → ${m.to}`).join(', ');
      lines.push(
        `  ${p.name.padEnd(width)}  ${p.outcome === 'unchanged' ? 'carried' : p.outcome}${moves ? ` (moved: ${moves})` : ''}`,
      );
    }
    for (const d of dropped) lines.push(`  ${d.name.padEnd(width)}  dropped: ${d.reason}`);
  }
  lines.push(`${result.variantFile.path}: ${result.variantFile.entry}.`);
  lines.push(
    `Resolutions of conflicts (git rerere) live in ${result.rerere.dir}/<source>/ (${result.rerere.recorded} recorded by this run); the next upgrade replays them.`,
  );
  const ud = result.userData;
  if (ud) {
    lines.push('', 'User data on the new base:');
    for (const m of ud.migration.moved) {
      const fields = Object.entries(m.fields).map(([a, b]) => `${a} → ${b}`);
      const why = [...fields, ...(m.patch ? [`upstream's form of ${m.patch}, dropped`] : [])];
      lines.push(`  moved: ${m.from} → ${m.to}${why.length ? ` (${why.join('; ')})` : ''}`);
    }
    for (const c of ud.migration.carried)
      lines.push(`  kept: ${c} (the new series adds it; upstream has no equivalent)`);
    for (const d of ud.migration.dropped) lines.push(`  cannot move: ${d.key}: ${d.reason}`);
    for (const n of ud.migration.notes) lines.push(`  ${n}`);
    lines.push(ud.diff ? ud.diff.trimEnd() : '  (no change)');
  }
  const version = result.to.tag.slice(1);
  lines.push('', `Next: bro build ${result.variant} --version ${version}-<build> --dry-run`, '');
  return lines.join('\n');
}
