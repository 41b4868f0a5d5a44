import type { Step } from '../pipeline.js';

/** Verify the patched tree (issue 3 fills this in). */
export const verifyStep: Step = {
  id: 'verify',
  title: 'Verify the patched tree',
  external: false,
  async run() {},
};
