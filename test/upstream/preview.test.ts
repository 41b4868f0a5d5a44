import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE_REGISTRIES } from '../helpers/preview-fixtures.js';
import { gitIn, hasProgram, makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// `bro preview` of the real patched templates on each base the variant serves (Bottlerocket v1.0.4
// and v1.7.2 with their series), from the example user data of each, and with hostile registry
// credentials; the rendered containerd config read back by the real containerd.

interface Credential {
  /** The host containerd looks the credentials up by. */
  name: string;
  username?: string;
  password?: string;
  auth?: string;
}

interface Base {
  version: string;
  tag: string;
  userData: string;
  /** The credentials user data in this base's settings. */
  credentialsToml(registries: readonly Credential[]): string;
  /** The credentials of parsed user data, by the host containerd looks them up by. */
  credentials(settings: any): Credential[];
}

const toml = (value: string) => JSON.stringify(value);
const fields = (c: Credential, key: 'name' | 'registry', name: string) => [
  `${key} = ${toml(name)}`,
  ...(['username', 'password', 'auth'] as const).filter((k) => c[k] !== undefined).map((k) => `${k} = ${toml(c[k]!)}`),
];

const BASES: Base[] = [
  {
    version: '1.0.4-hc1',
    tag: 'v1.0.4',
    userData: 'examples/user-data.toml',
    credentialsToml: (rs) =>
      rs.flatMap((r) => ['', '[[settings.cri-registry-auths]]', ...fields(r, 'name', r.name)]).join('\n'),
    credentials: (settings) => settings['cri-registry-auths'],
  },
  {
    version: '1.7.2-hc1',
    tag: 'v1.7.2',
    userData: 'examples/user-data-1.7.2.toml',
    // Docker Hub as users write it: upstream's templates render "docker.io" as its pull endpoint.
    credentialsToml: (rs) =>
      rs
        .flatMap((r) => [
          '',
          '[[settings.container-registry.credentials]]',
          ...fields(r, 'registry', r.name === 'registry-1.docker.io' ? 'docker.io' : r.name),
        ])
        .join('\n'),
    credentials: (settings) =>
      settings['container-registry'].credentials.map(({ registry, ...rest }: any) => ({
        name: registry === 'docker.io' ? 'registry-1.docker.io' : registry,
        ...rest,
      })),
  },
];

const CLUSTER = [
  '[settings.kubernetes]',
  'cluster-name = "example"',
  'api-server = "https://example.invalid"',
  `cluster-certificate = "${Buffer.from('-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n').toString('base64')}"`,
].join('\n');

async function preview(world: World, base: Base, file: string, work: string) {
  const result = await world.preview(base.version, file, '--json', '--work-dir', work);
  return { result, report: result.code === 0 ? JSON.parse(result.stdout) : undefined };
}

/** Each registry's credentials as the real containerd reads them from the rendered file. */
function containerdCredentials(world: World, rendered: string): Record<string, Record<string, string>> {
  const dump = execFileSync('containerd', ['--config', rendered, 'config', 'dump'], {
    env: world.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const registry = (parseToml(dump) as any).plugins['io.containerd.grpc.v1.cri'].registry;
  return Object.fromEntries(Object.entries(registry.configs ?? {}).map(([host, c]: [string, any]) => [host, c.auth]));
}

/** What containerd gives back for each configured registry (it fills the fields a table leaves out with ""). */
const expected = (credentials: readonly Credential[]) =>
  Object.fromEntries(
    credentials.map((c) => [
      c.name,
      { username: c.username ?? '', password: c.password ?? '', auth: c.auth ?? '', identitytoken: '' },
    ]),
  );

const skipContainerd = (ctx: { skip: (note: string) => void }) =>
  ctx.skip(
    'containerd is not installed here (Debian: apt-get install containerd); the rendered config was not loaded by it',
  );

describe.skipIf(skipsUpstream()).each(BASES)(
  'bro preview of the real patched templates at $tag ($userData)',
  (base) => {
    let world: World;
    let result: { code: number; stdout: string; stderr: string };
    let report: any;
    let settings: any;

    beforeAll(async () => {
      if ('skip' in UPSTREAM) return;
      world = makeWorld(UPSTREAM);
      const file = join(world.project, base.userData);
      settings = (parseToml(readFileSync(file, 'utf8')) as any).settings;
      ({ result, report } = await preview(world, base, file, join(world.root, 'work')));
    });
    afterAll(() => world?.dispose());

    it('accepts the example and renders every config file of the variant without a problem', () => {
      expect(result.code, result.stderr).toBe(0);
      expect(report.kind).toBe('bro.preview');
      expect(report.problems).toEqual([]);
      const files = Object.fromEntries(report.files.map((f: any) => [f.name, f]));
      expect(files['containerd-config-toml']).toMatchObject({ path: '/etc/containerd/config.toml', problems: [] });
      expect(files['kubelet-config']).toMatchObject({
        path: '/etc/kubernetes/kubelet/config',
        source: 'packages/kubernetes-1.18/kubelet-config',
        problems: [],
      });
      for (const f of report.files) expect(f.problems, f.name).toEqual([]);
    });

    it('gives back every registry credential exactly, and masks them in its output', () => {
      const credentials = base.credentials(settings);
      expect(report.registryAuths.map((a: any) => a.name)).toEqual(credentials.map((a) => a.name));
      for (const a of report.registryAuths) expect(a.mismatches, a.name).toEqual([]);
      for (const secret of credentials.flatMap((a) => [a.password, a.auth]).filter(Boolean)) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
    });

    it("renders every kubelet setting as given, featureGates merged with upstream's own, kubeReserved by upstream's formulas (m5.large, 2 CPUs)", () => {
      const k = settings.kubernetes;
      const checkout = join(world.root, 'work', 'bottlerocket');
      // max-pods from the real packages/os/eni-max-pods; memory 11 * max-pods + 255 Mi; cpu for 2
      // cores 60m + 10m (pluto's generators on the v1.0.4 series, schnauzer's kube_reserve_* at v1.7.2).
      const eniMaxPods = readFileSync(join(checkout, 'packages', 'os', 'eni-max-pods'), 'utf8');
      const maxPods = Number(/^m5\.large (\d+)$/m.exec(eniMaxPods)?.[1]);
      expect(maxPods).toBeGreaterThan(0);
      expect(report.kubelet).toMatchObject({
        maxPods,
        containerLogMaxSize: k['container-log-max-size'],
        containerLogMaxFiles: k['container-log-max-files'],
        topologyManagerPolicy: k['topology-manager-policy'],
        cpuManagerPolicy: k['cpu-manager-policy'],
        evictionHard: k['eviction-hard'],
        systemReserved: k['system-reserved'],
        kubeReserved: { ...k['kube-reserved'], cpu: '70m', memory: `${11 * maxPods + 255}Mi` },
      });
      // Upstream's own gates: what its kubelet config template at the tag hard-codes.
      const upstream = gitIn(
        world,
        world.mirrors.bottlerocket,
        'show',
        `${base.tag}:packages/kubernetes-1.18/kubelet-config`,
      );
      const gates = parseYaml(/^featureGates:\n(?: {2}.*\n)+/m.exec(upstream)![0]).featureGates;
      expect(Object.keys(gates)).toContain('RotateKubeletServerCertificate');
      expect(report.kubelet.featureGates).toEqual({ ...gates, ...k['feature-gates'] });
    });

    it("real containerd loads the rendered config.toml and reads back each host's credentials", (ctx) => {
      if (!hasProgram(['containerd', '--version'], world.env)) skipContainerd(ctx);
      const rendered = report.files.find((f: any) => f.name === 'containerd-config-toml').written;
      expect(containerdCredentials(world, rendered)).toEqual(expected(base.credentials(settings)));
    });
  },
);

describe.skipIf(skipsUpstream()).each(BASES)('hostile registry credentials at $tag', (base) => {
  let world: World;
  let result: { code: number; stdout: string; stderr: string };
  let report: any;

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    const file = join(world.root, 'user-data.toml');
    writeFileSync(file, `${CLUSTER}\n${base.credentialsToml(HOSTILE_REGISTRIES)}\n`);
    ({ result, report } = await preview(world, base, file, join(world.root, 'work')));
  });
  afterAll(() => world?.dispose());

  it('preview accepts them, renders every file, and each comes back exactly', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(report.problems).toEqual([]);
    expect(report.registryAuths.map((a: any) => a.name)).toEqual(HOSTILE_REGISTRIES.map((r) => r.name));
    for (const a of report.registryAuths) expect(a.mismatches, a.name).toEqual([]);
  });

  it('real containerd loads the config and reads back every username, password and auth exactly', (ctx) => {
    if (!hasProgram(['containerd', '--version'], world.env)) skipContainerd(ctx);
    const rendered = report.files.find((f: any) => f.name === 'containerd-config-toml').written;
    expect(containerdCredentials(world, rendered)).toEqual(expected(HOSTILE_REGISTRIES));
  });

  it("host-ctr's config (admin and control containers) has the credentials, where the base renders one", () => {
    const file = report.files.find((f: any) => f.name === 'host-ctr-toml');
    // v1.0.4 renders no host-ctr config; upstream's credentials setting reaches host-ctr too.
    if (base.tag === 'v1.0.4') return expect(file).toBeUndefined();
    const creds = (parseToml(readFileSync(file.written, 'utf8')) as any).creds;
    expect(creds).toEqual(Object.fromEntries(HOSTILE_REGISTRIES.map(({ name, ...rest }) => [name, rest])));
  });
});

describe.skipIf(skipsUpstream())(
  "v1.7.2 without the series' escaping: upstream's templates break on the same credentials",
  () => {
    let world: World;

    beforeAll(() => {
      if ('skip' in UPSTREAM) return;
      world = makeWorld(UPSTREAM);
    });
    afterAll(() => world?.dispose());

    it('preview exits 1: containerd-config-toml and host-ctr-toml are not valid TOML', async () => {
      const dir = join(world.project, 'patches', 'bottlerocket', '1.7.2');
      const series = readFileSync(join(dir, 'series'), 'utf8');
      expect(series).toMatch(/^0003-containerd-host-ctr-.*$/m);
      // Left out on purpose, as a person would: named in a comment (an unlisted patch file is refused).
      writeFileSync(join(dir, 'series'), series.replace(/^(0003-.*)$/m, '# $1'));
      const base = BASES.find((b) => b.tag === 'v1.7.2')!;
      const file = join(world.root, 'user-data.toml');
      writeFileSync(file, `${CLUSTER}\n${base.credentialsToml(HOSTILE_REGISTRIES)}\n`);
      const { result } = await preview(world, base, file, join(world.root, 'work'));
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toMatch(
        /containerd-config-toml \(\/etc\/containerd\/config\.toml\): not valid TOML/,
      );
      expect(result.stdout + result.stderr).toMatch(/host-ctr-toml \([^)]*\): not valid TOML/);
    });
  },
);
