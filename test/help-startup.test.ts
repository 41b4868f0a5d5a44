import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sealedEnv } from './helpers/index.js';
import { BRO_BIN } from './helpers/cli.js';

// `bro --help` stays instant by loading only the command line: each command's implementation, and the
// heavy libraries under it, are imported when that command runs. A hook on Node's resolver lists every
// package the process loads.
const HOOK = `import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context);
  if (resolved.url.includes('/node_modules/')) process.stderr.write('LOADED ' + resolved.url + '\\n');
  return resolved;
} });`;

describe('bro --help', () => {
  it('loads commander and nothing heavier: no zod, listr2, execa, AWS SDK, TOML, YAML or handlebars', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(HOOK)}`, BRO_BIN, '--help'],
      { env: sealedEnv(), encoding: 'utf8' },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Usage: bro');
    const packages = [
      ...new Set([...result.stderr.matchAll(/^LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((m) => m[1])),
    ];
    expect(packages).toContain('commander');
    expect(packages.filter((p) => p !== 'commander')).toEqual([]);
  });
});
