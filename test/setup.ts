/**
 * Seals the test process itself, as test/helpers/env.ts seals the children: bro runs in-process
 * in most tests, and the AWS SDK's credential chain reads this process's environment and
 * ~/.aws, whatever environment bro is handed. Nothing exported in the developer's shell
 * (AWS_*, GIT_DIR…, CI) reaches a test, and no test can ask the instance metadata service or a
 * real AWS account who it is: mocked clients and local endpoints only. BRO_* stay: bro never reads
 * them from this process (tests hand it a sealed environment), and `npm run test:upstream` takes
 * its mirrors from them.
 */
import { beforeEach } from 'vitest';
import { skipSayingWhy } from './helpers/skips.js';

for (const name of Object.keys(process.env)) {
  if (/^(AWS_|GIT_)/.test(name) || name === 'CI' || name === 'GITHUB_ACTIONS') delete process.env[name];
}
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_CONFIG_FILE = '/dev/null';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';

/** Every skip says why (test/helpers/skips.ts). */
beforeEach((ctx) => {
  Object.assign(ctx, { skip: skipSayingWhy(ctx.skip.bind(ctx) as never, ctx.task.name) });
});
