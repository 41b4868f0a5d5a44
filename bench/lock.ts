/**
 * Benchmark: what the workspace lock costs per external program. Each program
 * bro starts is recorded in `<work>/.bro/lock` (its process group: the lock is
 * read to check it is still this bro's, then rewritten synchronously by the
 * atomic write, without fsync) and forgotten when it ends. Runs the same 200 short commands
 * (`git --version`) through the runner, with and without the lock watching,
 * in this process, alternating, and prints the ratio. `git --version` is the
 * worst case (a program that does nothing); target: under 2 ms extra per program.
 *
 *   node dist/bench/lock.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redactor } from '../src/adapters/redactor.js';
import { createRunner } from '../src/adapters/runner.js';
import { lockWorkspace } from '../src/adapters/locks/workspace-lock.js';

const COMMANDS = 200;
const ROUNDS = 3;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bro-bench-lock-'));
  try {
    const runner = createRunner({ dryRun: false, env: process.env, redactor: new Redactor() });
    const run = async () => {
      for (let i = 0; i < COMMANDS; i++) await runner.run({ argv: ['git', '--version'], mode: 'read' });
    };
    const totals = { bare: 0, locked: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      totals.bare += await timed(run);
      const lock = await lockWorkspace(join(dir, '.bro'));
      runner.watchGroups({
        started: (pgid, command) => lock.addGroup(pgid, command),
        ended: (pgid) => lock.removeGroup(pgid),
      });
      totals.locked += await timed(run);
      runner.watchGroups(undefined);
      await lock.release();
    }
    const per = (ms: number) => (ms / ROUNDS / COMMANDS).toFixed(2);
    const extraMs = (totals.locked - totals.bare) / ROUNDS / COMMANDS;
    console.log(
      `  ${COMMANDS} commands × ${ROUNDS} rounds: ${per(totals.bare)} ms each without the lock, ${per(totals.locked)} ms with it`,
    );
    console.log(
      `  ratio: ${(totals.locked / totals.bare).toFixed(3)}; ${extraMs.toFixed(2)} ms extra per program (target < 2 ms: ${extraMs < 2 ? 'met' : 'MISSED'})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('lock.js')) await main();
