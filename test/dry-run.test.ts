import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, BRO_BIN, broArgv } from './helpers/cli.js';
import { BUILDSYS_ARGS, git, makeWorld, removeDir, REPO_ROOT } from './helpers/git-fixtures.js';
import { sealedEnv } from './helpers/env.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

function setup(extraToml = '') {
  const world = makeWorld(dirs, { extraToml });
  const run = (...args: string[]) => runCli([...args, '--project-dir', world.project, '--cache-dir', world.cacheDir]);
  return { ...world, run };
}

const extra = `
[ami]
description = "Bottlerocket with our patches"
data-volume-size = 40

[infra]
profile = "publish"
role = "arn:aws:iam::111111111111:role/publish"
ssm-prefix = "/bro/ami"

[infra.region.us-west-1]
role = "arn:aws:iam::111111111111:role/regional"
`;

describe('bro build --dry-run', () => {
  it('prints the exact cargo make commands and env upstream Makefile.toml expects, as versioned JSON', async () => {
    const s = setup(extra);
    const result = await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--json');
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.schemaVersion).toBe(2);
    expect(plan.kind).toBe('bro.plan');
    expect(plan.amiName).toBe('bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1');
    expect(plan.sources.bottlerocket.commit).toBe(s.upstream.tags['v1.0.4']);
    const cargo = plan.commands.filter((c: { argv: string[] }) => c.argv[0] === 'cargo');
    expect(cargo.map((c: { argv: string[] }) => c.argv)).toEqual([
      ['cargo', 'make', ...BUILDSYS_ARGS],
      [
        'cargo',
        'make',
        ...BUILDSYS_ARGS,
        '-e',
        `PUBLISH_INFRA_CONFIG_PATH=${join(s.br, 'Infra.toml')}`,
        '-e',
        'PUBLISH_REGIONS=ap-northeast-1,us-west-1,us-east-1',
        '-e',
        'PUBLISH_AMI_NAME=bottlerocket-aws-k8s-1.18-x86_64-v1.0.4-hc1',
        '-e',
        'PUBLISH_AMI_DESCRIPTION=Bottlerocket with our patches',
        '-e',
        'PUBLISH_DATA_VOLUME_SIZE=40',
        '-e',
        'NO_PROGRESS=true',
        'ami',
      ],
    ]);
    expect(cargo.every((c: { cwd: string }) => c.cwd === s.br)).toBe(true);
    expect(plan.amisJson).toBe(
      join(s.br, 'build/images/x86_64-aws-k8s-1.18/bottlerocket-aws-k8s-1.18-x86_64-1.0.4-hc1-amis.json'),
    );
    expect(plan.adminImages).toEqual([
      {
        region: 'ap-northeast-1',
        uri: '210987654321.dkr.ecr.ap-northeast-1.amazonaws.com/bottlerocket-admin:v0.5.2-hc1',
      },
      { region: 'us-west-1', uri: '210987654321.dkr.ecr.us-west-1.amazonaws.com/bottlerocket-admin:v0.5.2-hc1' },
      { region: 'us-east-1', uri: '210987654321.dkr.ecr.us-east-1.amazonaws.com/bottlerocket-admin:v0.5.2-hc1' },
    ]);
    const launch = plan.aws.filter((a: { action: string }) => a.action === 'ModifyImageAttribute');
    expect(
      launch.map(
        (a: { region: string; change: string; accounts: string[] }) =>
          `${a.region} ${a.change} ${a.accounts.join(',')}`,
      ),
    ).toEqual([
      'ap-northeast-1 add 210987654321,345678901234',
      'us-west-1 add 210987654321,345678901234',
      'us-east-1 add 210987654321,345678901234',
    ]);
    expect(plan.grants).toEqual(
      ['ap-northeast-1', 'us-west-1', 'us-east-1'].flatMap((region) =>
        ['210987654321', '345678901234'].map((account) => ({ region, account, change: 'grant' })),
      ),
    );
    // The tags share puts on every AMI and snapshot, with their values.
    expect(plan.tags).toMatchObject({
      'bro:variant': 'aws-k8s-1.18',
      'bro:version': '1.0.4-hc1',
      'bro:bottlerocket-commit': s.upstream.tags['v1.0.4'],
      'bro:patch-series': plan.seriesDigest,
    });
    expect(plan.seriesDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.manifest).toBe(join(dirname(s.br), 'manifest.json'));
    expect(plan.logs).toBe(join(dirname(s.br), '.bro', 'logs'));
    // The push commands run in the workspace, and say so.
    const push = plan.commands.filter((c: { step: string }) => c.step === 'admin-image-push');
    expect(push).toHaveLength(9);
    expect(push.every((c: { cwd: string }) => c.cwd === dirname(s.br))).toBe(true);
    // Nothing outside the workspace ran: the build caches are empty.
    expect(git(s.br, 'status', '--porcelain', '--ignored')).toBe('!! Infra.toml');
  });

  it('renders an Infra.toml that parses, with regions, profile, role, ssm_prefix and per-region roles', async () => {
    const s = setup(extra);
    expect((await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run')).code).toBe(0);
    const infra = parse(readFileSync(join(s.br, 'Infra.toml'), 'utf8'));
    expect(infra).toEqual({
      aws: {
        regions: ['ap-northeast-1', 'us-west-1', 'us-east-1'],
        profile: 'publish',
        role: 'arn:aws:iam::111111111111:role/publish',
        ssm_prefix: '/bro/ami',
        region: { 'us-west-1': { role: 'arn:aws:iam::111111111111:role/regional' } },
      },
    });
  });

  it('the human plan lists every command with its working directory', async () => {
    const s = setup();
    const result = await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run');
    expect(result.code).toBe(0);
    // Every command of the plan, in order, under its step and directory.
    const plan = JSON.parse(
      (await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run', '--json')).stdout,
    ) as { commands: { step: string; cwd: string; argv: string[] }[] };
    const listed = [...result.stdout.matchAll(/^ {2}\[([\w-]+)\] \(in (.+)\)\n {4}(.+)$/gm)];
    expect(listed.map(([, step, cwd]) => [step, cwd])).toEqual(plan.commands.map((c) => [c.step, c.cwd]));
    listed.forEach(([, , , line], i) => expect(line).toContain(plan.commands[i]!.argv.slice(0, 2).join(' ')));
    expect(listed.length).toBeGreaterThanOrEqual(13);
    // The summary comes first: what is built, from what, where it goes, who gets it, the tags; then the detail.
    const summary = result.stdout.slice(0, result.stdout.indexOf('\nCommands:'));
    expect(summary).toMatch(/^ {2}AMI name {9}bottlerocket-aws-k8s-1\.18-x86_64-v1\.0\.4-hc1$/m);
    expect(summary).toMatch(/^ {2}Regions {10}ap-northeast-1 \(registered\), copied to us-west-1, us-east-1$/m);
    expect(summary).toContain(
      '  Admin image      210987654321.dkr.ecr.<region>.amazonaws.com/bottlerocket-admin:v0.5.2-hc1 (each region)',
    );
    expect(summary).toContain(`  Manifest         ${join(dirname(s.br), 'manifest.json')}`);
    expect(summary).toMatch(/^ {18}210987654321 {2}345678901234$/m);
    for (const region of ['ap-northeast-1', 'us-west-1', 'us-east-1'])
      expect(summary).toMatch(new RegExp(`^ {2}${region} +\\+ +\\+$`, 'm'));
    expect(summary).toContain('  bro:version = 1.0.4-hc1');
    expect(summary).toContain('Preflight');
    expect(result.stdout).toMatch(
      /^ {2}\[share\] us-east-1 ec2:ModifyImageAttribute → the AMI for 210987654321, 345678901234 /m,
    );
    expect(result.stdout).toContain(`[admin-image-push] (in ${dirname(s.br)})`);
    expect(result.stdout).toContain(`[os-build] (in ${s.br})`);
    expect(result.stdout).toContain(
      'cargo make -e BUILDSYS_VARIANT=aws-k8s-1.18 -e BUILDSYS_ARCH=x86_64 -e BUILDSYS_VERSION_BUILD=hc1\n',
    );
    expect(result.stdout).toContain(
      'docker login --username AWS --password-stdin 210987654321.dkr.ecr.us-east-1.amazonaws.com',
    );
  });

  it('without a terminal, prints plain lines with timestamps and no colour, even where colour is forced', () => {
    const s = setup();
    // No --ci: a pipe is not a terminal, and that alone chooses the plain output.
    const result = spawnSync(process.execPath, [BRO_BIN, ...broArgv(s, '--dry-run')], {
      env: sealedEnv({ FORCE_COLOR: '1' }),
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^\[COMPLETED\] \[\d\d:\d\d:\d\d\] Render Infra\.toml/m);
    expect(result.stderr).toMatch(
      /^\[SKIPPED\] \[\d\d:\d\d:\d\d\] Build and publish the admin image, build and register the OS \[SKIPPED: \[Dry run\] not executed, see the plan\]$/m,
    );
    expect(result.stderr).not.toContain('\u001b[');
  });

  it('--ci prints plain lines with timestamps on a terminal too', async () => {
    const s = setup();
    const args = broArgv(s, '--dry-run', '--ci');
    const { code, stderr } = await runCli(args, { CI: '', TERM: 'xterm-256color' }, { stderrIsTTY: true });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/^\[COMPLETED\] \[\d\d:\d\d:\d\d\] Render Infra\.toml/m);
    expect(stderr).not.toContain('\u001b[');
  });

  it('--json piped from a terminal: stdout is only the JSON, the interactive progress stays on stderr', async () => {
    const s = setup();
    // stderr is a terminal but stdout is a pipe (`bro … --json > plan.json`): the progress is drawn
    // on stderr, so it stays interactive (listr2 on its own would fall back to plain lines, because
    // it looks at stdout), and none of it reaches stdout.
    const args = broArgv(s, '--dry-run', '--json');
    const { code, stdout, stderr } = await runCli(args, { CI: '', TERM: 'xterm-256color' }, { stderrIsTTY: true });
    expect(code, stderr).toBe(0);
    expect(process.stdout.isTTY).not.toBe(true);
    expect(JSON.parse(stdout).kind).toBe('bro.plan');
    expect(stderr).toContain('Render Infra.toml');
    expect(stderr).not.toMatch(/\[COMPLETED\]|\[STARTED\]/); // the plain renderer's markers
    expect(stderr).toContain('\u001b['); // the interactive renderer redraws with terminal codes
  });

  it('never shows credentials embedded in an upstream URL', async () => {
    const s = setup();
    // A URL with credentials that git cannot reach: the error must not echo the token.
    const result = await runCli(
      broArgv(s, '--dry-run'),
      // Straight to the closed local port, never through a proxy of the host: no network.
      {
        BRO_BOTTLEROCKET_URL: 'https://bro-user:ghp_SECRETTOKEN123@127.0.0.1:9/bottlerocket.git',
        NO_PROXY: '*',
        no_proxy: '*',
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('https://***@127.0.0.1:9/bottlerocket.git');
    expect(result.stderr + result.stdout).not.toContain('ghp_SECRETTOKEN123');
  });
});

describe('exit codes', () => {
  it('0 for help', async () => {
    expect((await runCli(['--help'])).code).toBe(0);
  });

  it('2 for an unknown option or a missing argument', async () => {
    expect((await runCli(['build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--frobnicate'])).code).toBe(2);
    expect((await runCli(['build', 'aws-k8s-1.18'])).code).toBe(2);
  });

  it('2 for a malformed version, naming the expected form', async () => {
    const s = setup();
    const result = await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4', '--dry-run');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid --version "1.0.4": expected <upstream>-<build>, e.g. 1.0.4-hc1');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('2 for a broken variant file, naming the file and the key', async () => {
    const s = setup('[ami]\ndata-volume-size = "big"\n');
    const result = await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('variants/aws-k8s-1.18.toml');
    expect(result.stderr).toContain('ami.data-volume-size');
  });

  it('1 when a step fails: the version disagrees with upstream Release.toml', async () => {
    const s = setup();
    // Point v1.0.4 builds at the v1.0.5 tag through the variant's ref.
    const variant = readFileSync(join(s.project, 'variants/aws-k8s-1.18.toml'), 'utf8').replace(
      /(\[sources\.bottlerocket\]\nurl = .*\n)/,
      '$1ref = "v1.0.5"\n',
    );
    writeFileSync(join(s.project, 'variants/aws-k8s-1.18.toml'), variant);
    const result = await s.run('build', 'aws-k8s-1.18', '--version', '1.0.4-hc1', '--dry-run');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Release.toml at v1.0.5 says version = "1.0.5"');
  });

  it('--debug shows the stack trace', async () => {
    const s = setup();
    const result = await s.run('build', 'aws-k8s-1.18', '--version', 'nope', '--dry-run', '--debug');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe('the installed command', () => {
  it('npx bro runs: the bin npm links is executable and prints the help', () => {
    // As the README says: `npx bro` in the project runs package.json's bin, which must be executable.
    const out = execFileSync('npx', ['bro', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out).toContain('Usage: bro');
    for (const command of ['build', 'preview', 'patches', 'share', 'manifest', 'matrix', 'variants'])
      expect(out).toContain(`\n  ${command} `);
  });
});
