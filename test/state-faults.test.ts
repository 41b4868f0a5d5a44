import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildWorld, type BuildWorld } from './helpers/build-world.js';

/** Smaller faults, each through the CLI: what bro says, and what it leaves behind. */
let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const statePath = () => join(s.work, '.bro', 'state.json');
const writeStateFile = (data: unknown) => {
  mkdirSync(join(s.work, '.bro'), { recursive: true });
  writeFileSync(statePath(), JSON.stringify(data));
};
/** The final report: the lines from the ✖ on (the task list above it has its own [FAILED] line). */
const report = (stderr: string) => stderr.slice(stderr.lastIndexOf('✖'));

describe('the state file', () => {
  it('schemaVersion 1 with an unexpected shape is reported as corrupted, naming the file and the key', async () => {
    writeStateFile({ schemaVersion: 1, steps: { resolve: { status: 'finished' } } });
    const result = await s.build();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${statePath()}: is corrupted: unexpected shape at steps.resolve.status`);
    expect(result.stderr).not.toContain('another version');
  });

  it("recorded outputs are parsed with the step's schema: a wrong shape is refused as corrupted, naming the step and the key", async () => {
    expect((await s.build()).code).toBe(0);
    const state = JSON.parse(readFileSync(statePath(), 'utf8')) as {
      steps: Record<string, { outputs: Record<string, unknown> }>;
    };
    state.steps['os-build']!.outputs.files = 'not a list';
    writeStateFile(state);
    const result = await s.build();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${statePath()}: is corrupted: the outputs recorded for os-build have an unexpected shape at files`,
    );
    expect(result.stderr).toContain(`Delete ${statePath()}`);
  });

  it('another schemaVersion is another version of bro', async () => {
    writeStateFile({ schemaVersion: 2, steps: {} });
    const result = await s.build();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${statePath()}: has schemaVersion 2: it was written by another version of bro (this one reads 1)`,
    );
  });

  it('a full disk (ENOSPC) is said once, with the path, and leaves no temporary file', async () => {
    mkdirSync(join(s.work, '.bro'), { recursive: true });
    // The state file's temporary file (state.json.<pid>.tmp) on a device that is always full.
    symlinkSync('/dev/full', join(s.work, '.bro', `state.json.${process.pid}.tmp`));
    const result = await s.build();
    expect(result.code).toBe(1);
    const final = report(result.stderr);
    expect(final).toContain(`Could not write ${statePath()}: ENOSPC: no space left on device`);
    expect(final.match(/ENOSPC/g)).toHaveLength(1);
    expect(final).toContain('Free disk space');
    expect(readdirSync(join(s.work, '.bro')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('cargo make ami failing', () => {
  it('heads the error with pubsys\' error, not cargo-make\'s "Build Failed.", and shows the tail once', async () => {
    const result = await s.build([], { BRO_FAKE_CARGO_FAIL: 'ami' });
    expect(result.code).toBe(1);
    const final = report(result.stderr);
    expect(final.split('\n')[0]).toMatch(
      /^✖ cargo make .* ami failed \(exit code 1\): Error: Failed to register image in ap-northeast-1: RequestLimitExceeded$/,
    );
    expect(result.stderr.match(/The last 50 lines of its output:/g)).toHaveLength(1);
    expect(final).toContain('[cargo-make] WARN - Build Failed.');
    // The task list marks the step failed and points at the report, which says it once.
    expect(result.stderr).toMatch(/\[FAILED\] .*\(cargo make ami\) \[FAILED: see the error below\]/);
    expect(result.stderr.match(/ami failed \(exit code 1\): Error: Failed to register image/g)).toHaveLength(1);
  });
});
