import { describe, expect, it } from 'vitest';
import { parse as parseToml } from 'smol-toml';
import { INTEGER_VALIDATORS, VALIDATORS } from '../src/preview/modeled-types.js';
import { buildModel, checkValue, sampleValue, typeAt } from '../src/preview/model.js';
import { parseRustItems, stripComments } from '../src/preview/rust-source.js';
import {
  addedCode,
  addedLines,
  readPatch,
  rustIntegers,
  rustStringPairs,
  rustStrings,
} from './helpers/preview-fixtures.js';

const SOURCE = `
use std::collections::HashMap;
// struct NotThis { a: u32 }   and a brace in a comment: {
/* block { comment } struct AlsoNot {} */
const URL: &str = "https://example.com/{"; // a string with // and {
const C: char = '{';

#[model(rename = "settings", impl_default = true)]
struct Settings {
    motd: String,
    kubernetes: KubernetesSettings,
    host_containers: HashMap<Identifier, ContainerImage>,
    cri_registry_auths: Vec<RegistryAuth>,
}

#[model]
pub struct KubernetesSettings {
    // a comment between fields
    max_pods: u32,
    node_labels: HashMap<KubernetesLabelKey, KubernetesLabelValue>,
    #[serde(rename = "renamed-key")]
    pub(crate) some_field: std::net::Ipv4Addr,
    container_log_max_files: i32,
}

#[model]
struct ContainerImage {
    source: Url,
    enabled: bool,
}

#[model(add_option = false)]
struct RegistryAuth {
    name: RegistryHost,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<RegistryAuthValue>,
}

pub struct RegistryHost { inner: String }
string_impls_for!(RegistryHost, "RegistryHost");
string_impls_for!(RegistryAuthValue, "RegistryAuthValue");
string_impls_for!(Identifier, "Identifier");
`;

const model = buildModel(parseRustItems(SOURCE));

describe('reading the model from Rust source', () => {
  it('ignores comments but keeps string and char literals', () => {
    const text = stripComments(SOURCE);
    expect(text).not.toContain('NotThis');
    expect(text).not.toContain('AlsoNot');
    expect(text).toContain('"https://example.com/{"');
    expect(parseRustItems(SOURCE).structs.map((s) => s.name)).toEqual([
      'Settings',
      'KubernetesSettings',
      'ContainerImage',
      'RegistryAuth',
      'RegistryHost',
    ]);
  });

  it('names fields in kebab-case under #[model], honours serde rename, unwraps Option, and knows maps, lists and modeled strings', () => {
    expect(typeAt(model, 'settings.kubernetes.max-pods')).toEqual({ kind: 'scalar', rust: 'u32', json: 'integer' });
    expect(typeAt(model, 'settings.kubernetes.renamed-key')).toEqual({
      kind: 'scalar',
      rust: 'Ipv4Addr',
      json: 'string',
    });
    expect(typeAt(model, 'settings.kubernetes.some-field')).toBeUndefined();
    expect(typeAt(model, 'settings.host-containers.admin.enabled')).toEqual({
      kind: 'scalar',
      rust: 'bool',
      json: 'boolean',
    });
    expect(typeAt(model, 'settings.cri-registry-auths')).toMatchObject({
      kind: 'list',
      item: { kind: 'struct', name: 'RegistryAuth', required: ['name'] },
    });
    expect(typeAt(model, 'settings.cri-registry-auths')).toMatchObject({
      item: { fields: { name: { rust: 'RegistryHost', json: 'string' }, password: { rust: 'RegistryAuthValue' } } },
    });
  });
});

describe('checking user data against the model, as the node API would', () => {
  it('accepts what fits', () => {
    const ok = {
      motd: 'hi',
      kubernetes: { 'max-pods': 29, 'node-labels': { os: 'bottlerocket' } },
      'cri-registry-auths': [{ name: 'harbor.example.com', password: 'p"w\\&' }],
    };
    expect(checkValue(model.settings, ok, 'settings')).toEqual([]);
  });

  it('names every unknown key, wrong type, missing required field and invalid modeled value', () => {
    const bad = {
      kubernetes: { 'max-podz': 1, 'container-log-max-files': '5', 'max-pods': -1 },
      'host-containers': { bad_name: { enabled: 'yes' } },
      'cri-registry-auths': [{ password: 'line\nbreak' }],
      nope: true,
    };
    expect(checkValue(model.settings, bad, 'settings').map((p) => `${p.key}: ${p.message}`)).toEqual([
      'settings.kubernetes.max-podz: unknown key (did you mean max-pods?): KubernetesSettings has container-log-max-files, max-pods, node-labels, renamed-key',
      'settings.kubernetes.container-log-max-files: expected an integer (i32), got a string',
      'settings.kubernetes.max-pods: -1 is out of range for u32 (0..4294967295)',
      "settings.host-containers.bad_name: invalid key: Identifiers may only contain ASCII alphanumerics plus hyphens, received 'bad_name'",
      'settings.host-containers.bad_name.enabled: expected a boolean, got a string',
      'settings.cri-registry-auths[0].name: missing: RegistryAuth requires name',
      'settings.cri-registry-auths[0].password: Registry credentials may not contain control characters or line separators; found U+000A at character 4',
      'settings.nope: unknown key: Settings has cri-registry-auths, host-containers, kubernetes, motd',
    ]);
  });

  it('makes sample settings that the model accepts, every field set', () => {
    const sample = sampleValue(model.settings);
    expect(checkValue(model.settings, sample, 'settings')).toEqual([]);
    expect(sample).toMatchObject({
      kubernetes: { 'max-pods': 1 },
      'cri-registry-auths': [{ name: 'sample-value', password: 'sample-value' }],
    });
  });
});

describe('the model our patch series adds', () => {
  const credentials = addedCode(readPatch('cri-registry-auths'));
  const kubelet = addedCode(readPatch('kubelet-settings'));

  it('adds cri-registry-auths entries with a required name, and the eight kubelet settings under the names later upstream releases use', () => {
    const items = parseRustItems(`${credentials}\n${kubelet}`);
    const auth = buildModel(items, 'RegistryAuth').settings;
    expect(auth).toMatchObject({ kind: 'struct', required: ['name'] });
    expect(Object.keys((auth as { fields: object }).fields)).toEqual(['name', 'username', 'password', 'auth']);
    const fields =
      kubelet.match(
        /^\s+(feature_gates|container_log_max_size|container_log_max_files|kube_reserved|system_reserved|eviction_hard|topology_manager_policy|cpu_manager_policy): /gm,
      ) ?? [];
    expect(fields).toHaveLength(8);
  });

  // (Rust type, test function of its good values, test function of its bad values)
  const vectors: [string, string, string, string][] = [
    [credentials, 'RegistryHost', 'good_registry_hosts', 'bad_registry_hosts'],
    [credentials, 'RegistryAuthValue', 'good_registry_auth_values', 'bad_registry_auth_values'],
    [kubelet, 'KubernetesFeatureGateKey', 'good_keys', 'bad_keys'],
    [kubelet, 'KubernetesEvictionHardKey', 'good_eviction_hard_key', 'bad_eviction_hard_key'],
    [kubelet, 'KubernetesQuantityValue', 'good_kubernetes_quantity_value', 'bad_kubernetes_quantity_value'],
    [kubelet, 'KubernetesThresholdValue', 'good_kubernetes_threshold_value', 'bad_kubernetes_threshold_value'],
    [kubelet, 'KubernetesReservedResourceKey', 'good_reserved_resources_key', 'bad_reserved_resources_key'],
    [kubelet, 'CpuManagerPolicy', 'good_cpu_manager_policy', 'bad_cpu_manager_policy'],
    [kubelet, 'TopologyManagerPolicy', 'good_topology_manager_policy', 'bad_topology_manager_policy'],
  ];
  it.each(vectors)("validates like the patch's Rust tests: %#, %s", (source, type, good, bad) => {
    const validate = VALIDATORS[type];
    if (!validate) throw new Error(`no validator for ${type}`);
    const goods = rustStrings(source, good);
    const bads = rustStrings(source, bad);
    // Both sides, or half of the Rust test is not compared (a renamed test function reads as no vectors).
    expect(goods.length, `${good} vectors`).toBeGreaterThanOrEqual(2);
    expect(bads.length, `${bad} vectors`).toBeGreaterThanOrEqual(2);
    expect(goods.filter((v) => validate(v) !== undefined)).toEqual([]);
    expect(bads.filter((v) => validate(v) === undefined)).toEqual([]);
  });

  it("validates container-log-max-files like the patch's Rust tests: at least 2, as kubelet 1.18 requires", () => {
    const validate = INTEGER_VALIDATORS.KubernetesContainerLogMaxFiles;
    if (!validate) throw new Error('no validator for KubernetesContainerLogMaxFiles');
    const goods = rustIntegers(kubelet, 'good_container_log_max_files');
    const bads = rustIntegers(kubelet, 'bad_container_log_max_files');
    expect(goods).toContain(2);
    expect(bads).toEqual(expect.arrayContaining([0, 1]));
    expect(goods.filter((v) => validate(v) !== undefined)).toEqual([]);
    expect(bads.filter((v) => validate(v) === undefined)).toEqual([]);
  });

  it("refuses a registry named twice like the patch's deserializer, naming it (REGISTRY_AUTHS_VECTORS)", () => {
    // The Rust test deserializes `auths`; here it is the model's cri-registry-auths, with the attribute the patch puts on it.
    const settingsField =
      /(#\[serde\([^\]]*deserialize_with = "crate::de::deserialize_registry_auths"[^\]]*\)\]\s*)cri_registry_auths: Vec<RegistryAuth>,/.exec(
        credentials,
      );
    if (!settingsField) throw new Error('the patch no longer puts deserialize_registry_auths on cri_registry_auths');
    const model = buildModel(
      parseRustItems(`${credentials}\n#[model(rename = "settings")]\nstruct Settings {\n${settingsField[0]}\n}\n`),
    );
    const vectors = rustStringPairs(credentials, 'REGISTRY_AUTHS_VECTORS');
    expect(vectors.filter(([, dup]) => dup !== '').length).toBeGreaterThanOrEqual(2);
    expect(vectors.filter(([, dup]) => dup === '').length).toBeGreaterThanOrEqual(2);
    for (const [userData, duplicate] of vectors) {
      const auths = (parseToml(userData) as { auths?: unknown }).auths;
      const problems = checkValue(
        model.settings,
        auths === undefined ? {} : { 'cri-registry-auths': auths },
        'settings',
      ).map((p) => p.message);
      expect(problems, userData).toEqual(
        duplicate ? [`duplicate registry name '${duplicate}' in cri-registry-auths: give each registry one entry`] : [],
      );
    }
  });

  it("refuses RotateKubeletServerCertificate = false like the patch's deserializer, as kubelet refuses serverTLSBootstrap without it (FEATURE_GATES_VECTORS)", () => {
    const field =
      /#\[serde\([^\]]*deserialize_with = "crate::de::deserialize_feature_gates"[^\]]*\)\]\s*feature_gates: HashMap<KubernetesFeatureGateKey, bool>,/.exec(
        kubelet,
      );
    if (!field) throw new Error('the patch no longer puts deserialize_feature_gates on feature_gates');
    const model = buildModel(
      parseRustItems(`${kubelet}\n#[model]\nstruct KubernetesSettings {\n${field[0]}\n}\n`),
      'KubernetesSettings',
    );
    const vectors = rustStringPairs(kubelet, 'FEATURE_GATES_VECTORS');
    expect(vectors.filter(([, gate]) => gate !== '').length).toBeGreaterThanOrEqual(2);
    expect(vectors.filter(([, gate]) => gate === '').length).toBeGreaterThanOrEqual(2);
    for (const [userData, gate] of vectors) {
      const gates = (parseToml(userData) as { gates?: unknown }).gates;
      const problems = checkValue(
        model.settings,
        gates === undefined ? {} : { 'feature-gates': gates },
        'settings.kubernetes',
      ).map((p) => `${p.key}: ${p.message}`);
      expect(problems, userData).toEqual(
        gate
          ? [
              `settings.kubernetes.feature-gates.${gate}: feature gate ${gate} may not be false: kubelet refuses to start without it, as Bottlerocket sets serverTLSBootstrap`,
            ]
          : [],
      );
    }
  });

  it('refuses, through the model read from the patch, every kubelet value kubelet 1.18 refuses or ignores', () => {
    // The fields the patch adds to KubernetesSettings (lib.rs), in a struct of their own, with the patch's modeled types.
    const fields = addedLines(readPatch('kubelet-settings'), 'sources/models/src/lib.rs')
      .split('\n')
      .filter((l) => /^ {4}\w+: .+,$/.test(l));
    expect(fields).toHaveLength(8);
    const model = buildModel(
      parseRustItems(`${kubelet}\n#[model]\nstruct KubernetesSettings {\n${fields.join('\n')}\n}\n`),
      'KubernetesSettings',
    );
    const refused = (kubernetes: object) =>
      checkValue(model.settings, kubernetes, 'settings.kubernetes').map((p) => `${p.key}: ${p.message}`);
    expect(refused({ 'container-log-max-files': 1 })).toEqual([
      'settings.kubernetes.container-log-max-files: Invalid container-log-max-files 1: kubelet requires at least 2',
    ]);
    expect(refused({ 'container-log-max-files': 0 })).toEqual([
      'settings.kubernetes.container-log-max-files: Invalid container-log-max-files 0: kubelet requires at least 2',
    ]);
    expect(refused({ 'eviction-hard': { 'memory.available': '0' } })).toEqual([
      "settings.kubernetes.eviction-hard.memory.available: Invalid Kubernetes eviction threshold '0': it must be greater than zero (kubelet refuses a zero threshold)",
    ]);
    expect(refused({ 'eviction-hard': { 'nodefs.available': '0%' } })).toEqual([
      "settings.kubernetes.eviction-hard.nodefs.available: Invalid Kubernetes threshold percentage value '0%': it must be more than 0% and less than 100% (kubelet ignores 0% and 100%)",
    ]);
    expect(
      refused({
        'eviction-hard': { 'imagefs.available': '0Gi', 'nodefs.inodesFree': '0.0%', 'pid.available': '100%' },
      }),
    ).toHaveLength(3);
    expect(
      refused({
        'container-log-max-files': 2,
        'eviction-hard': { 'memory.available': '100Mi', 'nodefs.available': '10%' },
      }),
    ).toEqual([]);
  });

  it('never shows a refused credential, only the code point and position (error_does_not_leak_value)', () => {
    const message = VALIDATORS.RegistryAuthValue?.('secret\npassword') ?? '';
    expect(message).not.toContain('secret');
    expect(message).toContain('U+000A');
    expect(message).toContain('character 6');
  });
});
