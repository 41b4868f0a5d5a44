import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/preview/engine.js';
import { parseRendered } from '../src/preview/formats.js';
import { checkKubelet, checkKubeletRules, checkRegistryAuths } from '../src/preview/preview.js';
import { KNOWN_HELPERS } from '../src/preview/schnauzer.js';
import { addedCode, postImage, readPatch } from './helpers/preview-fixtures.js';
import { buildModel, checkValue } from '../src/preview/model.js';
import { VALIDATORS } from '../src/preview/modeled-types.js';
import { parseRustItems } from '../src/preview/rust-source.js';
import { parseFormatPatch } from '../src/config/patch-file.js';

/**
 * The templates of our real patch series (the part of each file its hunks
 * show), rendered by bro's schnauzer/handlebars-rust emulation.
 */
const CONTAINERD = 'packages/containerd/containerd-config-toml_aws-k8s';
const KUBELET = 'packages/kubernetes-1.18/kubelet-config';
const containerdPatch = readPatch('containerd-render-settings.cri-registry-auths');
const kubeletPatch = readPatch('kubernetes-1.18-render-the-new-kubelet-settings');

/** The old side of a file's hunks: what the part of the file looked like before the patch. */
function preImage(patch: string, path: string): string {
  const file = parseFormatPatch(patch).files.find((f) => f.newPath === path);
  return (file?.hunks ?? [])
    .flatMap((h) => h.lines.filter((l) => !l.startsWith('+') && !l.startsWith('\\')).map((l) => l.slice(1)))
    .join('\n');
}

async function render(template: string, settings: unknown): Promise<string> {
  return (await createEngine(KNOWN_HELPERS)).render('t', `${template}\n`, { settings });
}

describe('the patched containerd template', () => {
  const template = postImage(containerdPatch, CONTAINERD);

  it('gives every registry its own registry.configs."<host>".auth table, each credential exactly, and no registry.auths', async () => {
    const auths = [
      {
        name: 'harbor.example.com',
        username: 'robot$bro+pull',
        password: "q\"uote \\back\\slash &amp; <lt> 'apos''' `=` {{x}}",
      },
      { name: 'harbor.example.com:8443', password: '비밀번호 💝 ünï' },
      { name: '10.0.0.1:5000', auth: 'cm9ib3Q6cGFzcw==' },
    ];
    const text = await render(template, { 'cri-registry-auths': auths });
    const result = checkRegistryAuths(auths, parseToml(text));
    expect(result.problems).toEqual([]);
    expect(result.checks.map((c) => c.mismatches)).toEqual([[], [], []]);
    const registry = (
      parseToml(text) as { plugins: Record<string, { registry: Record<string, Record<string, unknown>> }> }
    ).plugins['io.containerd.grpc.v1.cri']?.registry;
    expect(registry?.auths).toBeUndefined();
    expect(registry?.configs).toEqual({
      'harbor.example.com': { auth: { username: auths[0]?.username, password: auths[0]?.password } },
      'harbor.example.com:8443': { auth: { password: auths[1]?.password } },
      '10.0.0.1:5000': { auth: { auth: auths[2]?.auth } },
    });
  });

  it('renders each value as an escaped TOML basic string, byte for byte', async () => {
    const auths = [
      { name: 'h.example.com:8443', username: "it's <me> & you", password: 'a"b\\c\'d&e<f>g 비밀 💝 \u0080\u00a0' },
    ];
    const text = await render(template, { 'cri-registry-auths': auths });
    expect(text.slice(text.indexOf('\n\n[plugins."io.containerd.grpc.v1.cri".registry.configs'))).toBe(
      [
        '',
        '',
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."h.example.com:8443".auth]',
        `username = "it's <me> & you"`,
        'password = "a\\"b\\\\c\'d&e<f>g 비밀 💝 \u0080\u00a0"',
        '',
      ].join('\n'),
    );
  });

  it('refuses, as the model does, what it cannot render for both containerd 1.3 and 1.6: an IPv6 host, a registry named twice', () => {
    expect(VALIDATORS.RegistryHost?.('[fd00::1]:5000')).toMatch(/IPv6 addresses are not supported/);
    const model = buildModel(
      parseRustItems(
        `${addedCode(readPatch('cri-registry-auths'))}\n#[model(rename = "settings")]\nstruct Settings {\n    #[serde(default, deserialize_with = "crate::de::deserialize_registry_auths")]\n    cri_registry_auths: Vec<RegistryAuth>,\n}\n`,
      ),
    );
    const twice = [{ name: 'a.example.com' }, { name: 'b.example.com' }, { name: 'a.example.com', password: 'x' }];
    expect(checkValue(model.settings, { 'cri-registry-auths': twice }, 'settings')).toEqual([
      {
        key: 'settings.cri-registry-auths[2].name',
        message: "duplicate registry name 'a.example.com' in cri-registry-auths: give each registry one entry",
      },
    ]);
  });

  it('renders byte-identical to the unpatched template when no credentials are set', async () => {
    expect(await render(template, {})).toBe(await render(preImage(containerdPatch, CONTAINERD), {}));
  });

  it('would corrupt the password if the value went through {{…}} instead of toml_encode, and bro notices', async () => {
    const broken = template.replace('password = {{toml_encode password}}', 'password = "{{password}}"');
    const auths = [{ name: 'h.example.com', password: 'a&b' }];
    const text = await render(broken, { 'cri-registry-auths': auths });
    expect(text).toContain('password = "a&amp;b"');
    expect(checkRegistryAuths(auths, parseToml(text)).problems).toEqual([
      'containerd config: password of registry "h.example.com" does not come back exactly when the rendered TOML is parsed',
    ]);
  });

  it("reports the deprecated registry.auths table, which gives every registry one random entry's credentials on containerd 1.3", async () => {
    const old = template.replace('registry.configs.{{toml_encode name}}.auth]', 'registry.auths.{{toml_encode name}}]');
    const auths = [
      { name: 'a.example.com', password: 'x' },
      { name: 'b.example.com', password: 'y' },
    ];
    const problems = checkRegistryAuths(auths, parseToml(await render(old, { 'cri-registry-auths': auths }))).problems;
    expect(problems[0]).toMatch(
      /^containerd config: \[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.auths\] is set: containerd 1\.3 gives every registry listed there the credentials of one of them/,
    );
    expect(problems.slice(1)).toEqual([
      'containerd config: no [plugins."io.containerd.grpc.v1.cri".registry.configs."a.example.com".auth] table',
      'containerd config: no [plugins."io.containerd.grpc.v1.cri".registry.configs."b.example.com".auth] table',
    ]);
  });
});

describe('the patched kubelet config template', () => {
  const template = postImage(kubeletPatch, KUBELET);
  const base = { 'cluster-domain': 'cluster.local', 'cluster-dns-ip': '10.100.0.10', 'max-pods': 29 };

  it('renders all eight settings as valid kubelet YAML with the expected types; user feature gates win over the defaults', async () => {
    const kubernetes = {
      ...base,
      'feature-gates': { RotateKubeletServerCertificate: false, TopologyManager: true },
      'container-log-max-size': '100',
      'container-log-max-files': 2,
      'kube-reserved': { cpu: '70m', memory: '574Mi', 'ephemeral-storage': '1Gi' },
      'system-reserved': { cpu: '100m' },
      'eviction-hard': { 'memory.available': '200Mi', 'nodefs.available': '10%' },
      'topology-manager-policy': 'best-effort',
      'cpu-manager-policy': 'static',
    };
    const text = await render(template, { kubernetes });
    const parsed = parseRendered('kubelet-config', text);
    expect(parsed.problems).toEqual([]);
    const config = parsed.value as Record<string, unknown>;
    expect(checkKubelet(kubernetes, config)).toEqual([]);
    expect(config.featureGates).toEqual({
      CSIMigration: false,
      RotateKubeletServerCertificate: false,
      TopologyManager: true,
    });
    expect(config.containerLogMaxSize).toBe('100');
    expect(config.containerLogMaxFiles).toBe(2);
    expect(config.kubeReserved).toEqual({ cpu: '70m', 'ephemeral-storage': '1Gi', memory: '574Mi' });
    expect(config.maxPods).toBe(29);
  });

  it("is refused, as kubelet 1.18 refuses it, when settings contradict each other or Bottlerocket's own kubelet settings", async () => {
    const rules = async (kubernetes: object) =>
      checkKubeletRules(
        parseRendered('kubelet-config', await render(template, { kubernetes: { ...base, ...kubernetes } }))
          .value as Record<string, unknown>,
      );
    expect(await rules({ 'feature-gates': { RotateKubeletServerCertificate: false } })).toEqual([
      'kubelet config: featureGates.RotateKubeletServerCertificate is false, but Bottlerocket sets serverTLSBootstrap: kubelet 1.18 refuses to start ("serverTLSBootstrap true requires feature gate RotateKubeletServerCertificate")',
    ]);
    expect(
      await rules({ 'feature-gates': { TopologyManager: false }, 'topology-manager-policy': 'best-effort' }),
    ).toEqual([
      'kubelet config: topologyManagerPolicy is best-effort, but featureGates.TopologyManager is false: kubelet 1.18 refuses to start ("requires feature gate TopologyManager")',
    ]);
    expect(await rules({ 'cpu-manager-policy': 'static', 'kube-reserved': { cpu: '0m', memory: '574Mi' } })).toEqual([
      'kubelet config: cpuManagerPolicy is static, but kubeReserved.cpu + systemReserved.cpu is zero: kubelet 1.18 refuses to start ("the static policy requires systemreserved.cpu + kubereserved.cpu to be greater than zero")',
    ]);
    expect(
      await rules({
        'cpu-manager-policy': 'static',
        'kube-reserved': { cpu: '0m' },
        'system-reserved': { cpu: '100m' },
      }),
    ).toEqual([]);
    expect(
      await rules({
        'feature-gates': { TopologyManager: false },
        'topology-manager-policy': 'none',
        'cpu-manager-policy': 'static',
        'kube-reserved': { cpu: '70m' },
      }),
    ).toEqual([]);
  });

  it('renders byte-identical to the unpatched template when none of them is set', async () => {
    expect(await render(template, { kubernetes: base })).toBe(
      await render(preImage(kubeletPatch, KUBELET), { kubernetes: base }),
    );
  });

  it('reports a value kubelet would read with the wrong type', () => {
    const parsed = parseRendered(
      'kubelet-config',
      'kubeReserved:\n  cpu: 1\ncontainerLogMaxFiles: "5"\nfeatureGates:\n  A: yes\n',
    );
    expect(parsed.problems).toEqual([
      'containerLogMaxFiles: kubelet expects int, the YAML has "5"',
      'kubeReserved: kubelet expects map<string,string>, the YAML has {"cpu":1}',
    ]);
  });
});
