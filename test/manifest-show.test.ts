import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildWorld, expectNoSecret, REGIONS, type BuildWorld } from './helpers/build-world.js';
import { removeDir, tempDir } from './helpers/git-fixtures.js';

let s: BuildWorld;
let scratch: string;
beforeEach(() => {
  s = buildWorld();
  scratch = tempDir('bro-manifest-');
});
afterEach(() => {
  s.cleanup();
  removeDir(scratch);
});

describe('the release manifest', () => {
  it('goes to --manifest FILE atomically; bro build --json and bro manifest show print it', async () => {
    const out = join(scratch, 'releases', 'aws-k8s-1.18.json');
    const built = await s.build(['--manifest', out, '--json']);
    expect(built.code).toBe(0);
    const manifest = JSON.parse(readFileSync(out, 'utf8'));
    expect(JSON.parse(built.stdout)).toEqual(manifest);
    expect(existsSync(join(s.work, 'manifest.json'))).toBe(false);
    expect(readdirSync(dirname(out))).toEqual(['aws-k8s-1.18.json']);
    expect(manifest.patchSeriesDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.keys(manifest.regions)).toEqual(REGIONS);
    expectNoSecret(readFileSync(out, 'utf8'), 'the manifest');

    const json = await s.cli(['manifest', 'show', '--manifest', out, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(manifest);
    const human = await s.cli(['manifest', 'show', '--manifest', out]);
    expect(human.stdout).toContain(`Release aws-k8s-1.18 (x86_64) 1.0.4-hc1: ${out}`);
    for (const region of REGIONS)
      expect(human.stdout).toContain(
        `  ${region}: ${manifest.regions[region].ami} (snapshots ${manifest.regions[region].snapshots.join(', ')})`,
      );
    expect(human.stdout).toMatch(/ {2}os-build: done, \d+\.\ds/);
  });

  it("is found in the variant's workspace by default", async () => {
    expect((await s.build()).code).toBe(0);
    const shown = await s.cli(['manifest', 'show', 'aws-k8s-1.18', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')));
  });

  it('refuses a manifest of another schema version, and a missing one, as config errors', async () => {
    const path = join(scratch, 'm.json');
    writeFileSync(path, JSON.stringify({ schemaVersion: 2, kind: 'bro.manifest' }));
    const other = await s.cli(['manifest', 'show', '--manifest', path]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`${path}: has schemaVersion 2; this bro reads version 1`);
    const missing = await s.cli(['manifest', 'show', 'aws-k8s-1.18']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('manifest.json: does not exist');
    expect((await s.cli(['manifest', 'show'])).code).toBe(2);
  });
});
