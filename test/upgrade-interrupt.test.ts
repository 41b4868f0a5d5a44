import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSeriesFile } from '../src/config/series.js';
import { runCli } from './helpers/cli.js';
import { interruptInGitAm } from './helpers/processes.js';
import {
  makeUpgradeWorld,
  PATCH,
  removeWorld,
  snapshotProject,
  upgradeArgs,
  type UpgradeWorld,
} from './helpers/upgrade-fixtures.js';

const worlds: UpgradeWorld[] = [];
afterEach(() => worlds.splice(0).forEach(removeWorld));

describe('Ctrl-C during bro upgrade', { timeout: 120_000 }, () => {
  it('writes nothing to patches/ or variants/, and the rerun starts the cut rebase again and finishes', async () => {
    const world = makeUpgradeWorld();
    worlds.push(world);
    const args = upgradeArgs(world, '--to', 'v1.5.0');
    const before = snapshotProject(world.project);

    // Cut while `git am` carries 0003 and 0004, which upstream has in no form.
    const { code, stderr } = await interruptInGitAm(args, 'am --quiet --committer-date-is-author-date');
    expect(code).toBe(130);
    expect(stderr).toContain('Interrupted');
    expect(snapshotProject(world.project)).toEqual(before);

    const rerun = await runCli(args);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const series = join(world.project, 'patches/bottlerocket/1.5.0/series');
    expect(parseSeriesFile(series, readFileSync(series, 'utf8'))).toEqual([PATCH.featureGates, PATCH.renderGates]);
    expect(readFileSync(join(world.project, 'variants/aws-k8s-1.18.toml'), 'utf8')).toContain('"v1.5.0" = "v0.6.0"');
  });
});
