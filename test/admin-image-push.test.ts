import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAws } from '../src/adapters/aws.js';
import { Redactor } from '../src/adapters/redactor.js';
import { registryPassword } from '../src/build/steps/admin-image-push.js';
import {
  ADMIN_TAG,
  adminUri,
  buildWorld,
  expectNoSecret,
  filesUnder,
  REGIONS,
  type BuildWorld,
} from './helpers/build-world.js';
import { ImageNotFoundException } from '@aws-sdk/client-ecr';
import { AUTH_TOKEN, REGISTRY_PASSWORD } from './helpers/aws-world.js';

let s: BuildWorld;
beforeEach(() => {
  s = buildWorld();
});
afterEach(() => s.cleanup());

const repository = (region: string) => adminUri(region).split(':')[0] as string;
const dockerCalls = (w: BuildWorld, command: string) =>
  w.tools.calls().filter((c) => c.tool === 'docker' && c.argv[0] === command);

describe('admin image push', () => {
  it('an immutable tag holding other content is a clear error for its region; the others are pushed, nothing is shared', async () => {
    const other = `sha256:${'0'.repeat(64)}`;
    s.tools.seedRegistry(repository('us-west-1'), ADMIN_TAG, other);
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Pushing the admin image failed in 1 of 3 regions');
    expect(result.stderr).toContain(
      `✖ us-west-1: ${adminUri('us-west-1')} already holds ${other} in us-west-1, which is not this build's admin image`,
    );
    expect(result.stderr).toContain('ECR tags are immutable: publish a new admin image under a new build suffix');
    expect(
      dockerCalls(s, 'push')
        .map((c) => c.argv[1])
        .sort(),
    ).toEqual([adminUri('ap-northeast-1'), adminUri('us-east-1')].sort());
    expect(s.tools.registryDigest(repository('us-west-1'), ADMIN_TAG)).toBe(other);
    // Nodes pull the admin image at boot: no AMI was shared.
    expect(s.world.modifying().filter((c) => c.action !== 'CreateRepository')).toEqual([]);
  });

  it('a push refused because the tag appeared meanwhile (immutable) is the same clear error', async () => {
    s.tools.seedRegistry(repository('us-east-1'), ADMIN_TAG, `sha256:${'1'.repeat(64)}`);
    // ECR's DescribeImages has not seen the tag yet when bro looks, so docker push meets it.
    s.world.failures.set(
      'us-east-1/ecr:DescribeImages',
      new ImageNotFoundException({ message: 'not yet', $metadata: {} }),
    );
    const result = await s.build();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `✖ us-east-1: ${adminUri('us-east-1')} already holds another image in us-east-1, which is not this build's admin image`,
    );
    expect(dockerCalls(s, 'push').map((c) => c.argv[1])).toContain(adminUri('us-east-1'));
  });

  it('skips a region whose tag already holds this image (no login, no push)', async () => {
    expect((await s.build()).code).toBe(0);
    // A fresh workspace state (another CI run on the same host): ECR already has the image.
    rmSync(join(s.work, '.bro/state.json'));
    s.tools.clearCalls();
    const again = await s.build();
    expect(again.code).toBe(0);
    expect(dockerCalls(s, 'build')).toHaveLength(1);
    expect(dockerCalls(s, 'login')).toEqual([]);
    expect(dockerCalls(s, 'push')).toEqual([]);
    expect(again.stderr).toContain(
      'Admin image: ✔ ap-northeast-1: already in ECR, ✔ us-west-1: already in ECR, ✔ us-east-1: already in ECR',
    );
  });

  it('creates missing repositories with immutable tags and scan on push, and warns about a mutable one', async () => {
    s.world.repositories.set('us-east-1/bottlerocket-admin', { immutable: false, scanOnPush: false });
    const result = await s.build();
    expect(result.code).toBe(0);
    const created = s.world.calls.filter((c) => c.action === 'CreateRepository');
    expect(created.map((c) => c.region).sort()).toEqual(['ap-northeast-1', 'us-west-1']);
    for (const c of created) {
      expect(c.input).toEqual({
        repositoryName: 'bottlerocket-admin',
        registryId: '210987654321',
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
      });
    }
    expect(result.stderr).toContain('! ECR repository bottlerocket-admin in us-east-1 allows tags to be overwritten');
  });

  it("a login the registry refuses fails each region with docker's words, and no secret", async () => {
    const result = await s.build([], { BRO_FAKE_REGISTRY_PASSWORD_SHA256: 'not-the-password' });
    expect(result.code).toBe(1);
    for (const region of REGIONS) {
      expect(result.stderr).toContain(
        `✖ ${region}: docker login --username AWS --password-stdin 210987654321.dkr.ecr.${region}.amazonaws.com failed (exit code 1): Error response from daemon: login attempt`,
      );
    }
    expect(result.stderr).not.toContain(REGISTRY_PASSWORD);
    expect(dockerCalls(s, 'push')).toEqual([]);
  });

  it('a hung docker push fails its region after --push-timeout of silence, and leaves no login on disk', async () => {
    const result = await s.build(['--push-timeout', '0.02'], { BRO_FAKE_DOCKER_PUSH_HANG: '1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Pushing the admin image failed in 3 of 3 regions');
    for (const region of REGIONS)
      expect(result.stderr).toMatch(
        new RegExp(
          `✖ ${region}: docker push ${adminUri(region).replace(/[.]/g, '\\.')} printed nothing for [\\d.]+ seconds, so bro stopped it \\(after [\\d.]+ seconds in all\\); its last line: 5f70bf18a086: Preparing`,
        ),
      );
    // One hint for the three regions.
    expect(result.stderr.match(/The registry stopped answering/g)).toHaveLength(1);
    expect(result.stderr).toContain(
      '→ The registry stopped answering (check the network or proxy to ECR), or the layers need longer: raise --push-timeout (now 1.2 seconds). The login for the push was removed.',
    );
    // No login is left: not in the workspace's docker directories, not anywhere in the workspace.
    expect(existsSync(join(s.work, '.bro/docker')) ? readdirSync(join(s.work, '.bro/docker')) : []).toEqual([]);
    for (const file of filesUnder(s.work).filter((f) => statSync(f).isFile()))
      expectNoSecret(readFileSync(file, 'latin1'), file);
    // Nothing was shared: nodes would pull an admin image that is not there.
    expect(s.world.modifying().filter((c) => c.action !== 'CreateRepository')).toEqual([]);
  });

  it('registers the ECR token and the password with the redactor the moment they are read', async () => {
    const redactor = new Redactor();
    const password = await registryPassword(createAws().ecr('us-east-1'), redactor);
    expect(password).toBe(REGISTRY_PASSWORD);
    expect(redactor.redact(`login ${REGISTRY_PASSWORD} with ${AUTH_TOKEN}`)).toBe('login *** with ***');
  });
});
