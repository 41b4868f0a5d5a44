import { readFileSync, writeFileSync, appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFormatPatch } from '../../src/config/patch-file.js';
import { gitIn, hasProgram, makeWorld, skipsUpstream, UPSTREAM, type World } from './upstream.js';

// The shipped variant's dry run on each base it serves: the real Bottlerocket v1.0.4 with admin
// container v0.5.2, and v1.7.2 with v0.8.0; and the verify step on the real patched trees.

const VARIANT = 'aws-k8s-1.18';
const VERSION = '1.0.4-hc1';

/** Each base the variant file serves, and what the dry run must pick for it. */
const BASES = [
  {
    version: '1.0.4-hc1',
    tag: 'v1.0.4',
    admin: 'v0.5.2',
    // v0.5.2 is untagged: the variant's default ref.
    adminCommit: (_: World) => '9fc9090b044d237d5b112689c37cbdeec60c7d9e',
    adminSourceFile: 'sources/models/defaults.toml',
  },
  {
    version: '1.7.2-hc1',
    tag: 'v1.7.2',
    admin: 'v0.8.0',
    // [sources.admin-container.refs] "v1.7.2" = "v0.8.0"
    adminCommit: (world: World) => gitIn(world, world.mirrors.admin, 'rev-parse', 'v0.8.0^{commit}'),
    // The setting moved in v1.1.0: the generated commit follows it.
    adminSourceFile: 'sources/models/shared-defaults/aws-host-containers.toml',
  },
] as const;

const series = (world: World, source: string, base: string) => {
  const dir = join(world.project, 'patches', source, base);
  const names = readFileSync(join(dir, 'series'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return names.map((name) => ({ name, ...parseFormatPatch(readFileSync(join(dir, name), 'utf8')) }));
};

describe.skipIf(skipsUpstream()).each(BASES)('dry run on the real upstream ($tag, admin container $admin)', (base) => {
  let world: World;
  let result: { code: number; stdout: string; stderr: string };
  let plan: any;
  const work = () => join(world.root, 'work');

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    result = await world.bro('build', VARIANT, '--version', base.version, '--dry-run', '--json', '--work-dir', work());
    plan = result.code === 0 ? JSON.parse(result.stdout) : undefined;
  });
  afterAll(() => world?.dispose());

  it('exits 0 and pins the real commits: the base tag and the admin container the variant names for it', () => {
    expect(result.code, result.stderr).toBe(0);
    const lock = JSON.parse(readFileSync(join(world.project, 'variants', 'sources.lock.json'), 'utf8'));
    expect(plan.sources.bottlerocket.commit).toBe(
      gitIn(world, world.mirrors.bottlerocket, 'rev-parse', `${base.tag}^{commit}`),
    );
    expect(plan.sources.bottlerocket.commit).toBe(lock.pins[`bottlerocket@${base.tag}`].commit);
    expect(plan.sources['admin-container'].commit).toBe(base.adminCommit(world));
    expect(plan.sources['admin-container'].commit).toBe(
      lock.pins[`admin-container@${plan.sources['admin-container'].ref}`].commit,
    );
    expect(gitIn(world, world.mirrors.admin, 'show', `${plan.sources['admin-container'].commit}:VERSION`)).toBe(
      base.admin,
    );
  });

  it('applies every patch of both series as one commit each, with its subject, on the pinned commit', () => {
    for (const [source, seriesBase, dir] of [
      ['bottlerocket', base.tag.slice(1), 'bottlerocket'],
      ['admin-container', base.admin.slice(1), 'admin-container'],
    ] as const) {
      const patches = series(world, source, seriesBase);
      const checkout = join(work(), dir);
      const pin = plan.sources[source].commit;
      const subjects = gitIn(world, checkout, 'log', '--reverse', '--format=%s', `${pin}..HEAD`).split('\n');
      // The series, in order; bro's generated commit (the admin source) follows on bottlerocket.
      expect(subjects.slice(0, patches.length)).toEqual(patches.map((p) => p.subject));
      expect(subjects.length - patches.length).toBe(source === 'bottlerocket' ? 1 : 0);
      expect(plan.sources[source].series.patches).toEqual(patches.map((p) => p.name));
      expect(gitIn(world, checkout, 'rev-parse', 'HEAD')).toBe(plan.sources[source].head);
      // Each commit changes exactly the files its patch names.
      const commits = gitIn(world, checkout, 'rev-list', '--reverse', `${pin}..HEAD`).split('\n');
      patches.forEach((p, i) => {
        const commit = commits[i]!;
        const files = gitIn(world, checkout, 'diff-tree', '--no-commit-id', '--name-only', '-r', '--no-renames', commit)
          .split('\n')
          .sort();
        expect(files, p.name).toEqual([...new Set(p.files.map((f) => f.newPath ?? f.oldPath))].sort());
      });
    }
  });

  it('leaves both work trees clean (only the rendered, ignored Infra.toml)', () => {
    expect(gitIn(world, join(work(), 'bottlerocket'), 'status', '--porcelain', '--ignored')).toBe('!! Infra.toml');
    expect(gitIn(world, join(work(), 'admin-container'), 'status', '--porcelain', '--ignored')).toBe('');
  });

  it('plans the real build: cargo make per upstream Makefile.toml, AMI name, admin image in every region', () => {
    const variant = readFileSync(join(world.project, 'variants', `${VARIANT}.toml`), 'utf8');
    const regions = JSON.parse(/^regions = (\[.*\])$/m.exec(variant)![1]!) as string[];
    expect(plan.amiName).toBe(`bottlerocket-${VARIANT}-x86_64-v${base.version}`);
    const cargo = plan.commands
      .filter((c: { argv: string[] }) => c.argv[0] === 'cargo')
      .map((c: { argv: string[] }) => c.argv);
    expect(cargo[0]).toEqual([
      'cargo',
      'make',
      '-e',
      `BUILDSYS_VARIANT=${VARIANT}`,
      '-e',
      'BUILDSYS_ARCH=x86_64',
      '-e',
      'BUILDSYS_VERSION_BUILD=hc1',
    ]);
    expect(cargo[1]).toContain('ami');
    expect(cargo[1]).toContain(`PUBLISH_REGIONS=${regions.join(',')}`);
    // Upstream's Makefile.toml at the tag reads these variables: the plan uses only ones it defines.
    const makefile = gitIn(world, join(work(), 'bottlerocket'), 'show', 'HEAD:Makefile.toml');
    for (const arg of cargo.flat().filter((a: string) => /^[A-Z_]+=/.test(a))) {
      expect(makefile, arg).toContain(arg.split('=')[0]);
    }
    expect(plan.adminImages.map((a: { region: string }) => a.region)).toEqual(regions);
    for (const a of plan.adminImages)
      expect(a.uri).toBe(`111111111111.dkr.ecr.${a.region}.amazonaws.com/bottlerocket-admin:${base.admin}-hc1`);
    // The generated commit points the default admin container at this build's image, in the file that sets it at the tag.
    const checkout = join(work(), 'bottlerocket');
    expect(gitIn(world, checkout, 'show', '--format=', '--name-only', 'HEAD')).toBe(base.adminSourceFile);
    expect(gitIn(world, checkout, 'show', `HEAD:${base.adminSourceFile}`)).toContain(
      'template = "111111111111.dkr.ecr.{{ settings.aws.region }}.amazonaws.com/bottlerocket-admin:' +
        `${base.admin}-hc1"`,
    );
  });

  it('verifies the real patched tree: every changed Rust and TOML file, and the patched templates render', () => {
    const title = /Verify the patched tree: (.*)$/m.exec(result.stderr)?.[1] ?? '';
    const changed = gitIn(
      world,
      join(work(), 'bottlerocket'),
      'diff',
      '--name-only',
      '--diff-filter=d',
      plan.sources.bottlerocket.commit,
      'HEAD',
    )
      .split('\n')
      .concat(
        gitIn(
          world,
          join(work(), 'admin-container'),
          'diff',
          '--name-only',
          '--diff-filter=d',
          plan.sources['admin-container'].commit,
          'HEAD',
        ).split('\n'),
      );
    const toml = changed.filter((f) => f.endsWith('.toml') || f.endsWith('Cargo.lock')).length;
    const rust = changed.filter((f) => f.endsWith('.rs')).length;
    expect(toml).toBeGreaterThan(0);
    expect(title).toContain(`${toml} TOML files parse`);
    // containerd's config.toml and kubelet's config are among the templates the series patches.
    expect(Number(/(\d+) patched templates render/.exec(title)?.[1])).toBeGreaterThanOrEqual(2);
    if (hasProgram(['rustfmt', '--version'], world.env)) {
      expect(title).toContain(`${rust} Rust files parse`);
    } else {
      console.warn('rustfmt is not installed: the verify step skipped the Rust parse check, and says so');
      expect(title).toContain('Rust check skipped (rustfmt is not installed or does not run)');
    }
  });
});

describe.skipIf(skipsUpstream())('the verify step refuses a broken patch on the real tree', () => {
  let world: World;
  let patched: string;
  let last: string;

  const dryRun = (work: string) => world.bro('build', VARIANT, '--version', VERSION, '--dry-run', '--work-dir', work);

  beforeAll(async () => {
    if ('skip' in UPSTREAM) return;
    world = makeWorld(UPSTREAM);
    // A patched checkout to write the broken patches against.
    const r = await dryRun(join(world.root, 'work'));
    expect(r.code, r.stderr).toBe(0);
    patched = join(world.root, 'patched');
    gitIn(world, world.root, 'clone', '--quiet', join(world.root, 'work', 'bottlerocket'), patched);
    const names = series(world, 'bottlerocket', '1.0.4');
    last = names[names.length - 1]!.subject;
    // The last commit of the series (bro's generated commit follows it).
    const commit = gitIn(world, patched, 'log', '--format=%H', '--fixed-strings', `--grep=${last}`, '-n', '1', 'HEAD');
    gitIn(world, patched, 'checkout', '--quiet', '--detach', commit);
  });
  afterAll(() => world?.dispose());

  /** Commits `change` on top of the series, adds it as patch 0099 to a copy of the project, dry-runs. */
  async function dryRunWith(name: string, change: (dir: string) => void) {
    const base = gitIn(world, patched, 'rev-parse', 'HEAD');
    change(patched);
    gitIn(world, patched, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '--quiet', '-am', name);
    const patch = gitIn(world, patched, 'format-patch', '--stdout', '-1', 'HEAD');
    gitIn(world, patched, 'reset', '--quiet', '--hard', base);
    const dir = join(world.project, 'patches', 'bottlerocket', '1.0.4');
    const original = readFileSync(join(dir, 'series'), 'utf8');
    const file = `0099-${name}.patch`;
    writeFileSync(join(dir, file), `${patch}\n`);
    writeFileSync(join(dir, 'series'), `${original.trimEnd()}\n${file}\n`);
    try {
      return await dryRun(mkdtempSync(join(world.root, 'w-')));
    } finally {
      // The series is checked for unlisted patch files: put the directory back as it was.
      writeFileSync(join(dir, 'series'), original);
      rmSync(join(dir, file));
    }
  }

  it('a template that no longer renders: exit 1, naming the file and the patch', async () => {
    const r = await dryRunWith('break-containerd-template', (dir) => {
      const file = readFileSync(join(dir, 'packages/containerd/containerd-config-toml_aws-k8s'), 'utf8');
      expect(file).toContain('toml_encode');
      appendFileSync(join(dir, 'packages/containerd/containerd-config-toml_aws-k8s'), '\nbroken = {{toml_encode}}\n');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('The patched tree does not verify');
    expect(r.stderr).toMatch(
      /packages\/containerd\/containerd-config-toml_aws-k8s \(changed by [^)]*0099-break-containerd-template\.patch/,
    );
  });

  it('a TOML file that no longer parses: exit 1, naming the file', async () => {
    const r = await dryRunWith('break-pluto-cargo-toml', (dir) => {
      appendFileSync(join(dir, 'sources/api/pluto/Cargo.toml'), '\n[dependencies\n');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sources\/api\/pluto\/Cargo\.toml \(changed by [^)]*0099-break-pluto-cargo-toml\.patch[^)]*\) is not valid TOML/,
    );
  });

  it('a Rust file that no longer parses (real rustfmt): exit 1, naming the file', async (ctx) => {
    if (!hasProgram(['rustfmt', '--version'], world.env)) {
      ctx.skip('rustfmt is not installed here, so the Rust parse check cannot be shown failing');
    }
    const r = await dryRunWith('break-pluto-rust', (dir) => {
      appendFileSync(join(dir, 'sources/api/pluto/src/main.rs'), '\nfn broken( {\n');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sources\/api\/pluto\/src\/main\.rs \(changed by [^)]*0099-break-pluto-rust\.patch[^)]*\) does not parse/,
    );
  });
});
