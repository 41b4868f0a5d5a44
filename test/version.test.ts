import { afterEach, describe, expect, it } from 'vitest';
import { compareVersions, parseVersion } from '../src/config/version.js';
import { UsageError } from '../src/shared/errors.js';
import { defaultAmiName, nameFull } from '../src/build/naming.js';
import { runCli, broArgv } from './helpers/cli.js';
import { makeWorld, removeDir } from './helpers/git-fixtures.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

describe('parseVersion', () => {
  it('maps 1.0.4-hc1 to the upstream tag, the build suffix and the AMI name upstream gives', () => {
    const v = parseVersion('1.0.4-hc1');
    expect(v).toEqual({ upstream: '1.0.4', build: 'hc1', tag: 'v1.0.4', full: '1.0.4-hc1' });
    expect(defaultAmiName({ name: 'aws-k8s-1.18', arch: 'x86_64' }, v)).toBe(
      'bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1',
    );
    expect(nameFull({ name: 'aws-k8s-1.18', arch: 'x86_64' }, v)).toBe('bottlerocket-aws-k8s-1.18-x86_64-1.0.4-hc1');
  });

  it('accepts a leading v and normalises leading zeros', () => {
    expect(parseVersion('v1.10.0-rc.2').tag).toBe('v1.10.0');
    expect(parseVersion('01.0.4-b_1').upstream).toBe('1.0.4');
  });

  it.each(['1.0.4', '1.0-hc1', '1.0.4-', '1.0.4-hc-1', 'latest', '1.0.4-hc1 ', '1.0.4-h c'])(
    'rejects %j with the expected form',
    (text) => {
      let error: unknown;
      try {
        parseVersion(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toContain('expected <upstream>-<build>, e.g. 1.0.4-hc1');
      expect((error as UsageError).exitCode).toBe(2);
    },
  );

  it('refuses a build part in capitals (1.0.4-HC1 would be another build than 1.0.4-hc1), naming the lowercase one', async () => {
    const world = makeWorld(dirs);
    const result = await runCli(broArgv({ ...world, version: '1.0.4-HC1' }, '--dry-run'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid --version "1.0.4-HC1": the build part must be lowercase');
    expect(result.stderr).toContain('Use --version 1.0.4-hc1.');
  });

  it('orders versions numerically, not as text', () => {
    expect(compareVersions('1.0.10', '1.0.9')).toBeGreaterThan(0);
    expect(compareVersions('v1.0.4', '1.0.4')).toBe(0);
    expect(['1.10.0', '1.2.0', '1.0.4'].sort(compareVersions)).toEqual(['1.0.4', '1.2.0', '1.10.0']);
  });
});
