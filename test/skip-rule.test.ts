import { describe, expect, it, vi } from 'vitest';
import { skipsBecause } from './helpers/index.js';
import { SAYS_WHY, skipSayingWhy } from './helpers/skips.js';

// The rule every skip follows (test/setup.ts, test/helpers/skips.ts): it says why, or the test fails.

describe('a skip says why', () => {
  const wrapped = () => {
    const skip = vi.fn();
    const write = vi.fn();
    return { skip, write, sayingWhy: skipSayingWhy(skip as never, 'the test', write) };
  };

  it('a skip without a reason throws, so the test fails instead of skipping', () => {
    const { skip, sayingWhy } = wrapped();
    expect(() => sayingWhy()).toThrow('A test skips with the reason: ctx.skip(reason)');
    expect(() => sayingWhy('   ')).toThrow('A test skips with the reason');
    expect(skip).not.toHaveBeenCalled();
  });

  it('a skip with a reason prints it, then skips', () => {
    const { skip, write, sayingWhy } = wrapped();
    sayingWhy('no containerd here');
    expect(write).toHaveBeenCalledWith('SKIPPED the test: no containerd here\n');
    expect(skip).toHaveBeenCalledWith('no containerd here');
  });

  it('skip(false, reason) does not skip', () => {
    const { skip, sayingWhy } = wrapped();
    expect(sayingWhy(false, 'nothing missing')).toBeUndefined();
    expect(skip).not.toHaveBeenCalled();
  });

  it('every test here has the rule: ctx.skip() without a reason throws', (ctx) => {
    // Checked first: vitest's own ctx.skip() would skip this test rather than fail it.
    expect((ctx.skip as { [SAYS_WHY]?: boolean })[SAYS_WHY]).toBe(true);
    // eslint-disable-next-line no-restricted-syntax -- the refusal of a skip without a reason is what this test checks
    expect(() => ctx.skip()).toThrow('A test skips with the reason');
  });

  it('skipsBecause prints the reason of a suite it skips, and is silent when there is none', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(skipsBecause(undefined)).toBe(false);
      expect(write).not.toHaveBeenCalled();
      expect(skipsBecause('no containerd here')).toBe(true);
      expect(write).toHaveBeenCalledWith('SKIPPED: no containerd here\n');
    } finally {
      write.mockRestore();
    }
  });
});
