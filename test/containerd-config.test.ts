import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse as parseToml } from 'smol-toml';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { runCli, broArgv } from './helpers/cli.js';
import { removeDir, tempDir } from './helpers/git-fixtures.js';
import { HOSTILE_REGISTRIES as REGISTRIES, previewSetup, type Registry } from './helpers/preview-fixtures.js';
import { findProgram, PATH, sealedEnv, SYSTEM_DIRS } from './helpers/index.js';

/**
 * The containerd config that `bro preview` renders, read by the real
 * containerd (Debian's package; .ci/run installs it): `containerd --config F
 * config dump` loads the file as containerd does at start, and prints the
 * configuration it would run with. The template is the one our containerd
 * patch adds (preview-fixtures takes it out of the patch file).
 */

/** Where Debian installs programs. Fixed, so nothing in the developer's shell changes what runs. */
const SYSTEM_PATH = SYSTEM_DIRS.join(':');
const CRI = 'io.containerd.grpc.v1.cri';

/** Skips the test, visibly and with the reason, when the real program is missing. */
function requireProgram(ctx: TestContext, name: string, pkg: string): string {
  const path = findProgram(name, SYSTEM_DIRS);
  if (!path) {
    const reason = `${name} is not installed (Debian package ${pkg}): the rendered containerd config is not checked by the real containerd`;
    ctx.skip(reason);
  }
  return path;
}

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** `containerd --config <file> config dump`, with an environment built from an allowlist. */
async function configDump(containerd: string, file: string, home: string) {
  return execa(containerd, ['--config', file, 'config', 'dump'], {
    env: { PATH: SYSTEM_PATH, HOME: home, LANG: 'C.UTF-8' },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 60_000,
  });
}

/** A TOML literal string cannot hold `'`; a basic string escapes `"` and `\`. */
const tomlString = (value: string) => JSON.stringify(value);

const userData = (registries: readonly Registry[]) =>
  [
    '[settings.kubernetes]',
    'cluster-name = "example"',
    'api-server = "https://example.invalid"',
    `cluster-certificate = "${Buffer.from('-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n').toString('base64')}"`,
    ...registries.flatMap((r) => [
      '',
      '[[settings.cri-registry-auths]]',
      ...(['name', 'username', 'password', 'auth'] as const)
        .filter((k) => r[k] !== undefined)
        .map((k) => `${k} = ${tomlString(r[k] as string)}`),
    ]),
    '',
  ].join('\n');

describe('the containerd config bro preview renders, loaded by the real containerd', () => {
  it('loads, gives every registry its own credentials exactly under registry.configs."<host>".auth, and has no registry.auths', async (ctx) => {
    const containerd = requireProgram(ctx, 'containerd', 'containerd');
    const s = previewSetup();
    const work = tempDir('bro-containerd-');
    dirs.push(...s.dirs, work);
    const file = join(work, 'user-data.toml');
    writeFileSync(file, userData(REGISTRIES));
    const out = join(work, 'out');
    const preview = await runCli(
      broArgv({ ...s, command: 'preview' }, '--user-data', file, '--out', out, '--ci', '--work-dir', join(work, 'w')),
      sealedEnv({ PATH: `${s.fakeBin}:${PATH}` }),
    );
    expect(preview.stderr).not.toContain('✖');
    expect(preview.code).toBe(0);
    const rendered = join(out, 'containerd-config-toml');
    expect(readFileSync(rendered, 'utf8')).toContain(
      '[plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.example.com".auth]',
    );

    const dump = await configDump(containerd, rendered, work);
    expect(dump.stderr, 'containerd refused the config').toBe('');
    expect(dump.exitCode).toBe(0);
    const registry = (
      parseToml(dump.stdout) as {
        plugins: Record<string, { registry: Record<string, Record<string, { auth?: Record<string, string> }>> }>;
      }
    ).plugins[CRI]?.registry;
    const credentials = Object.fromEntries(
      Object.entries(registry?.configs ?? {}).map(([host, config]) => [host, config.auth]),
    );
    // containerd fills the fields a table leaves out with "" (and identitytoken, which the model does not have).
    expect(credentials).toEqual(
      Object.fromEntries(
        REGISTRIES.map((r) => [
          r.name,
          { username: r.username ?? '', password: r.password ?? '', auth: r.auth ?? '', identitytoken: '' },
        ]),
      ),
    );
    expect(Object.keys(registry?.auths ?? {})).toEqual([]);
  }, 60_000);

  it('refuses an IPv6 host as a quoted table key, which is why the model refuses IPv6 registry names', async (ctx) => {
    const containerd = requireProgram(ctx, 'containerd', 'containerd');
    const work = tempDir('bro-containerd-');
    dirs.push(work);
    const file = join(work, 'config.toml');
    writeFileSync(file, `version = 2\n\n[plugins."${CRI}".registry.configs."[fd00::1]:5000".auth]\nusername = "u"\n`);
    const dump = await configDump(containerd, file, work);
    expect(dump.exitCode).not.toBe(0);
    expect(dump.stderr).toContain("table key cannot contain ']'");
    // The same registry named by a DNS name loads.
    writeFileSync(
      file,
      `version = 2\n\n[plugins."${CRI}".registry.configs."registry.example.com:5000".auth]\nusername = "u"\n`,
    );
    const ok = await configDump(containerd, file, work);
    expect(ok.exitCode).toBe(0);
  }, 60_000);
});
