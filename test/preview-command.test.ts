import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, broArgv } from './helpers/cli.js';
import { git, removeDir, tempDir } from './helpers/git-fixtures.js';
import { previewSetup } from './helpers/preview-fixtures.js';
import { PATH, sealedEnv } from './helpers/env.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

const PASSWORD = 'EXAMPLE-"quoted"-\\back\\slash-&-amp-<lt>';

const USER_DATA = `
[settings.kubernetes]
cluster-name = "example"
api-server = "https://example.invalid"
cluster-certificate = "${Buffer.from('-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n').toString('base64')}"

container-log-max-files = 5

[settings.kubernetes.feature-gates]
TopologyManager = true
RotateKubeletServerCertificate = false

[[settings.cri-registry-auths]]
name = "harbor.example.com:8443"
username = "robot$pull"
password = '${PASSWORD}'
`;

/** `bro preview` of the synthetic tree with user data `text`; the fake rustfmt first on PATH. */
async function preview(text: string, args: string[] = [], options: { passwordExpression?: string } = {}) {
  const s = previewSetup(options);
  const work = tempDir('bro-work-');
  dirs.push(...s.dirs, work);
  const userData = join(work, 'user-data.toml');
  writeFileSync(userData, text);
  const out = join(work, 'out');
  const result = await runCli(
    broArgv(
      { ...s, command: 'preview' },
      '--user-data',
      userData,
      '--out',
      out,
      '--ci',
      '--work-dir',
      join(work, 'w'),
      ...args,
    ),
    { PATH: `${s.fakeBin}:${PATH}` },
  );
  return { ...result, out, userData };
}

describe('bro preview', () => {
  it('shows the registry auth tables, the kubelet settings and kubeReserved generated for the instance, and writes the files', async () => {
    const result = await preview(USER_DATA, ['--instance-type', 'm5.large', '--cpus', '2']);
    expect(result.stderr).toContain('Verify the patched tree');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Node: m5.large, 2 CPUs, region ap-northeast-1 (SAMPLE)');
    expect(result.stdout).toContain(
      '[plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.example.com:8443".auth]',
    );
    expect(result.stdout).toContain('username = "robot$pull"  ✔ comes back exactly');
    expect(result.stdout).toContain('password = "***"  ✔ comes back exactly');
    expect(result.stdout).toContain('settings.kubernetes.kube-reserved.cpu = 70m');
    expect(result.stdout).toContain('settings.kubernetes.kube-reserved.memory = 574Mi');
    expect(result.stdout).toContain('settings.kubernetes.max-pods = 29');
    expect(result.stdout).toContain('✔ The node accepts this user data, and every file it writes is valid.');

    // The files a node would write, readable by the user only; the credentials come back exactly.
    const containerd = join(result.out, 'containerd-config-toml');
    expect(statSync(containerd).mode & 0o777).toBe(0o600);
    const config = parseToml(readFileSync(containerd, 'utf8')) as {
      plugins: Record<string, { registry: Record<string, Record<string, unknown>> }>;
    };
    expect(config.plugins['io.containerd.grpc.v1.cri']?.registry.configs).toEqual({
      'harbor.example.com:8443': { auth: { username: 'robot$pull', password: PASSWORD } },
    });
    expect(config.plugins['io.containerd.grpc.v1.cri']?.registry.auths).toBeUndefined();
    expect(readFileSync(join(result.out, 'kubelet-config'), 'utf8')).toContain(
      'kubeReserved:\n  cpu: "70m"\n  memory: "574Mi"\ncontainerLogMaxFiles: 5',
    );
    expect(readFileSync(join(result.out, 'kubernetes-ca-crt'), 'utf8')).toBe(
      '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n\n',
    );

    // The password is a secret: never printed.
    expect(result.stdout + result.stderr).not.toContain('back\\slash');
  });

  it('prints a versioned JSON document with --json, the secret redacted and samples marked', async () => {
    const result = await preview(USER_DATA, ['--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      schemaVersion: 1,
      kind: 'bro.preview',
      variant: 'aws-k8s-1.18',
      version: '1.0.4-hc1',
    });
    expect(report.node).toEqual({
      instanceType: { value: 'm5.large', sample: true },
      cpus: { value: 2, sample: true },
      region: { value: 'ap-northeast-1', sample: true },
    });
    expect(report.registryAuths).toEqual([
      { name: 'harbor.example.com:8443', username: 'robot$pull', password: '***', mismatches: [] },
    ]);
    expect(report.kubelet).toMatchObject({
      maxPods: 29,
      kubeReserved: { cpu: '70m', memory: '574Mi' },
      featureGates: { RotateKubeletServerCertificate: false, TopologyManager: true },
    });
    expect(report.files.map((f: { name: string }) => f.name)).toEqual([
      'containerd-config-toml',
      'kubelet-config',
      'kubernetes-ca-crt',
    ]);
    expect(report.problems).toEqual([]);
    expect(result.stdout).not.toContain('back\\\\slash');
  });

  it('masks even a very short password, which string redaction leaves alone', async () => {
    const result = await preview(USER_DATA.replace(`password = '${PASSWORD}'`, `password = "q&7"`), ['--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).registryAuths[0].password).toBe('***');
    expect(result.stdout + result.stderr).not.toContain('q&7');
  });

  it('exits 2 naming an unknown key, as the node API would reject it', async () => {
    const result = await preview(`${USER_DATA}\n[settings.kubernetes.kube-reservd]\ncpu = "1"\n`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('settings.kubernetes.kube-reservd: unknown key (did you mean kube-reserved?)');
    expect(result.stdout).toBe('');
  });

  it('exits 2 when the user data leaves out a setting a template needs, as the node would fail to write the file', async () => {
    const result = await preview(USER_DATA.replace(/^cluster-certificate = .*$/m, ''));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'does not set settings.kubernetes.cluster-certificate, which kubernetes-ca-crt needs',
    );
  });

  it("refuses a credential the model refuses, with the model's message and without showing it", async () => {
    const result = await preview(USER_DATA.replace(`password = '${PASSWORD}'`, 'password = "line\\nsecret-value"'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'settings.cri-registry-auths[0].password: Registry credentials may not contain control characters or line separators; found U+000A at character 4',
    );
    expect(result.stderr).not.toContain('secret-value');
  });

  it('exits 2 on a registry named twice, an IPv6 registry or container-log-max-files below 2, as the patched model refuses them', async () => {
    const twice = `${USER_DATA.replace('container-log-max-files = 5', 'container-log-max-files = 1')}\n[[settings.cri-registry-auths]]\nname = "harbor.example.com:8443"\npassword = "other-secret"\n`;
    const result = await preview(twice);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'settings.kubernetes.container-log-max-files: Invalid container-log-max-files 1: kubelet requires at least 2',
    );
    expect(result.stderr).toContain(
      "settings.cri-registry-auths[1].name: duplicate registry name 'harbor.example.com:8443' in cri-registry-auths: give each registry one entry",
    );
    expect(result.stderr).not.toContain('other-secret');
    const ipv6 = await preview(USER_DATA.replace('name = "harbor.example.com:8443"', 'name = "[fd00::1]:5000"'));
    expect(ipv6.code).toBe(2);
    expect(ipv6.stderr).toContain(
      "settings.cri-registry-auths[0].name: Invalid container registry host '[fd00::1]:5000': IPv6 addresses are not supported",
    );
  });

  it('exits 1 when a template does not give the credentials back exactly (HTML-escaped by {{…}})', async () => {
    const result = await preview(USER_DATA.replace(`password = '${PASSWORD}'`, `password = 'a&b"c'`), [], {
      passwordExpression: '"{{password}}"',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('password = "***"  ✖ does not come back exactly');
    expect(result.stdout).toContain(
      'containerd config: password of registry "harbor.example.com:8443" does not come back exactly when the rendered TOML is parsed',
    );
    expect(result.stderr).toContain('A node would write invalid configuration');
    expect(result.stderr).toContain('(1 problem, listed above)');
    expect(result.stdout + result.stderr).not.toContain('a&b"c');
  });

  it('refuses an --instance-type eni-max-pods does not know (max pods and kubeReserved memory would stay unset), unless the user data sets them', async () => {
    const result = await preview(USER_DATA, ['--instance-type', 'x9.huge', '--cpus', '96']);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('settings.kubernetes.kube-reserved.cpu = 310m');
    expect(result.stdout).toContain(
      'x9.huge is not in packages/os/eni-max-pods: pluto exits 2 and the setting stays unset',
    );
    expect(result.stdout).toMatch(/maxPods\s+110/);
    expect(result.stdout).not.toContain('✔ The node accepts');
    expect(result.stderr).toContain(
      '--instance-type x9.huge is not in packages/os/eni-max-pods: on such a node pluto exits 2 and settings.kubernetes.max-pods and settings.kubernetes.kube-reserved.memory stay unset',
    );
    expect(result.stderr).toContain('1 problem, listed above');
    const set = await preview(
      USER_DATA.replace(
        'container-log-max-files = 5',
        'container-log-max-files = 5\nmax-pods = 58\nkube-reserved = { memory = "893Mi" }',
      ),
      ['--instance-type', 'x9.huge', '--cpus', '96'],
    );
    expect(set.code, set.stderr).toBe(0);
  });

  it("exits 2 naming the user data's key when it reserves more CPU than the node has, as kubelet refuses to start", async () => {
    // The contradictions between kubelet settings this synthetic model lacks (cpu-manager-policy, topology-manager-policy) are in test/upstream/preview-input.test.ts.
    const settings = (extra: string) =>
      USER_DATA.replace('container-log-max-files = 5', `container-log-max-files = 5\n${extra}`);
    const overCapacity = await preview(settings('kube-reserved = { cpu = "2500m" }'), ['--cpus', '2']);
    expect(overCapacity.code).toBe(2);
    expect(overCapacity.stderr).toContain(
      'settings.kubernetes.kube-reserved.cpu = "2500m": kubelet refuses to start ("invalid Node Allocatable configuration"): 2500m of CPU reserved on a node with 2 CPUs',
    );
  });

  it('refuses one registry named in two cases (host names are case-insensitive)', async () => {
    const result = await preview(
      `${USER_DATA}\n[[settings.cri-registry-auths]]\nname = "HARBOR.example.com:8443"\npassword = "other-secret"\n`,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("duplicate registry name 'HARBOR.example.com:8443' in cri-registry-auths");
  });

  it('warns when --out is in a git work tree and not ignored: the files hold credentials', async () => {
    const repo = tempDir('bro-tracked-');
    dirs.push(repo);
    git(repo, 'init', '--quiet');
    writeFileSync(join(repo, '.gitignore'), 'ignored/\n');
    const tracked = await preview(USER_DATA, ['--out', join(repo, 'preview')]);
    expect(tracked.code, tracked.stderr).toBe(0);
    expect(tracked.stderr).toContain(
      `! ${join(repo, 'preview')} is in a git work tree and not ignored there: the files written into it hold registry credentials`,
    );
    const ignored = await preview(USER_DATA, ['--out', join(repo, 'ignored')]);
    expect(ignored.code).toBe(0);
    expect(ignored.stderr).not.toContain('git work tree');
  });

  it('refuses a user data file that is missing or not TOML before doing any work', async () => {
    // No workspace, no mirror: nothing was fetched or checked out.
    const untouched = (work: string, cache?: string) => {
      expect(existsSync(join(work, 'w')), 'the workspace').toBe(false);
      if (cache) expect(readdirSync(cache), 'the mirror cache').toEqual([]);
    };
    const s = previewSetup();
    const work = tempDir('bro-work-');
    dirs.push(...s.dirs, work);
    const missing = await runCli(
      broArgv(
        { ...s, command: 'preview' },
        '--user-data',
        '/nonexistent/user-data.toml',
        '--work-dir',
        join(work, 'w'),
      ),
      { PATH: `${s.fakeBin}:${PATH}` },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/user-data.toml: cannot be read');
    untouched(work, s.cacheDir);
    const bad = await preview('[settings\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/user-data\.toml: is not valid TOML \(line 1, column \d+\)/);
    untouched(dirname(bad.out));
    // The parser quotes the lines around the mistake: not even --debug shows them.
    const broken = await preview(USER_DATA.replace(`password = '${PASSWORD}'`, `password = 'hunter2-secret' oops`), [
      '--debug',
    ]);
    expect(broken.code).toBe(2);
    const line = USER_DATA.split('\n').findIndex((l) => l.startsWith('password = ')) + 1;
    expect(broken.stderr).toContain(`is not valid TOML (line ${line}, column 29)`);
    expect(broken.stderr).not.toContain('hunter2-secret');
  });

  it('checks its options', async () => {
    const run = (...args: string[]) =>
      runCli(['preview', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--user-data', 'x', ...args], sealedEnv());
    const cpus = await run('--cpus', '1.5');
    expect(cpus.code).toBe(2);
    expect(cpus.stderr).toContain('--cpus must be a whole number of CPUs');
    const type = await run('--instance-type', 'M5 large');
    expect(type.code).toBe(2);
    expect(type.stderr).toContain('--instance-type must be an EC2 instance type such as m5.large');
  });
});
