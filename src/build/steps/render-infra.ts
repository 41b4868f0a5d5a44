import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml, stringify } from 'smol-toml';
import type { Variant } from '../../config/variant.js';
import { StepError } from '../../shared/errors.js';
import { defineStep } from '../step.js';

/**
 * Render: `Infra.toml.tpl` from the variant, into the Bottlerocket checkout's
 * root, where `cargo make ami` reads it (PUBLISH_INFRA_CONFIG_PATH). Upstream
 * ignores /Infra.toml, so the tree stays clean.
 */

/** A TOML value: strings are quoted and escaped, arrays and numbers as TOML writes them. */
export function tomlValue(value: unknown): string {
  return stringify({ v: value }).replace(/^v = /, '').trim();
}

export async function renderInfraToml(template: string, variant: Variant): Promise<string> {
  const { default: Handlebars } = await import('handlebars');
  const hb = Handlebars.create();
  hb.registerHelper('toml', (value: unknown) => tomlValue(value));
  const text = hb
    .compile(template, { strict: false, noEscape: true })({ variant })
    .replace(/\n{3,}/g, '\n\n');
  try {
    parseToml(text);
  } catch (error) {
    throw new StepError('render', `Infra.toml.tpl rendered invalid TOML for variant ${variant.name}`, {
      cause: error,
      hint: 'Fix Infra.toml.tpl: every value must go through the {{{toml …}}} helper.',
    });
  }
  return text;
}

export async function writeInfraToml(bottlerocketDir: string, text: string): Promise<string> {
  const path = join(bottlerocketDir, 'Infra.toml');
  await writeFile(path, text);
  // Upstream's .gitignore has /Infra.toml; make sure of it, so the tree stays clean whatever the tag.
  const exclude = join(bottlerocketDir, '.git', 'info', 'exclude');
  const current = await readFile(exclude, 'utf8').catch(() => '');
  if (!current.split('\n').includes('/Infra.toml'))
    await appendFile(exclude, `${current && !current.endsWith('\n') ? '\n' : ''}/Infra.toml\n`);
  return path;
}

export const renderStep = defineStep({
  id: 'render',
  title: 'Render Infra.toml',
  external: false,
  needs: ['sources'],
  async run(ctx, { sources }) {
    const text = await renderInfraToml(await ctx.adapters.project.readInfraTemplate(), ctx.variant);
    return { infraPath: await writeInfraToml(sources.sources.bottlerocket.dir, text) };
  },
});
