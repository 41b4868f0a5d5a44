import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { atomicWrite } from '../../adapters/fs.js';
import { prepareDir } from '../../adapters/user-paths.js';
import type { Io } from '../io.js';
import type { CommonOptions } from '../../build/index.js';
import { ConfigError, StepError } from '../../shared/errors.js';
import { previewStages, requireOutputs, runPipeline } from '../../build/index.js';
import { parseUserData, previewNode, registerSecrets } from '../../preview/index.js';
import { osRelease } from '../../preview/index.js';
import { formatPreview, problems } from '../../preview/index.js';
import { loadVariantTree } from '../../preview/index.js';
import { rendererFor, type RendererChoice } from '../../build/index.js';
import { withWorkspace } from './build.js';

export interface PreviewOptions extends CommonOptions {
  variant: string;
  version: string;
  /** Absolute path of the user data. */
  userData: string;
  instanceType?: string;
  cpus?: number;
  /** Where the rendered files go; default `<work>/preview`. */
  out?: string;
  json: boolean;
  updateLock: boolean;
  ci: boolean;
  /** Tests pass 'silent'; otherwise chosen from the terminal. */
  renderer?: RendererChoice;
}

export const SAMPLE_INSTANCE_TYPE = 'm5.large';
export const SAMPLE_CPUS = 2;

/**
 * `bro preview`: resolve, check out, patch and verify as a dry-run build
 * would, then render what a node would write from the user data, check it,
 * print a summary (or JSON) and write the files. Exits 2 when the node's API
 * would refuse the user data, 1 when a rendered file is wrong.
 */
export async function runPreview(options: PreviewOptions, io: Io): Promise<void> {
  const nearby = relative(process.cwd(), options.userData);
  const shownUserData = nearby && !nearby.startsWith('..') ? nearby : options.userData;
  // Read it before the pipeline: a missing file is the user's mistake, found in a second.
  const userData = parseUserData(
    shownUserData,
    await readFile(options.userData, 'utf8').catch((error: unknown) => {
      throw new ConfigError(shownUserData, 'cannot be read', {
        cause: error,
        hint: 'Pass the TOML user data with --user-data <file>, e.g. examples/user-data.toml.',
      });
    }),
  );
  const renderer = options.renderer ?? rendererFor(io.stderr, io.env, options.ci);
  if (options.out) await prepareDir('--out', options.out, 0o700);
  const buildOptions = { ...options, dryRun: true, keepFailed: false };
  // The checkout is read while the workspace is still locked: a build started meanwhile cannot reset it.
  const { result, ctx } = await withWorkspace(buildOptions, io, async (c, signal) => {
    // The redactor exists from here: its credentials are secrets before anything runs.
    registerSecrets(userData, c.adapters.redactor);
    const produced = await runPipeline(c, previewStages(), renderer, io.stderr, signal);
    const { sources } = requireOutputs(produced, ['sources'], 'preview').sources;
    const tree = await loadVariantTree(sources.bottlerocket.dir, c.variant.name);
    return previewNode(
      tree,
      {
        version: c.version.full,
        userDataFile: shownUserData,
        userData,
        instanceType: {
          value: options.instanceType ?? SAMPLE_INSTANCE_TYPE,
          sample: options.instanceType === undefined,
        },
        cpus: { value: options.cpus ?? SAMPLE_CPUS, sample: options.cpus === undefined },
        region: { value: c.variant.regions[0] ?? 'us-east-1', sample: true },
        arch: c.variant.arch,
        os: osRelease(c.variant, c.version),
      },
      c.adapters.redactor,
    );
  });
  const { report, files } = result;
  const { redactor } = ctx.adapters;

  // The files hold credentials: only the user may read them.
  const outDir = options.out ?? join(ctx.workspace.root, 'preview');
  await prepareDir(options.out ? '--out' : '--work-dir', outDir, 0o700);
  for (const file of files) {
    const path = join(outDir, file.name);
    await atomicWrite(path, file.text, 0o600);
    const entry = report.files.find((f) => f.name === file.name);
    if (entry) entry.written = path;
  }
  const first = files[0];
  if (first && (await ctx.adapters.git.wouldTrack(join(outDir, first.name)))) {
    io.stderr.write(
      `! ${outDir} is in a git work tree and not ignored there: the files written into it${report.registryAuths.length ? ' hold registry credentials, and' : ''} would be committed by the next \`git add -A\`. Add it to .gitignore, or pass --out a directory outside the repository.\n`,
    );
  }

  const shown = redactor.redactValue(report);
  io.stdout.write(options.json ? `${JSON.stringify(shown, null, 2)}\n` : `${formatPreview(shown, outDir)}\n`);
  if (report.inputProblems.length) {
    throw new ConfigError(
      shownUserData,
      redactor.redact(
        `a node would not start with what was given (${problems(report.inputProblems.length)}, listed above):\n${report.inputProblems.map((p) => `  - ${p}`).join('\n')}`,
      ),
      { hint: 'Fix the settings (or --instance-type) named above, then rerun bro preview.' },
    );
  }
  if (report.problems.length) {
    throw new StepError(
      'preview',
      redactor.redact(
        `A node would write invalid configuration from ${shownUserData} (${problems(report.problems.length)}, listed above)`,
      ),
      {
        hint: 'Fix the template in the patch series (patches/bottlerocket/), then rerun bro preview.',
      },
    );
  }
}
