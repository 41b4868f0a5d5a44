import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Both suites (npm test, npm run test:upstream) start from the sealed test process of setup.ts. */
export default defineConfig({
  test: {
    setupFiles: [fileURLToPath(new URL('./setup.ts', import.meta.url))],
  },
});
