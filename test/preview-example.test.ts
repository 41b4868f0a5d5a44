import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { INTEGER_VALIDATORS, VALIDATORS } from '../src/preview/modeled-types.js';
import { REPO_ROOT } from './helpers/git-fixtures.js';
import { addedCode, readPatch } from './helpers/preview-fixtures.js';

/** examples/user-data.toml stays what a node of our build accepts (the full check is `bro preview` on the real tree). */
const example = parseToml(readFileSync(join(REPO_ROOT, 'examples', 'user-data.toml'), 'utf8')) as {
  settings: { kubernetes: Record<string, unknown>; 'cri-registry-auths': Record<string, string>[] };
};
const kubernetes = example.settings.kubernetes;

const valid = (type: string, value: unknown) => {
  const validate = VALIDATORS[type];
  if (!validate) throw new Error(`no validator for ${type}`);
  return typeof value === 'string' ? validate(value) : `not a string: ${JSON.stringify(value)}`;
};

describe('examples/user-data.toml', () => {
  it('sets all eight kubelet settings, under the names our model patch gives them', () => {
    const fields = [
      ...addedCode(readPatch('kubelet-settings')).matchAll(
        /^ {4}(\w+): (?:HashMap<|KubernetesQuantityValue|KubernetesContainerLogMaxFiles|TopologyManagerPolicy|CpuManagerPolicy)/gm,
      ),
    ].map((m) => (m[1] as string).replace(/_/g, '-'));
    expect(fields).toHaveLength(8);
    expect(fields.filter((f) => !(f in kubernetes))).toEqual([]);
  });

  it('holds kubelet values the model accepts', () => {
    const problems = [
      ...Object.keys(kubernetes['feature-gates'] as object).map((k) => valid('KubernetesFeatureGateKey', k)),
      valid('KubernetesQuantityValue', kubernetes['container-log-max-size']),
      Number.isInteger(kubernetes['container-log-max-files'])
        ? INTEGER_VALIDATORS.KubernetesContainerLogMaxFiles?.(kubernetes['container-log-max-files'] as number)
        : 'container-log-max-files is not an integer',
      ...['kube-reserved', 'system-reserved'].flatMap((key) =>
        Object.entries(kubernetes[key] as Record<string, string>).flatMap(([k, v]) => [
          valid('KubernetesReservedResourceKey', k),
          valid('KubernetesQuantityValue', v),
        ]),
      ),
      ...Object.entries(kubernetes['eviction-hard'] as Record<string, string>).flatMap(([k, v]) => [
        valid('KubernetesEvictionHardKey', k),
        valid('KubernetesThresholdValue', v),
      ]),
      valid('TopologyManagerPolicy', kubernetes['topology-manager-policy']),
      valid('CpuManagerPolicy', kubernetes['cpu-manager-policy']),
    ];
    expect(problems.filter(Boolean)).toEqual([]);
  });

  it('has registry credentials the model accepts, one password with a double quote, a backslash and an ampersand', () => {
    const auths = example.settings['cri-registry-auths'];
    const problems = auths.flatMap((a) => [
      valid('RegistryHost', a.name),
      ...(['username', 'password'] as const)
        .filter((f) => a[f] !== undefined)
        .map((f) => valid('RegistryAuthValue', a[f])),
      a.auth === undefined ? undefined : valid('ValidBase64', a.auth),
    ]);
    expect(problems.filter(Boolean)).toEqual([]);
    expect(
      auths.some((a) => /"/.test(a.password ?? '') && /\\/.test(a.password ?? '') && /&/.test(a.password ?? '')),
    ).toBe(true);
  });

  it("keeps the source document's settings", () => {
    expect(example.settings).toMatchObject({
      'host-containers': { admin: { enabled: true } },
      kubernetes: { 'node-labels': { os: 'bottlerocket' }, 'node-taints': { os: 'bottlerocket:NoSchedule' } },
    });
    expect(Object.keys(kubernetes)).toEqual(
      expect.arrayContaining(['api-server', 'cluster-certificate', 'cluster-name']),
    );
  });
});
