import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Variant } from '../../config/variant.js';
import { StepError } from '../../shared/errors.js';
import { awsDomain } from '../naming.js';

/** A change bro generates from the variant file rather than keeping as a patch. */
export interface GeneratedChange {
  /** The commit message: a subject line, then why. */
  message: string;
  /** Edits files in the checkout. */
  apply(dir: string): Promise<void>;
  /** Part of the step's input digest. */
  inputs: unknown;
}

/**
 * The default admin container source, generated from the variant file and the
 * version rather than hand-edited per release: nodes pull the admin image this
 * same build pushes, from the variant's own ECR registry, in the node's region.
 *
 * Upstream sets it in a models TOML file, with a schnauzer template:
 *   [metadata.settings.host-containers.admin.source]
 *   setting-generator = "schnauzer settings.host-containers.admin.source"
 *   template = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.5.2"
 * The file moved between releases (v1.0.4: sources/models/defaults.toml; since v1.1.0:
 * sources/models/shared-defaults/aws-host-containers.toml, which each variant's
 * defaults.d links to), so it is found in the tree: the TOML file under
 * sources/models that has the table, narrowed to those the variant's defaults.d
 * links to when there are several.
 */
export const MODELS_DIR = 'sources/models';
const SECTION = '[metadata.settings.host-containers.admin.source]';

/**
 * The schnauzer template the node renders at boot. A variant's regions are all
 * in one partition (the variant file is checked for that), so the domain is known.
 */
export function adminSourceTemplate(variant: Variant, tag: string): string {
  const image = variant['admin-image'];
  const domain = awsDomain(variant.regions[0] ?? '');
  return `${image['registry-account']}.dkr.ecr.{{ settings.aws.region }}.${domain}/${image.repository}:${tag}`;
}

export function rewriteAdminSource(file: string, text: string, template: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === SECTION);
  if (start < 0) throw new StepError('patch', `${file} has no ${SECTION} table`);
  let end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  if (end < 0) end = lines.length;
  const at = lines.findIndex((l, i) => i > start && i < end && /^\s*template\s*=/.test(l));
  if (at < 0) throw new StepError('patch', `${file}: ${SECTION} has no template key`);
  lines[at] = `template = ${JSON.stringify(template)}`;
  const out = lines.join('\n');
  const parsed = parseToml(out) as {
    metadata?: { settings?: { 'host-containers'?: { admin?: { source?: { template?: string } } } } };
  };
  if (parsed.metadata?.settings?.['host-containers']?.admin?.source?.template !== template) {
    throw new StepError('patch', `Rewriting ${file} did not give the expected admin source template`);
  }
  return out;
}

/**
 * The models file that sets the variant's default admin source, relative to the checkout.
 * Symlinks are not candidates (they are followed from the variant's defaults.d instead).
 */
export async function findAdminSourceFile(dir: string, variantName: string): Promise<string> {
  const models = join(dir, MODELS_DIR);
  const entries = await readdir(models, { recursive: true, withFileTypes: true }).catch((error: unknown) => {
    throw new StepError('patch', `${MODELS_DIR} is missing from the Bottlerocket tree`, { cause: error });
  });
  const candidates: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.toml')) continue;
    const path = join(entry.parentPath, entry.name);
    const text = await readFile(path, 'utf8');
    if (text.split('\n').some((l) => l.trim() === SECTION)) candidates.push(await realpath(path));
  }
  let found = candidates;
  if (candidates.length > 1) {
    const linked = await variantDefaults(join(models, 'src', variantName));
    found = candidates.filter((c) => linked.has(c));
  }
  const shown = (paths: readonly string[]) => paths.map((p) => relative(dir, p)).join(', ');
  if (found.length !== 1) {
    throw new StepError(
      'patch',
      found.length
        ? `${variantName}: ${shown(found)} all set the default admin source (${SECTION})`
        : `No TOML file under ${MODELS_DIR}${candidates.length ? ` that ${variantName}'s defaults.d links to` : ''} has ${SECTION}`,
      {
        hint: 'Upstream changed how the admin container source is set at this tag; update src/build/steps/set-admin-source.ts.',
      },
    );
  }
  return relative(await realpath(dir), found[0]!);
}

/** The real paths of the files a variant's `defaults.d` holds or links to (none before defaults.d existed). */
async function variantDefaults(variantDir: string): Promise<Set<string>> {
  const defaults = join(variantDir, 'defaults.d');
  const names = await readdir(defaults).catch(() => [] as string[]);
  const paths = await Promise.all(names.map((n) => realpath(join(defaults, n)).catch(() => undefined)));
  return new Set(paths.filter((p): p is string => p !== undefined));
}

export function setAdminSource(variant: Variant, tag: string): GeneratedChange {
  const template = adminSourceTemplate(variant, tag);
  return {
    message: `bro: default admin container source ${variant['admin-image'].repository}:${tag}\n\nGenerated by bro from variants/${variant.name}.toml.\nUpstream-Status: Inappropriate [generated per build]`,
    inputs: { template },
    async apply(dir) {
      const file = await findAdminSourceFile(dir, variant.name);
      const path = join(dir, file);
      await writeFile(path, rewriteAdminSource(file, await readFile(path, 'utf8'), template));
    },
  };
}
