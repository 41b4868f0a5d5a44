import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildWorld, REGIONS, type BuildWorld } from './helpers/build-world.js';

/**
 * A build with infra.ssm-prefix and ami.deprecate-after: the version
 * parameters in every region (the simulated AWS world through aws-sdk-client-mock), the
 * deprecation, both in the plan first; then `bro promote` on that build.
 */
const PREFIX = '/bro/ami';
const VERSION = '1.0.4-hc1';
const names = (key: string) => ({
  imageId: `${PREFIX}/aws-k8s-1.18/x86_64/${key}/image_id`,
  version: `${PREFIX}/aws-k8s-1.18/x86_64/${key}/image_version`,
});

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld({ extraToml: `[ami]\ndeprecate-after = "2030-01-01"\n\n[infra]\nssm-prefix = "${PREFIX}"\n` });
});
afterEach(() => s.cleanup());

const amis = () =>
  JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')).regions as Record<string, { ami: string }>;
const ssmCalls = () => s.world.calls.filter((c) => c.service === 'ssm');
const ssmWrites = () => s.world.modifying().filter((c) => c.service === 'ssm');
const deprecations = () =>
  s.world.calls
    .filter((c) => c.action === 'EnableImageDeprecation')
    .map((c) => (c.input.DeprecateAt as Date).toISOString());

describe('the version parameters and the deprecation of a build', () => {
  it('the plan lists every SSM and deprecation call; the build makes exactly those, then a rerun makes none', async () => {
    const dry = await s.build(['--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      deprecation: string;
      parameters: string[];
      aws: { step: string; region: string; service: string; action: string }[];
    };
    expect(plan.deprecation).toBe('2030-01-01T00:00:00.000Z');
    expect(plan.parameters).toEqual([names(VERSION).imageId, names(VERSION).version]);
    expect(ssmCalls(), 'a dry run asks SSM nothing').toEqual([]);

    const built = await s.build();
    expect(built.code, built.stderr).toBe(0);
    const planned = (step: string, service: string) =>
      plan.aws
        .filter((a) => a.step === step && a.service === service)
        .map((a) => `${a.region} ${a.action}`)
        .sort();
    expect(
      ssmCalls()
        .map((c) => `${c.region} ${c.action}`)
        .sort(),
    ).toEqual(planned('ssm-publish', 'ssm'));
    expect(planned('ami-deprecate', 'ec2').filter((a) => a.endsWith('EnableImageDeprecation'))).toEqual(
      REGIONS.map((r) => `${r} EnableImageDeprecation`).sort(),
    );
    for (const region of REGIONS) {
      const ami = amis()[region]!.ami;
      expect(s.world.parameter(region, names(VERSION).imageId)).toBe(ami);
      expect(s.world.parameter(region, names(VERSION).version)).toBe(VERSION);
      expect(s.world.parameters.get(`${region}/${names(VERSION).imageId}`)?.dataType).toBe('aws:ec2:image');
      expect(s.world.image(region, ami).tags.get('bro:deprecate-at')).toBe('2030-01-01T00:00:00.000Z');
      expect(s.world.image(region, ami).deprecation).toBe('2030-01-01T00:00:00.000Z');
    }
    expect(deprecations()).toEqual(REGIONS.map(() => '2030-01-01T00:00:00.000Z'));
    const manifest = JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8'));
    expect(manifest.deprecateAt).toBe('2030-01-01T00:00:00.000Z');
    expect(manifest.parameters).toEqual(names(VERSION));

    s.world.calls.length = 0;
    // --from ssm-publish: it reads SSM again and finds every parameter in place.
    const again = await s.build(['--from', 'ssm-publish']);
    expect(again.code, again.stderr).toBe(0);
    expect(ssmCalls().filter((c) => c.action === 'GetParameters').length).toBe(REGIONS.length);
    expect(ssmWrites(), 'no SSM write on a rerun').toEqual([]);
    expect(deprecations(), 'no deprecation call on a rerun').toEqual([]);
    expect(s.world.modifying()).toEqual([]);
  });

  it('a version parameter that points elsewhere is not replaced without --overwrite-parameters, and says whose it is', async () => {
    s.world.setParameter('us-west-1', names(VERSION).imageId, 'ami-0123456789abcdef0', 'aws:ec2:image');
    const refused = await s.build();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`us-west-1: ${names(VERSION).imageId} already points at ami-0123456789abcdef0`);
    expect(refused.stderr).toMatch(/last changed by arn:aws:iam::\d{12}:user\/builder/);
    expect(refused.stderr).toContain('--overwrite-parameters');
    expect(s.world.parameter('us-west-1', names(VERSION).imageId)).toBe('ami-0123456789abcdef0');
    const forced = await s.build(['--overwrite-parameters']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(s.world.parameter('us-west-1', names(VERSION).imageId)).toBe(amis()['us-west-1']!.ami);
  });

  it('a version parameter that appears between the read and the write is kept: SSM refuses to create it (ParameterAlreadyExists)', async () => {
    s.world.failures.set('us-west-1/PutParameter', (input) => {
      if (input.Name === names(VERSION).imageId && !s.world.parameter('us-west-1', names(VERSION).imageId))
        s.world.setParameter('us-west-1', names(VERSION).imageId, 'ami-0123456789abcdef0', 'aws:ec2:image');
    });
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ParameterAlreadyExists');
    expect(s.world.parameter('us-west-1', names(VERSION).imageId)).toBe('ami-0123456789abcdef0');
  });

  it('an AMI SSM does not accept (aws:ec2:image validation) fails its region clearly', async () => {
    // The AMI in us-east-1 is gone by the time SSM validates the parameter.
    s.world.failures.set('us-east-1/PutParameter', (input) => {
      if (s.world.hasImage('us-east-1', String(input.Value)))
        s.world.operations.ec2.DeregisterImage('us-east-1', { ImageId: String(input.Value) });
    });
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`us-east-1: ${names(VERSION).imageId} holds (nothing)`);
    expect(result.stderr).toContain('SSM validates aws:ec2:image values');
  });

  it('bro promote moves a channel to the build; the manifest and `bro manifest show` list it', async () => {
    expect((await s.build()).code).toBe(0);
    const promoted = await s.cli([
      'promote',
      'aws-k8s-1.18',
      '--version',
      VERSION,
      '--to',
      'stable',
      '--wait-poll',
      '0.05',
    ]);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toContain(`stable  (new channel) → ${VERSION}`);
    for (const region of REGIONS) expect(s.world.parameter(region, names('stable').imageId)).toBe(amis()[region]!.ami);
    const shown = await s.cli(['manifest', 'show', 'aws-k8s-1.18']);
    expect(shown.stdout).toContain(`stable → ${VERSION} (${REGIONS.join(', ')})`);
    expect(JSON.parse(readFileSync(join(s.work, 'manifest.json'), 'utf8')).channels).toEqual({
      stable: Object.fromEntries(REGIONS.map((r) => [r, VERSION])),
    });
  });
});
