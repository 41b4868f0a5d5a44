import type { Variant } from '../config/variant.js';
import type { BuildVersion } from '../config/version.js';
import { overlay, type TomlTable } from './defaults.js';
import { TemplateRenderError } from './engine.js';
import { formatOf, parseRendered, type Format } from './formats.js';
import { generate, type GeneratedValue, type NodeFacts } from './generators.js';
import type { ConfigFile, VariantTree } from './tree.js';

/**
 * What a node writes at boot from its settings: model defaults, then the
 * region from the instance identity document and the user data (as
 * early-boot-config sends them), then sundog's generated values, then every
 * configuration file rendered by thar-be-settings from the whole model.
 */

/** `os` in the template data: BottlerocketRelease. */
export interface OsRelease {
  pretty_name: string;
  variant_id: string;
  version_id: string;
  build_id: string;
  arch: string;
}

/** os-release as tools/rpm2img writes it: BUILD_ID is the build suffix (BUILDSYS_VERSION_BUILD). */
export function osRelease(variant: Pick<Variant, 'name' | 'arch'>, version: BuildVersion): OsRelease {
  return {
    pretty_name: `Bottlerocket OS ${version.upstream}`,
    variant_id: variant.name,
    version_id: version.upstream,
    build_id: version.build,
    arch: variant.arch,
  };
}

export interface RenderedFile extends ConfigFile {
  text: string;
  format: Format;
  /** The parsed document (TOML or YAML), when it parses. */
  parsed?: unknown;
  problems: string[];
  /** Why the template did not render (then `text` is empty): the node would fail to write the file. */
  error?: TemplateRenderError;
}

export interface NodeRender {
  /** Every setting the node ends up with. */
  settings: TomlTable;
  generated: GeneratedValue[];
  notes: string[];
  files: RenderedFile[];
}

export function renderNode(tree: VariantTree, userSettings: TomlTable, facts: NodeFacts, os: OsRelease): NodeRender {
  const defaults = (tree.defaults.settings ?? {}) as TomlTable;
  const settings = overlay(overlay(defaults, { aws: { region: facts.region } }), userSettings);
  const data = {
    settings,
    os,
    services: tree.defaults.services ?? {},
    'configuration-files': tree.defaults['configuration-files'] ?? {},
  };
  const { generated, notes } = generate(tree.defaults, data, facts, (name, template, root) =>
    tree.engine.render(name, template, root, { cpus: facts.cpus }),
  );
  const files = tree.configFiles.map((file): RenderedFile => {
    const format = formatOf(file.name, file.path);
    try {
      const text = tree.engine.render(file.name, file.template, data, { cpus: facts.cpus });
      const { value, problems } = parseRendered(format, text);
      return { ...file, text, format, parsed: value, problems };
    } catch (error) {
      if (!(error instanceof TemplateRenderError)) throw error;
      return { ...file, text: '', format, problems: [], error };
    }
  });
  return { settings, generated, notes, files };
}
