import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Both suites (npm test, npm run test:upstream) start from the sealed test process of setup.ts. */
export default defineConfig({
  test: {
    setupFiles: [fileURLToPath(new URL('./setup.ts', import.meta.url))],
    // A build world runs real git and bro's whole pipeline: a few seconds, more on a loaded machine. A limit, not a measure.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
