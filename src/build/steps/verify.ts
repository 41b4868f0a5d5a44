import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Runner } from '../../adapters/runner.js';
import { SOURCES, type Series } from '../../config/series.js';
import type { BuildContext, ResolvedSource } from '../context.js';
import { StepError, SubprocessError } from '../../shared/errors.js';
import { parseFormatPatch } from '../../config/patch-file.js';
import { z } from 'zod';
import { defineStep } from '../step.js';
import type { Finding } from '../../preview/index.js';

/**
 * Verify: prove the patched trees before an hour-long build. For the files
 * the series and bro's generated commits changed (pin..HEAD of each checkout):
 * - every Rust file parses (`rustfmt --check --edition 2018`, when rustfmt is
 *   installed; otherwise the title says the check was skipped);
 * - every TOML file parses;
 * - when a template, the defaults or the model changed, every configuration
 *   file of the variant renders, with schnauzer's helpers and handlebars-rust's
 *   rules, twice: with only the sample settings the templates need, and with
 *   every setting of the model set; and the output parses (TOML, kubelet YAML).
 */

/** Files that differ between two commits, deleted ones left out. */
export async function changedFiles(runner: Runner, repo: string, from: string, to: string): Promise<string[]> {
  const { stdout } = await runner.run({
    argv: ['git', 'diff', '--name-only', '--no-renames', '--diff-filter=d', '-z', from, to],
    cwd: repo,
    mode: 'read',
  });
  return stdout.split('\0').filter(Boolean);
}

/** Whether rustfmt can be run; the check is skipped (and said so) when it cannot. */
export async function hasRustfmt(runner: Runner): Promise<boolean> {
  try {
    await runner.run({ argv: ['rustfmt', '--version'], mode: 'read' });
    return true;
  } catch (error) {
    // Not on PATH, or a rustup shim with no toolchain (it exits 1 on --version): either way there is no rustfmt to run.
    if (error instanceof SubprocessError && (error.reason === 'spawn' || error.reason === 'exit')) return false;
    throw error;
  }
}

/**
 * Parses one Rust file with rustfmt, fed on stdin so that `mod x;` lines do
 * not send it looking for files the build generates. Formatting differences
 * are not parse errors and are not reported.
 */
export async function rustParses(runner: Runner, dir: string, file: string): Promise<Finding[]> {
  const source = await readFile(join(dir, file), 'utf8');
  const { exitCode, stderr } = await runner.run({
    argv: ['rustfmt', '--check', '--edition', '2018', '--color', 'never'],
    input: source,
    mode: 'read',
    okExitCodes: [1],
  });
  if (exitCode === 0 && !/^error/m.test(stderr)) return [];
  const message = stderr.replaceAll('<stdin>', file).trim().split('\n').slice(0, 12).join('\n');
  return [{ file, problem: `does not parse:\n${message}` }];
}

export async function tomlParses(dir: string, file: string): Promise<Finding[]> {
  try {
    parseToml(await readFile(join(dir, file), 'utf8'));
    return [];
  } catch (error) {
    return [{ file, problem: `is not valid TOML: ${(error as Error).message.split('\n')[0]}` }];
  }
}

/** Which patch of the series changes each file, for messages. */
export function patchesByFile(series: Series | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const patch of series?.patches ?? []) {
    for (const f of parseFormatPatch(patch.content).files) {
      const path = f.newPath ?? f.oldPath;
      if (path) map.set(path, [...(map.get(path) ?? []), patch.name]);
    }
  }
  return map;
}

export interface VerifyCounts {
  rust: number;
  toml: number;
  templates: string[];
}

/** Verifies one patched checkout. Returns the findings and what was checked. */
export async function verifySource(
  ctx: Pick<BuildContext, 'adapters' | 'variant' | 'version'>,
  source: Pick<ResolvedSource, 'name' | 'dir' | 'mirror' | 'commit'>,
  changed: readonly string[],
  rustfmt: boolean,
): Promise<{ findings: Finding[]; counts: VerifyCounts }> {
  const { dir } = source;
  const { runner } = ctx.adapters;
  const rust = changed.filter((f) => f.endsWith('.rs'));
  const toml = changed.filter((f) => f.endsWith('.toml') || f.endsWith('/Cargo.lock') || f === 'Cargo.lock');
  const findings = (
    await Promise.all([
      ...(rustfmt ? rust.map((f) => rustParses(runner, dir, f)) : []),
      ...toml.map((f) => tomlParses(dir, f)),
    ])
  ).flat();
  const counts: VerifyCounts = { rust: rustfmt ? rust.length : 0, toml: toml.length, templates: [] };
  if (source.name === 'bottlerocket' && findings.length === 0) {
    const { verifyTemplates } = await import('../../preview/index.js');
    const readAtPin = (path: string) => ctx.adapters.git.showFile(source.mirror, source.commit, path);
    const result = await verifyTemplates(dir, ctx.variant, ctx.version, changed, readAtPin);
    findings.push(...result.findings);
    for (const warning of result.warnings) ctx.adapters.warn(`verify: ${warning}`);
    counts.templates = result.rendered;
  }
  return { findings, counts };
}

/** Bump when the checks change, so that trees verified by an older bro are verified again. */
const VERIFY_RULES = 1;

export const verifyStep = defineStep({
  id: 'verify',
  title: 'Verify the patched tree',
  external: false,
  needs: ['sources', 'patch'],
  // The same patched commits, variant and checks give the same verdict: a rerun skips it.
  async inputs(ctx, { patch }) {
    return {
      rules: VERIFY_RULES,
      heads: patch.patchedHeads,
      variant: ctx.variant,
      version: ctx.version.full,
      rustfmt: await hasRustfmt(ctx.adapters.runner),
    };
  },
  // It records only that it passed.
  outputs: z.object({}),
  async run(ctx, input, task) {
    const { sources } = input.sources;
    const { patchedHeads, series } = input.patch;
    const { runner } = ctx.adapters;
    const rustfmt = await hasRustfmt(runner);
    const problems: string[] = [];
    const totals = { rust: 0, toml: 0, templates: [] as string[] };
    for (const name of SOURCES) {
      const source = sources[name];
      task.output = `${name}: checking the files the patches change`;
      const changed = await changedFiles(runner, source.dir, source.commit, patchedHeads[name]);
      const { findings, counts } = await verifySource(ctx, source, changed, rustfmt);
      const origin = patchesByFile(series[name]);
      for (const f of findings) {
        const from = origin.get(f.file);
        problems.push(`${name}: ${f.file}${from ? ` (changed by ${from.join(', ')})` : ''} ${f.problem}`);
      }
      totals.rust += counts.rust;
      totals.toml += counts.toml;
      totals.templates.push(...counts.templates);
    }
    if (problems.length) {
      throw new StepError(
        'verify',
        `The patched tree does not verify:\n${problems.map((p) => `  ✖ ${p.replace(/\n/g, '\n    ')}`).join('\n')}`,
        {
          hint: 'Fix the patch named above, then rerun. `bro preview` renders the configuration with your own user data.',
        },
      );
    }
    const rustPart = rustfmt
      ? `${totals.rust} Rust files parse`
      : 'Rust check skipped (rustfmt is not installed or does not run)';
    task.title = `Verify the patched tree: ${rustPart}, ${totals.toml} TOML files parse, ${totals.templates.length} patched templates render`;
    return {};
  },
});
