import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasProgram, makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro preview` of the real patched templates (Bottlerocket v1.0.4 with the series) from
// examples/user-data.toml, and the rendered containerd config read back by the real containerd.

interface UserData {
  settings: {
    kubernetes: Record<string, any>;
    'cri-registry-auths': { name: string; username?: string; password?: string; auth?: string }[];
  };
}

describe.skipIf(skipsUpstream())('bro preview of the real patched templates (examples/user-data.toml)', () => {
  let world: World;
  let result: { code: number; stdout: string; stderr: string };
  let preview: any;
  let userData: UserData;

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    const file = join(world.project, 'examples', 'user-data.toml');
    userData = parseToml(readFileSync(file, 'utf8')) as unknown as UserData;
    result = await world.bro(
      'preview',
      'aws-k8s-1.18',
      '--version',
      '1.0.4-hc1',
      '--user-data',
      file,
      '--instance-type',
      'm5.large',
      '--cpus',
      '2',
      '--json',
      '--work-dir',
      join(world.root, 'work'),
    );
    preview = result.code === 0 ? JSON.parse(result.stdout) : undefined;
  });
  afterAll(() => world?.dispose());

  it('accepts the example and renders every config file of the variant without a problem', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(preview.kind).toBe('bro.preview');
    expect(preview.problems).toEqual([]);
    const files = Object.fromEntries(preview.files.map((f: any) => [f.name, f]));
    expect(files['containerd-config-toml']).toMatchObject({
      path: '/etc/containerd/config.toml',
      source: 'packages/containerd/containerd-config-toml_aws-k8s',
      problems: [],
    });
    expect(files['kubelet-config']).toMatchObject({
      path: '/etc/kubernetes/kubelet/config',
      source: 'packages/kubernetes-1.18/kubelet-config',
      problems: [],
    });
    for (const f of preview.files) expect(f.problems, f.name).toEqual([]);
  });

  it('gives back every registry credential exactly, and masks them in its output', () => {
    const auths = userData.settings['cri-registry-auths'];
    expect(preview.registryAuths.map((a: any) => a.name)).toEqual(auths.map((a) => a.name));
    for (const a of preview.registryAuths) expect(a.mismatches, a.name).toEqual([]);
    for (const secret of auths.flatMap((a) => [a.password, a.auth]).filter(Boolean)) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
  });

  it('renders the kubelet settings as given, and kube-reserved from the pluto formulas (m5.large, 2 CPUs)', () => {
    const k = userData.settings.kubernetes;
    // max-pods from the real packages/os/eni-max-pods; memory 11 * max-pods + 255 Mi; cpu for 2
    // cores 60m + 10m (EKS AMI's bootstrap.sh).
    const eniMaxPods = readFileSync(join(world.root, 'work', 'bottlerocket', 'packages', 'os', 'eni-max-pods'), 'utf8');
    const maxPods = Number(/^m5\.large (\d+)$/m.exec(eniMaxPods)?.[1]);
    expect(maxPods).toBeGreaterThan(0);
    expect(preview.kubelet).toMatchObject({
      maxPods,
      containerLogMaxSize: k['container-log-max-size'],
      containerLogMaxFiles: k['container-log-max-files'],
      topologyManagerPolicy: k['topology-manager-policy'],
      cpuManagerPolicy: k['cpu-manager-policy'],
      evictionHard: k['eviction-hard'],
      systemReserved: k['system-reserved'],
      kubeReserved: { ...k['kube-reserved'], cpu: '70m', memory: `${11 * maxPods + 255}Mi` },
    });
    expect(preview.kubelet.featureGates).toMatchObject(k['feature-gates']);
  });

  it("real containerd loads the rendered config.toml and reads back each host's credentials", (ctx) => {
    if (!hasProgram(['containerd', '--version'], world.env)) {
      ctx.skip(
        'containerd is not installed here (Debian: apt-get install containerd); the rendered config was not loaded by it',
      );
    }
    const rendered = preview.files.find((f: any) => f.name === 'containerd-config-toml').written;
    const dump = execFileSync('containerd', ['--config', rendered, 'config', 'dump'], {
      env: world.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const registry = (parseToml(dump) as any).plugins['io.containerd.grpc.v1.cri'].registry;
    for (const a of userData.settings['cri-registry-auths']) {
      // containerd 1.3's cri reads either table: registry.configs."<host>".auth, or registry.auths."<host>".
      const creds = registry.configs?.[a.name]?.auth ?? registry.auths?.[a.name];
      expect(creds, `credentials for ${a.name}`).toBeDefined();
      expect({ username: creds.username, password: creds.password, auth: creds.auth }).toEqual({
        username: a.username ?? '',
        password: a.password ?? '',
        auth: a.auth ?? '',
      });
    }
  });
});
