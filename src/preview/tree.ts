import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadDefaults, type TomlTable } from './defaults.js';
import { createEngine, type Engine, type Helper } from './engine.js';
import { ENI_MAX_PODS_PATH } from './generators.js';
import { loadModel, type Model } from './model.js';
import { registeredHelperNames, schnauzerHelpers } from './schnauzer.js';

/**
 * What preview and verify read from a (patched) Bottlerocket checkout for
 * one variant: the merged defaults, the API model, schnauzer's helpers, the
 * configuration files with their template sources, and eni-max-pods.
 */
export const SCHNAUZER_LIB = 'sources/api/schnauzer/src/lib.rs';
export const SCHNAUZER_HELPERS = 'sources/api/schnauzer/src/helpers.rs';
/** The workspace lock: which handlebars-rust schnauzer is built with. */
export const CARGO_LOCK = 'sources/Cargo.lock';

/** The major version of the `handlebars` package in a Cargo.lock; 3 when it has none (v1.0.4 locks 3.5.1). */
export function handlebarsMajor(cargoLock: string): number {
  const version = /\[\[package\]\]\s*name = "handlebars"\s*version = "(\d+)\./.exec(cargoLock)?.[1];
  return version ? Number(version) : 3;
}

export interface ConfigFile {
  /** The name in `configuration-files`, e.g. `containerd-config-toml`. */
  name: string;
  /** Where the node writes it, e.g. `/etc/containerd/config.toml`. */
  path: string;
  /** The template's source in the tree, e.g. `packages/containerd/containerd-config-toml_aws-k8s`. */
  source: string;
  template: string;
}

export interface VariantTree {
  root: string;
  variant: string;
  modelDir: string;
  /** The defaults files merged into `defaults`, in order. */
  defaultsFiles: string[];
  defaults: TomlTable;
  model: Model;
  engine: Engine;
  configFiles: ConfigFile[];
  /** Configuration files whose template source bro could not find in packages/. */
  unlocated: string[];
  eniMaxPods: string;
}

/** Every file directly under packages/<pkg>/, as `packages/<pkg>/<file>`, by file name. */
async function packageFiles(root: string): Promise<Map<string, string[]>> {
  const index = new Map<string, string[]>();
  const packages = (await readdir(join(root, 'packages'), { withFileTypes: true }).catch(() => [])).filter((e) =>
    e.isDirectory(),
  );
  for (const pkg of packages) {
    for (const file of await readdir(join(root, 'packages', pkg.name)))
      index.set(file, [...(index.get(file) ?? []), `packages/${pkg.name}/${file}`]);
  }
  return index;
}

/**
 * The template source for an installed template path: `packages/<pkg>/<name>`
 * (or `<name>.template`, as packages/release names motd). Several packages
 * (kubernetes-1.15 … 1.18) have the same file: the variant's version picks one.
 */
export function locateTemplate(
  files: Map<string, string[]>,
  templatePath: string,
  variant: string,
): string | undefined {
  const name = basename(templatePath);
  const candidates = [...(files.get(name) ?? []), ...(files.get(`${name}.template`) ?? [])];
  const version = /-(\d+(?:\.\d+)*)$/.exec(variant)?.[1];
  return candidates.find((c) => version && c.split('/')[1]?.endsWith(`-${version}`)) ?? candidates[0];
}

export async function loadVariantTree(root: string, variant: string): Promise<VariantTree> {
  const { modelDir, files: defaultsFiles, merged } = await loadDefaults(root, variant);
  const model = await loadModel(root, modelDir);
  const [libRs, helpersRs, cargoLock] = await Promise.all(
    [SCHNAUZER_LIB, SCHNAUZER_HELPERS, CARGO_LOCK].map((f) => readFile(join(root, f), 'utf8').catch(() => '')),
  );
  const known = schnauzerHelpers(helpersRs ?? '');
  // Templates may use exactly the helpers this tree's schnauzer registers; one bro cannot simulate fails where it is used.
  const helpers: Record<string, Helper> = Object.fromEntries(
    registeredHelperNames(libRs ?? '').map((name): [string, Helper] => [
      name,
      known[name] ??
        (() => {
          throw new Error(
            `bro does not simulate the helper "${name}" that ${SCHNAUZER_LIB} registers; port it to src/preview/schnauzer.ts`,
          );
        }),
    ]),
  );
  const engine = await createEngine(helpers, { handlebars4: handlebarsMajor(cargoLock ?? '') >= 4 });

  const packages = await packageFiles(root);
  const files = (merged['configuration-files'] ?? {}) as Record<string, { path?: string; 'template-path'?: string }>;
  const used = new Set(
    Object.values((merged.services ?? {}) as Record<string, { 'configuration-files'?: string[] }>).flatMap(
      (s) => s['configuration-files'] ?? [],
    ),
  );
  const configFiles: ConfigFile[] = [];
  const unlocated: string[] = [];
  for (const name of [...used].sort()) {
    const file = files[name];
    const source = file?.['template-path'] ? locateTemplate(packages, file['template-path'], variant) : undefined;
    if (!file?.path || !source) {
      unlocated.push(name);
      continue;
    }
    configFiles.push({ name, path: file.path, source, template: await readFile(join(root, source), 'utf8') });
  }
  const eniMaxPods = await readFile(join(root, ENI_MAX_PODS_PATH), 'utf8').catch(() => '');
  return {
    root,
    variant,
    modelDir,
    defaultsFiles,
    defaults: merged,
    model,
    engine,
    configFiles,
    unlocated,
    eniMaxPods,
  };
}
