import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { defaultsFiles } from '../../preview/index.js';
import { StepError } from '../../shared/errors.js';
import { isTable, type Table } from './migrate-user-data.js';

/**
 * What an upgrade reads from a Bottlerocket tree (its `sources/models/`,
 * extracted at a commit with a series applied), besides the variant's API
 * model (preview's `loadVariantModel`): the admin container version its
 * defaults name, in every TOML the variant's model directory takes, in
 * upstream's order (preview's `defaultsFiles`).
 */
export const MODELS = 'sources/models';

/**
 * The admin container release the variant's defaults pull
 * (`settings.host-containers.admin.source`, or the template its setting
 * generator renders): the image tag after `bottlerocket-admin:`.
 */
export async function adminDefault(tree: string, variant: string): Promise<{ version: string; file: string }> {
  const { files } = await defaultsFiles(tree, variant);
  let found: { version: string; file: string } | undefined;
  for (const file of files) {
    const text = await readFile(join(tree, file), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let data: Table;
    try {
      data = parseToml(text);
    } catch (error) {
      throw new StepError('upgrade', `${file} is not valid TOML`, { cause: error });
    }
    const admin = (root: unknown) => {
      const hc = isTable(root) && isTable(root['host-containers']) ? root['host-containers'] : undefined;
      return hc && isTable(hc.admin) ? hc.admin : undefined;
    };
    const metadata = isTable(data.metadata) ? data.metadata.settings : undefined;
    const source = admin(data.settings)?.source;
    const template = admin(metadata)?.source;
    const image =
      typeof source === 'string'
        ? source
        : isTable(template) && typeof template.template === 'string'
          ? template.template
          : undefined;
    const version = image && /bottlerocket-admin:(v\d+\.\d+\.\d+)\s*$/.exec(image)?.[1];
    if (version) found = { version, file };
  }
  if (!found) {
    throw new StepError(
      'upgrade',
      `No default admin container source in the defaults of ${variant}: ${files.join(', ')}`,
      {
        hint: 'Upstream names it in settings.host-containers.admin.source (or its metadata template); check the tag.',
      },
    );
  }
  return found;
}
