import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, broArgv } from './helpers/cli.js';
import { removeDir, tempDir } from './helpers/git-fixtures.js';
import { FEATURE_FILES, previewBaseFiles, previewSetup, type FixtureCommit } from './helpers/preview-fixtures.js';
import { PATH } from './helpers/env.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** A dry-run build of the synthetic tree with the series plus `extra` commits; the fake rustfmt first on PATH unless `path` is given. */
async function dryRun(extra: FixtureCommit[] = [], path?: string, baseFiles?: Record<string, string>) {
  const s = previewSetup({ extra, base: baseFiles });
  dirs.push(...s.dirs);
  const run = () =>
    runCli(broArgv(s, '--dry-run', '--ci'), {
      PATH: path ?? `${s.fakeBin}:${PATH}`,
    });
  return { ...(await run()), run };
}

/** A PATH with git and nothing else: no rustfmt. */
function pathWithGitOnly(): string {
  const gitDir = PATH.split(':').find((d) => existsSync(join(d, 'git')));
  if (!gitDir) throw new Error('git is not on PATH');
  const bin = tempDir('bro-bin-');
  dirs.push(bin);
  mkdirSync(bin, { recursive: true });
  symlinkSync(join(gitDir, 'git'), join(bin, 'git'));
  return bin;
}

const base = previewBaseFiles();
const MODEL = 'sources/models/src/registry.rs';
const OVERRIDE = 'sources/models/src/aws-k8s-1.15/override-defaults.toml';
const CONTAINERD = 'packages/containerd/containerd-config-toml_aws-k8s';

describe('the verify step (in every dry run, after patching)', () => {
  it('parses the patched Rust and TOML files and renders the patched templates; a rerun skips it', async () => {
    const result = await dryRun();
    expect(result.stderr).toContain(
      'Verify the patched tree: 5 Rust files parse, 2 TOML files parse, 2 patched templates render',
    );
    expect(result.code).toBe(0);
    const again = await result.run();
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Verify the patched tree \[SKIPPED: done .*, inputs unchanged\]/);
  });

  it('says the Rust check was skipped when rustfmt is not installed', async () => {
    const result = await dryRun([], pathWithGitOnly());
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'Verify the patched tree: Rust check skipped (rustfmt is not installed or does not run), 2 TOML files parse, 2 patched templates render',
    );
  });

  it('skips the Rust check when rustfmt is a rustup shim with no toolchain', async () => {
    const bin = pathWithGitOnly();
    // What rustup's proxy does without a default toolchain: a message on stderr, exit 1.
    writeFileSync(
      join(bin, 'rustfmt'),
      '#!/bin/sh\necho "error: rustup could not choose a version of rustfmt to run" >&2\nexit 1\n',
    );
    chmodSync(join(bin, 'rustfmt'), 0o755);
    const result = await dryRun([], bin);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Rust check skipped (rustfmt is not installed or does not run)');
  });

  it("fails on a Rust file that does not parse, naming the file, the patches that change it and rustfmt's error", async () => {
    const broken = FEATURE_FILES.model[MODEL].replace(
      'struct RegistryAuth {',
      'struct RegistryAuth {\n    oops: (u32,',
    );
    const result = await dryRun([{ subject: 'models: break the model', files: { [MODEL]: broken } }]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `bottlerocket: ${MODEL} (changed by 0001-models-add-registry-auths-and-kubelet-settings.patch, 0003-models-break-the-model.patch) does not parse:`,
    );
    expect(result.stderr).toMatch(/error: (this file contains an unclosed delimiter|unexpected closing delimiter)/);
    expect(result.stderr).not.toContain('<stdin>');
  });

  it('fails on a TOML file that does not parse', async () => {
    const result = await dryRun([
      {
        subject: 'models: break the defaults',
        files: { [OVERRIDE]: `${FEATURE_FILES.overrideDefaults(base[OVERRIDE] as string)}\n[settings.kubernetes\n` },
      },
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${OVERRIDE} (changed by 0001-models-add-registry-auths-and-kubelet-settings.patch, 0003-models-break-the-defaults.patch) is not valid TOML`,
    );
  });

  it('fails on a template that uses a setting the model does not have', async () => {
    const template = `${base[CONTAINERD]}mirror = "{{settings.kubernetes.registry-mirror}}"\n`;
    const result = await dryRun([{ subject: 'containerd: use a mirror', files: { [CONTAINERD]: template } }]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${CONTAINERD} (changed by 0002-templates-render-registry-auths-and-kubelet-settings.patch, 0003-containerd-use-a-mirror.patch) uses settings.kubernetes.registry-mirror, which the aws-k8s-1.18 model does not have`,
    );
  });

  it('fails on a template whose output is not valid TOML', async () => {
    const template = `${base[CONTAINERD]}motd = {{settings.motd}}\n`;
    const result = await dryRun([{ subject: 'containerd: add the motd', files: { [CONTAINERD]: template } }]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'renders /etc/containerd/config.toml with only the settings it needs, but it is not valid TOML',
    );
  });

  it('fails when the patched defaults set a setting the model refuses', async () => {
    const defaults = FEATURE_FILES.overrideDefaults(base[OVERRIDE] as string).replace(
      'cluster-domain = "cluster.local"',
      'cluster-domain = "cluster.local"\ncontainer-log-max-files = 1',
    );
    const result = await dryRun([{ subject: 'models: default log files', files: { [OVERRIDE]: defaults } }]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'set settings.kubernetes.container-log-max-files, which the model refuses: Invalid container-log-max-files 1: kubelet requires at least 2',
    );
  });

  it('fails when a patch removes a setting that a template it does not touch still uses', async () => {
    const lib = (base['sources/models/src/lib.rs'] as string).replace('    cluster_certificate: ValidBase64,\n', '');
    const kubelet = FEATURE_FILES.kubeletFields(lib);
    const result = await dryRun([
      { subject: 'models: drop the certificate', files: { 'sources/models/src/lib.rs': kubelet } },
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'packages/kubernetes-1.18/kubernetes-ca-crt uses settings.kubernetes.cluster-certificate, which the aws-k8s-1.18 model does not have',
    );
  });

  it('only warns when an upstream template it does not patch uses a helper bro does not simulate', async () => {
    const lib = (base['sources/api/schnauzer/src/lib.rs'] as string).replace(
      '    Ok(',
      '    template_registry.register_helper("net_mask", Box::new(helpers::net_mask));\n    Ok(',
    );
    const result = await dryRun([], undefined, {
      'sources/api/schnauzer/src/lib.rs': lib,
      'packages/kubernetes-1.18/kubernetes-ca-crt':
        '{{net_mask os.arch}}\n{{base64_decode settings.kubernetes.cluster-certificate}}\n',
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      '! verify: packages/kubernetes-1.18/kubernetes-ca-crt (not patched) does not render with only the settings it needs: kubernetes-ca-crt:1: bro does not simulate the helper "net_mask"',
    );
  });
});
