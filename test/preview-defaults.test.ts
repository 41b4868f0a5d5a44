import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDefaults, mergeValues } from '../src/preview/defaults.js';
import { createEngine } from '../src/preview/engine.js';
import {
  eniMaxPods,
  generate,
  pauseContainerUri,
  settingGenerators,
  type NodeFacts,
} from '../src/preview/generators.js';
import { KNOWN_HELPERS } from '../src/preview/schnauzer.js';
import { StepError } from '../src/shared/errors.js';
import { removeDir, tempDir, writeFiles } from './helpers/git-fixtures.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

describe('model defaults (storewolf merge_values)', () => {
  it('replaces scalars and arrays, merges tables key by key', () => {
    const shared = {
      settings: { ntp: { 'time-servers': ['a', 'b'] }, kubernetes: { 'cluster-domain': 'x', keep: 1 } },
    };
    const override = {
      settings: { ntp: { 'time-servers': ['c'] }, kubernetes: { 'cluster-domain': 'cluster.local' }, extra: true },
    };
    expect(mergeValues(shared, override)).toEqual({
      settings: {
        ntp: { 'time-servers': ['c'] },
        kubernetes: { 'cluster-domain': 'cluster.local', keep: 1 },
        extra: true,
      },
    });
  });

  it('refuses values whose types differ, naming the key', () => {
    expect(() => mergeValues({ a: { b: 'x' } }, { a: { b: 1 } })).toThrow(
      'a.b: defaults.toml has a string, the override a number',
    );
    expect(() => mergeValues({ a: [1] }, { a: { b: 1 } })).toThrow(
      /a: defaults.toml has a array, the override a object/,
    );
  });

  it("follows the variant's symlink chain to the real override-defaults.toml", async () => {
    const tree = tempDir('bro-tree-');
    dirs.push(tree);
    writeFiles(tree, {
      'sources/models/defaults.toml': '[settings]\nmotd = "hi"\n[settings.kubernetes]\ncluster-domain = "x"\n',
      'sources/models/src/aws-k8s-1.15/override-defaults.toml':
        '[settings.kubernetes]\ncluster-domain = "cluster.local"\n',
    });
    symlinkSync('aws-k8s-1.15', join(tree, 'sources/models/src/aws-k8s-1.16'));
    symlinkSync('aws-k8s-1.16', join(tree, 'sources/models/src/aws-k8s-1.18'));
    const defaults = await loadDefaults(tree, 'aws-k8s-1.18');
    expect(defaults.modelDir).toBe('sources/models/src/aws-k8s-1.15');
    expect(defaults.merged.settings).toEqual({ motd: 'hi', kubernetes: { 'cluster-domain': 'cluster.local' } });
    await expect(loadDefaults(tree, 'aws-k8s-1.99')).rejects.toThrow(StepError);
  });
});

describe('generated settings (sundog running pluto, bork and schnauzer)', () => {
  const defaults = {
    metadata: {
      settings: {
        kubernetes: {
          'max-pods': { 'setting-generator': 'pluto max-pods' },
          'kube-reserved': {
            cpu: { 'setting-generator': 'pluto kube-reserved-cpu' },
            memory: { 'setting-generator': 'pluto kube-reserved-memory' },
          },
          'node-ip': { 'setting-generator': 'pluto node-ip' },
          'pod-infra-container-image': {
            'setting-generator': 'pluto pod-infra-container-image',
            'affected-services': ['kubernetes'],
          },
        },
        'host-containers': {
          admin: {
            source: {
              'setting-generator': 'schnauzer settings.host-containers.admin.source',
              template: '{{ ecr-prefix settings.aws.region }}/admin:{{settings.kubernetes.max-pods}}',
            },
          },
        },
        other: { 'setting-generator': 'mystery-generator' },
      },
    },
  };
  const facts: NodeFacts = {
    instanceType: 'm5.large',
    cpus: 2,
    region: 'af-south-1',
    arch: 'x86_64',
    eniMaxPods: '# comment m5.large 1\n  # m5.large 2\nm5.large 29\nm5.large 30\n',
  };

  it('reads eni-max-pods as pluto does: comments skipped, the first two-token match', () => {
    expect(eniMaxPods(facts.eniMaxPods, 'm5.large')).toBe(29);
    expect(eniMaxPods(facts.eniMaxPods, 'm5.xlarge')).toBeUndefined();
    expect(eniMaxPods('m5.large 29 extra\nm5.large 30', 'm5.large')).toBe(30);
  });

  it('lists every setting-generator in the metadata, with its template', () => {
    expect(settingGenerators(defaults).map((g) => `${g.key} ← ${g.command}`)).toEqual([
      'settings.kubernetes.max-pods ← pluto max-pods',
      'settings.kubernetes.kube-reserved.cpu ← pluto kube-reserved-cpu',
      'settings.kubernetes.kube-reserved.memory ← pluto kube-reserved-memory',
      'settings.kubernetes.node-ip ← pluto node-ip',
      'settings.kubernetes.pod-infra-container-image ← pluto pod-infra-container-image',
      'settings.host-containers.admin.source ← schnauzer settings.host-containers.admin.source',
      'settings.other ← mystery-generator',
    ]);
  });

  it('generates what the user data leaves unset: pluto first, then schnauzer templates that may use it; samples say so', async () => {
    const engine = await createEngine(KNOWN_HELPERS);
    const root = { settings: { aws: { region: 'af-south-1' }, kubernetes: { 'kube-reserved': { memory: '1Gi' } } } };
    const { generated, notes } = generate(defaults, root, facts, engine.render);
    expect(root.settings.kubernetes).toEqual({
      'max-pods': 29,
      'kube-reserved': { cpu: '70m', memory: '1Gi' },
      'node-ip': '192.0.2.10',
      'pod-infra-container-image': '877085696533.dkr.ecr.af-south-1.amazonaws.com/eks/pause-amd64:3.1',
    });
    expect(generated.find((g) => g.key === 'settings.host-containers.admin.source')?.value).toBe(
      '917644944286.dkr.ecr.af-south-1.amazonaws.com/admin:29',
    );
    expect(generated.filter((g) => g.sample).map((g) => g.key)).toEqual(['settings.kubernetes.node-ip']);
    expect(notes).toEqual(['settings.other: generator "mystery-generator" is not simulated; the setting stays unset']);
  });

  it('leaves max-pods and kube-reserved memory unset for an instance type eni-max-pods lacks (pluto exits 2)', async () => {
    const engine = await createEngine(KNOWN_HELPERS);
    // The admin source is set, so its template (which needs max-pods) does not run.
    const root = {
      settings: { aws: { region: 'us-west-2' }, 'host-containers': { admin: { source: 'given' } } } as Record<
        string,
        unknown
      >,
    };
    const { notes, generated } = generate(
      defaults,
      root,
      { ...facts, instanceType: 'x9.huge', cpus: 8 },
      engine.render,
    );
    expect(generated.map((g) => g.key)).not.toContain('settings.host-containers.admin.source');
    expect(root.settings.kubernetes).toMatchObject({ 'kube-reserved': { cpu: '90m' } });
    expect(root.settings.kubernetes).not.toHaveProperty('max-pods');
    expect(notes.filter((n) => n.includes('x9.huge is not in packages/os/eni-max-pods'))).toHaveLength(2);
  });

  it('builds the pause image URI as pluto does, with its fallback', () => {
    expect(pauseContainerUri('ap-northeast-1', 'aarch64')).toBe(
      '602401143452.dkr.ecr.ap-northeast-1.amazonaws.com/eks/pause-arm64:3.1',
    );
    expect(pauseContainerUri('xy-ztown-1', 'x86_64')).toBe(
      '602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause-amd64:3.1',
    );
  });
});
