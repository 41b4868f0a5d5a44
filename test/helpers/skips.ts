/**
 * Skips that say why. A test skips with `ctx.skip(reason)`: test/setup.ts
 * prints the reason, and fails the test when there is none. A suite skips
 * with `describe.skipIf(skipsBecause(reason))`, which prints it; ESLint
 * (eslint.config.js) refuses any other `skipIf`/`runIf`, and `.skip`,
 * `.todo` and `.only`.
 */

/** Whether to skip a suite: yes when there is a reason, which is printed. */
export function skipsBecause(reason: string | undefined): boolean {
  if (reason === undefined) return false;
  process.stderr.write(`SKIPPED: ${reason}\n`);
  return true;
}
