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

type Skip = (...args: unknown[]) => never;

/** Marks the `ctx.skip` that says why, so a test can see that setup.ts put it there. */
export const SAYS_WHY = Symbol('skip says why');

/**
 * `ctx.skip` that says why (test/setup.ts puts it on every test): the reason is printed; a skip
 * without one throws, so the test fails rather than vanish from the count.
 */
export function skipSayingWhy(skip: Skip, name: string, write = (line: string) => process.stderr.write(line)): Skip {
  const sayingWhy = (...args: unknown[]) => {
    // ctx.skip(false, reason): nothing to skip.
    if (args[0] === false) return undefined as never;
    const reason = args.find((a): a is string => typeof a === 'string' && a.trim() !== '');
    if (!reason) throw new Error('A test skips with the reason: ctx.skip(reason)');
    write(`SKIPPED ${name}: ${reason}\n`);
    return skip(...args);
  };
  return Object.assign(sayingWhy, { [SAYS_WHY]: true });
}
