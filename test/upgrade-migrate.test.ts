import { describe, expect, it } from 'vitest';
import { migrateSettings, type Models } from '../src/patches/upgrade/migrate-user-data.js';
import type { ModelType } from '../src/preview/index.js';

const string: Extract<ModelType, { kind: 'scalar' }> = { kind: 'scalar', rust: 'String', json: 'string' };
const struct = (name: string, fields: Record<string, ModelType>): ModelType => ({
  kind: 'struct',
  name,
  fields,
  required: [],
});
const list = (item: ModelType): ModelType => ({ kind: 'list', item });
const strings = (...names: string[]) => Object.fromEntries(names.map((n) => [n, string]));

// Upstream renamed two of our fields: more than the models' shape alone can pair.
const upstream = struct('Settings', {
  motd: string,
  'container-registry': struct('RegistrySettings', {
    credentials: list(struct('RegistryCredential', strings('registry', 'user', 'password', 'auth'))),
  }),
});
const models: Models = {
  old: struct('Settings', {
    motd: string,
    'cri-registry-auths': list(struct('RegistryAuth', strings('name', 'username', 'password', 'auth'))),
  }),
  upstream,
  next: upstream,
};
const settings = {
  motd: 'hi',
  'cri-registry-auths': [{ name: 'harbor.example.com', username: 'robot', password: 'p"w' }],
};
const tags = { from: 'v1.0.4', to: 'v1.7.2' };

describe('migrating the settings of a patch the upgrade dropped', () => {
  it("moves them to upstream's key with the check's field mapping, every renamed field with it", () => {
    const advised = {
      from: 'settings.cri-registry-auths',
      to: 'settings.container-registry.credentials',
      fields: { name: 'registry', username: 'user' },
      patch: '0002-models-add-settings.cri-registry-auths.patch',
    };
    const migration = migrateSettings('old.toml', settings, models, tags, [advised]);
    expect(migration.settings).toEqual({
      motd: 'hi',
      'container-registry': { credentials: [{ registry: 'harbor.example.com', user: 'robot', password: 'p"w' }] },
    });
    expect(migration.moved).toEqual([advised]);
    expect(migration.dropped).toEqual([]);
  });

  it('without that advice, names the setting as one that cannot move', () => {
    const migration = migrateSettings('old.toml', settings, models, tags);
    expect(migration.settings).toEqual({ motd: 'hi' });
    expect(migration.dropped.map((d) => d.key)).toEqual(['settings.cri-registry-auths']);
  });

  it('writes one value as a list of one where upstream now takes a list, and says so', () => {
    const taints = (value: ModelType) =>
      struct('Settings', {
        kubernetes: struct('KubernetesSettings', { 'node-taints': { kind: 'map', key: string, value } }),
      });
    const before = taints(string);
    const after = taints(list(string));
    const migration = migrateSettings(
      'old.toml',
      { kubernetes: { 'node-taints': { os: 'bottlerocket:NoSchedule' } } },
      { old: before, upstream: after, next: after },
      tags,
    );
    expect(migration.settings).toEqual({ kubernetes: { 'node-taints': { os: ['bottlerocket:NoSchedule'] } } });
    expect(migration.notes).toEqual([
      'settings.kubernetes.node-taints.os: a list at v1.7.2 of what v1.0.4 took one of; written as a list of one.',
    ]);
  });
});
