import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/preview/engine.js';
import { parseRendered } from '../src/preview/formats.js';
import { checkKubelet, checkRegistryAuths } from '../src/preview/preview.js';
import { KNOWN_HELPERS } from '../src/preview/schnauzer.js';
import { postImage, readPatch } from './helpers/preview-fixtures.js';
import { parseFormatPatch } from '../src/patch-file.js';

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
  return (file?.hunks ?? []).flatMap((h) => h.lines.filter((l) => !l.startsWith('+') && !l.startsWith('\\')).map((l) => l.slice(1))).join('\n');
}

async function render(template: string, settings: unknown): Promise<string> {
  return (await createEngine(KNOWN_HELPERS)).render('t', `${template}\n`, { settings });
}

describe('the patched containerd template', () => {
  const template = postImage(containerdPatch, CONTAINERD);

  it('gives back every credential exactly, whatever characters it holds', async () => {
    const auths = [
      { name: 'harbor.example.com', username: 'robot$bro+pull', password: 'q"uote \\back\\slash &amp; <lt> \'apos\'\'\' `=` {{x}}' },
      { name: 'harbor.example.com:8443', password: '비밀번호 💝 ünï' },
      { name: '[fd00::1]:5000', auth: 'cm9ib3Q6cGFzcw==' },
    ];
    const text = await render(template, { 'cri-registry-auths': auths });
    const result = checkRegistryAuths(auths, parseToml(text));
    expect(result.problems).toEqual([]);
    expect(result.checks.map((c) => c.mismatches)).toEqual([[], [], []]);
    const parsed = parseToml(text) as { plugins: Record<string, { registry: { auths: Record<string, Record<string, string>> } }> };
    expect(parsed.plugins['io.containerd.grpc.v1.cri']?.registry.auths['[fd00::1]:5000']).toEqual({ auth: 'cm9ib3Q6cGFzcw==' });
  });

  it('renders byte-identical to the unpatched template when no credentials are set', async () => {
    expect(await render(template, {})).toBe(await render(preImage(containerdPatch, CONTAINERD), {}));
  });

  it('would corrupt the password if the value went through {{…}} instead of toml_encode, and bro notices', async () => {
    const broken = template.replace('password = {{toml_encode password}}', 'password = "{{password}}"');
    const auths = [{ name: 'h.example.com', password: 'a&b' }];
    const text = await render(broken, { 'cri-registry-auths': auths });
    expect(text).toContain('password = "a&amp;b"');
    expect(checkRegistryAuths(auths, parseToml(text)).problems).toEqual(['containerd config: password of registry "h.example.com" does not come back exactly when the rendered TOML is parsed']);
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
      'container-log-max-files': 0,
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
    expect(config.featureGates).toEqual({ CSIMigration: false, RotateKubeletServerCertificate: false, TopologyManager: true });
    expect(config.containerLogMaxSize).toBe('100');
    expect(config.containerLogMaxFiles).toBe(0);
    expect(config.kubeReserved).toEqual({ cpu: '70m', 'ephemeral-storage': '1Gi', memory: '574Mi' });
    expect(config.maxPods).toBe(29);
  });

  it('renders byte-identical to the unpatched template when none of them is set', async () => {
    expect(await render(template, { kubernetes: base })).toBe(await render(preImage(kubeletPatch, KUBELET), { kubernetes: base }));
  });

  it('reports a value kubelet would read with the wrong type', () => {
    const parsed = parseRendered('kubelet-config', 'kubeReserved:\n  cpu: 1\ncontainerLogMaxFiles: "5"\nfeatureGates:\n  A: yes\n');
    expect(parsed.problems).toEqual(['containerLogMaxFiles: kubelet expects int, the YAML has "5"', 'kubeReserved: kubelet expects map<string,string>, the YAML has {"cpu":1}']);
  });
});
