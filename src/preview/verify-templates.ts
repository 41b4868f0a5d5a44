import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Variant } from '../config/variant.js';
import type { BuildVersion } from '../config/version.js';
import { parse as parseToml } from 'smol-toml';
import { mergeValues, MODELS_DIR, type TomlTable } from './defaults.js';
import { jsonEqual, TemplateRenderError } from './engine.js';
import { setPath } from './generators.js';
import { checkValue, sampleValue, typeAt, type ModelType } from './model.js';
import { osRelease, renderNode, type NodeRender } from './render-node.js';
import { loadVariantTree, SCHNAUZER_LIB, type VariantTree } from './tree.js';

/**
 * The template part of the verify step: the variant's configuration files
 * rendered for a sample node, as the patched tree's own templates, defaults
 * and model make them, twice: with every setting of the model set, and with
 * only what the templates need. Strict mode finds what they need: the
 * "minimal" render starts from the defaults alone and adds a sample value for
 * each setting a template asks for, which must exist in the model.
 */
const MAX_ROUNDS = 100;

/** Facts of the sample node the templates are rendered for. */
export const SAMPLE_NODE = { instanceType: 'm5.large', cpus: 2 } as const;

/** Something wrong with one file of the patched tree. */
export interface Finding {
  file: string;
  problem: string;
}

function renderFor(tree: VariantTree, variant: Variant, version: BuildVersion, settings: TomlTable): NodeRender {
  const facts = {
    ...SAMPLE_NODE,
    region: variant.regions[0] ?? 'us-east-1',
    arch: variant.arch,
    eniMaxPods: tree.eniMaxPods,
  };
  return renderNode(tree, settings, facts, osRelease(variant, version));
}

/** A missing setting that the model has, so a sample can stand in for it. */
const fixable = (tree: VariantTree, error: TemplateRenderError | undefined) =>
  error?.missing?.startsWith('settings.') && typeAt(tree.model, error.missing) ? error.missing : undefined;

/** Renders with only the settings the templates need: sample values are added for each setting a template asks for. */
function renderMinimal(tree: VariantTree, variant: Variant, version: BuildVersion): NodeRender {
  const settings: TomlTable = {};
  for (let round = 0; ; round++) {
    const render = renderFor(tree, variant, version, settings);
    const missing = render.files.map((f) => fixable(tree, f.error)).filter((m): m is string => m !== undefined);
    if (missing.length === 0 || round === MAX_ROUNDS) return render;
    for (const key of missing)
      setPath(settings, key.slice('settings.'.length), sampleValue(typeAt(tree.model, key) as ModelType));
  }
}

/**
 * What is wrong with each rendered file. A template that uses a setting the
 * model lacks is always wrong; other failures count against the patches only
 * in the templates they change (elsewhere they may be bro's emulation falling
 * short, and are warnings).
 */
function judge(
  tree: VariantTree,
  render: NodeRender,
  label: string,
  patched: ReadonlySet<string>,
): { findings: Finding[]; warnings: string[] } {
  const findings: Finding[] = [];
  const warnings: string[] = [];
  for (const file of render.files) {
    const { error } = file;
    if (error?.missing?.startsWith('settings.') && !typeAt(tree.model, error.missing)) {
      findings.push({
        file: file.source,
        problem: `uses ${error.missing}, which the ${tree.variant} model does not have`,
      });
      continue;
    }
    const problems = error
      ? [`does not render ${label}: ${error.message}`]
      : file.problems.map((p) => `renders ${file.path} ${label}, but it is ${p}`);
    if (patched.has(file.source)) findings.push(...problems.map((problem) => ({ file: file.source, problem })));
    else warnings.push(...problems.map((p) => `${file.source} (not patched) ${p}`));
  }
  return { findings, warnings };
}

/** Dotted keys of every leaf (scalar or array) of a table, with their values. */
function leaves(table: unknown, prefix: string, out = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof table !== 'object' || table === null || Array.isArray(table) || table instanceof Date)
    out.set(prefix, table);
  else for (const [k, v] of Object.entries(table)) leaves(v, `${prefix}.${k}`, out);
  return out;
}

/**
 * The default settings the series adds or changes must fit the model: storewolf
 * writes defaults without checking them, and the API fails to read a datastore
 * that does not fit. Only what the patches change is checked.
 */
async function checkChangedDefaults(
  tree: VariantTree,
  readAtPin: (path: string) => Promise<string | undefined>,
): Promise<Finding[]> {
  const files = tree.defaultsFiles;
  const tables = await Promise.all(files.map(async (f) => parseToml((await readAtPin(f)) ?? '') as TomlTable));
  const before = leaves(tables.reduce<TomlTable>((merged, t) => mergeValues(merged, t), {}).settings ?? {}, 'settings');
  const changed: TomlTable = {};
  for (const [key, value] of leaves(tree.defaults.settings ?? {}, 'settings')) {
    if (!before.has(key) || !jsonEqual(before.get(key), value)) setPath(changed, key, value);
  }
  const problems = checkValue(tree.model.settings, changed.settings ?? {}, 'settings');
  return problems.map((p) => ({
    file: files.join(' + '),
    problem: `set ${p.key}, which the model refuses: ${p.message}`,
  }));
}

export async function verifyTemplates(
  dir: string,
  variant: Variant,
  version: BuildVersion,
  changed: readonly string[],
  readAtPin: (path: string) => Promise<string | undefined>,
): Promise<{ findings: Finding[]; warnings: string[]; rendered: string[] }> {
  const tree = await loadVariantTree(dir, variant.name);
  const changedSet = new Set(changed);
  const relevant = changed.some(
    (f) => f.startsWith(`${MODELS_DIR}/`) || f === SCHNAUZER_LIB || tree.configFiles.some((c) => c.source === f),
  );
  const findings: Finding[] = [];
  // Other templates the patches touch (other variants' files): they must at least parse.
  for (const file of changed.filter(
    (f) => f.startsWith('packages/') && !tree.configFiles.some((c) => c.source === f),
  )) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => '');
    if (!text.includes('{{')) continue;
    try {
      tree.engine.parse(file, text);
    } catch (error) {
      findings.push({ file, problem: (error as Error).message });
    }
  }
  if (!relevant) return { findings, warnings: [], rendered: [] };

  findings.push(...(await checkChangedDefaults(tree, readAtPin)));
  const warnings: string[] = [];
  const renders: [string, () => NodeRender][] = [
    ['with only the settings it needs', () => renderMinimal(tree, variant, version)],
    ['with every setting set', () => renderFor(tree, variant, version, sampleValue(tree.model.settings) as TomlTable)],
  ];
  for (const [label, render] of renders) {
    try {
      const judged = judge(tree, render(), label, changedSet);
      findings.push(...judged.findings);
      warnings.push(...judged.warnings);
    } catch (error) {
      // A schnauzer setting template (setting-generator metadata in the defaults) failed.
      if (!(error instanceof TemplateRenderError)) throw error;
      findings.push({
        file: tree.defaultsFiles.join(' or '),
        problem: `has a setting template that does not render ${label}: ${error.message}`,
      });
    }
  }
  return {
    findings,
    warnings: [...new Set(warnings)],
    rendered: tree.configFiles.filter((c) => changedSet.has(c.source)).map((c) => c.source),
  };
}
