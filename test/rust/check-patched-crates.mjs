#!/usr/bin/env node
// Compiles and unit-tests the Rust of the Bottlerocket patch series, offline, with the machine's
// rustup toolchain and Debian's packaged crates.
//
// Usage:
//   node test/rust/check-patched-crates.mjs <patched-bottlerocket-checkout> [--work DIR]
//
//   <patched-bottlerocket-checkout>  a Bottlerocket v1.0.4 work tree with the series applied:
//       the dry run leaves one in <work-dir>/bottlerocket, or
//         git clone ../shared/upstream/bottlerocket.bundle br && git -C br checkout v1.0.4 &&
//         git -C br am patches/bottlerocket/1.0.4/0*.patch
//   --work DIR  keep the scratch workspace (and the downloaded .debs) in DIR, to rerun faster.
//               Without it a temporary directory is used and removed on success.
//   node test/rust/check-patched-crates.mjs --print-debian-packages
//               the bookworm packages to apt-get install first (one per line).
//
// Needs: cargo and rustc >= 1.70 (rustup's, on PATH or in $CARGO_HOME/bin or ~/.cargo/bin), and
// Debian's librust-*-dev packages listed in DEBIAN_PACKAGES below (.ci/run installs them). Crates
// Debian bookworm has only at another major version are fetched with `apt-get download` through a
// private apt state under the work directory (its own sources list, lists and cache; the
// machine's apt configuration is never changed) and unpacked with `dpkg-deb -x`. Cargo reads
// every crate from a directory source, with net.offline = true: nothing comes from crates.io.
//
// What it compiles, as a scratch workspace built at run time from the checkout (nothing upstream
// is committed to bro):
//   - sources/models, once per variant directory under sources/models/src (aws-k8s-1.15 ... 1.18,
//     aws-ecs-1, aws-dev), with model-derive and bottlerocket-release; `cargo test` runs the
//     models crate's #[cfg(test)] tests for each variant, and one test of ours (tests/defaults.rs,
//     written at run time): defaults.toml merged with the variant's override-defaults.toml, as
//     storewolf merges them, deserializes into the variant's Settings, Services and
//     ConfigurationFiles, and every service's configuration files exist.
//   - sources/api/schnauzer/src/helpers.rs, the whole file (all helpers, toml_encode included),
//     with its tests. schnauzer's lib.rs (the API client) is not compiled: it needs tokio 0.2.
//   - from sources/api/pluto/src/main.rs, the kubeReserved items only (constants, the two
//     formulas, get_kube_reserved_cpu, the test vectors and test module). The binary is not
//     compiled: it needs reqwest 0.10 / tokio 0.2. get_kube_reserved_memory needs its IMDS client.
//
// Shims are mechanical and listed in the output: snafu 0.7 instead of 0.6 (the attribute
// `visibility = "X"` becomes `visibility(X)`, and `context(suffix(false))` keeps 0.6's selector
// names) plus a facade crate named snafu that re-exports 0.7 with 0.6's ResultExt (with_context's
// closure takes no argument), handlebars 5 behind a facade crate named handlebars (Helper's second
// lifetime and TemplateRenderError as aliases), semver 0.9 for 0.11, darling 0.10 (bullseye),
// serde_plain 1.0 for 0.3, build scripts reduced to what the build needs (the variant symlinks;
// the ARCH constant) since cargo-readme is not packaged, and RUSTFLAGS=-A legacy_derive_helpers
// (model-derive's #[serde] before #[derive], which rustc 1.47 accepted and today's rustc denies). The script proves that every other line compiled
// is byte-identical to the checkout: each copied file is compared with its source, line by line,
// and must differ only in the shimmed attribute lines; extracted items are taken from the file by
// name and must appear there verbatim.
//
// Exit codes: 0 all tests passed; 1 a build or test failed, or a check above failed; 2 usage
// error or a missing prerequisite (cargo, Debian crates, apt).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SYSTEM_REGISTRY = '/usr/share/cargo/registry';

/** Bookworm packages (installed with apt-get install by .ci/run). */
export const DEBIAN_PACKAGES = [
  'librust-serde-dev',
  'librust-serde-derive-dev',
  'librust-serde-json-dev',
  'librust-toml-dev',
  'librust-base64-dev',
  'librust-regex-dev',
  'librust-url-dev',
  'librust-lazy-static-dev',
  'librust-snafu-dev',
  'librust-syn-dev',
  'librust-quote-dev',
  'librust-proc-macro2-dev',
  'librust-log-dev',
  'librust-envy-dev',
  'librust-num-cpus-dev',
  'librust-pest-dev',
  'librust-pest-derive-dev',
  'librust-thiserror-dev',
  'librust-fnv-dev',
  'librust-ident-case-dev',
  'librust-semver-parser-0.7-dev',
  // schnauzer's helpers.rs since v1.1 (add_unresolvable_hostname)
  'librust-dns-lookup-dev',
  // Debian ships each crate feature as its own package: these pull in what the default features
  // (and serde's derive, syn's full/extra-traits/visit-mut) need, e.g. aho-corasick for regex.
  ...[
    'serde',
    'serde-derive',
    'serde-json',
    'toml',
    'base64',
    'regex',
    'url',
    'lazy-static',
    'snafu',
    'syn',
    'quote',
    'proc-macro2',
    'log',
    'envy',
    'num-cpus',
    'pest',
    'pest-derive',
    'thiserror',
    'fnv',
    'ident-case',
    'semver-parser-0.7',
    'dns-lookup',
  ].map((c) => `librust-${c}+default-dev`),
  'librust-serde+derive-dev',
  'librust-syn+full-dev',
  'librust-syn+extra-traits-dev',
  'librust-syn+visit-mut-dev',
];

/** Crate directories (name-version prefixes) the bookworm packages above must provide. */
const SYSTEM_CRATES = [
  'serde-1.',
  'serde_derive-1.',
  'serde_json-1.',
  'toml-0.5.',
  'base64-0.13.',
  'regex-1.',
  'aho-corasick-',
  'url-2.',
  'lazy_static-1.',
  'snafu-0.7.',
  'snafu-derive-0.7.',
  'syn-1.',
  'quote-1.',
  'proc-macro2-1.',
  'log-0.4.',
  'envy-0.4.',
  'num_cpus-1.',
  'pest-2.',
  'pest_derive-2.',
  'thiserror-1.',
  'fnv-1.',
  'ident_case-1.',
  'semver-parser-0.7.',
  'dns-lookup-1.',
];

/** Crates bookworm lacks at the needed major version: fetched through the private apt state. */
const FOREIGN_PACKAGES = [
  { pkg: 'librust-darling-dev', suite: 'bullseye', crate: 'darling-0.10.' },
  { pkg: 'librust-darling-core-dev', suite: 'bullseye', crate: 'darling_core-0.10.' },
  { pkg: 'librust-darling-macro-dev', suite: 'bullseye', crate: 'darling_macro-0.10.' },
  { pkg: 'librust-strsim-dev', suite: 'bullseye', crate: 'strsim-0.9.' },
  { pkg: 'librust-semver-dev', suite: 'bullseye', crate: 'semver-0.9.' },
  { pkg: 'librust-handlebars-dev', suite: 'trixie', crate: 'handlebars-5.' },
  { pkg: 'librust-serde-plain-dev', suite: 'sid', crate: 'serde_plain-1.' },
];
const APT_SUITES = ['bullseye', 'trixie', 'sid'];
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

class Failure extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

function log(message) {
  process.stderr.write(`check-patched-crates: ${message}\n`);
}

function run(argv, options = {}) {
  const started = Date.now();
  const result = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: options.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  if (result.error) throw new Failure(`${argv[0]} could not start: ${result.error.message}`, 2);
  return { ...result, seconds: (Date.now() - started) / 1000 };
}

function parseArgs(argv) {
  const args = { checkout: undefined, work: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--work') args.work = argv[++i];
    else if (a === '--print-debian-packages') {
      process.stdout.write(`${DEBIAN_PACKAGES.join('\n')}\n`);
      process.exit(0);
    } else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: check-patched-crates.mjs <patched-bottlerocket-checkout> [--work DIR]\n');
      process.exit(0);
    } else if (a.startsWith('-')) throw new Failure(`unknown option ${a}`, 2);
    else if (args.checkout === undefined) args.checkout = a;
    else throw new Failure(`unexpected argument ${a}`, 2);
  }
  if (!args.checkout)
    throw new Failure('usage: check-patched-crates.mjs <patched-bottlerocket-checkout> [--work DIR]', 2);
  args.checkout = path.resolve(args.checkout);
  const sources = path.join(args.checkout, 'sources');
  for (const p of [
    'models/src/lib.rs',
    'api/schnauzer/src/helpers.rs',
    'api/pluto/src/main.rs',
    'bottlerocket-release/src/lib.rs',
  ]) {
    if (!fs.existsSync(path.join(sources, p))) {
      throw new Failure(`${args.checkout} is not a Bottlerocket checkout: sources/${p} is missing`, 2);
    }
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Toolchain

function findCargo() {
  const candidates = [];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'cargo'));
  if (process.env.CARGO_HOME) candidates.push(path.join(process.env.CARGO_HOME, 'bin', 'cargo'));
  candidates.push(path.join(os.homedir(), '.cargo', 'bin', 'cargo'));
  const cargo = candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!cargo) {
    throw new Failure(
      'cargo not found on PATH, in $CARGO_HOME/bin or ~/.cargo/bin: install a Rust toolchain (rustup, rustc >= 1.70) first',
      2,
    );
  }
  const binDir = path.dirname(cargo);
  const rustc = run([path.join(binDir, 'rustc'), '--version'], {
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` },
  });
  const m = /rustc (\d+)\.(\d+)\.(\d+)/.exec(rustc.stdout ?? '');
  if (rustc.status !== 0 || !m) throw new Failure(`rustc beside ${cargo} does not run: ${rustc.stderr}`, 2);
  if (Number(m[1]) === 1 && Number(m[2]) < 70) {
    throw new Failure(`rustc ${m[0]} is too old: handlebars 5 needs rustc >= 1.70 (rustup update stable)`, 2);
  }
  return { cargo, binDir, rustcVersion: m[0] };
}

// ---------------------------------------------------------------------------------------------
// Crates: Debian's registry plus the foreign-version ones from a private apt state

function fetchForeignCrates(work) {
  const apt = path.join(work, 'apt');
  const extras = path.join(work, 'extras');
  const wanted = FOREIGN_PACKAGES.filter(
    (f) =>
      !fs.existsSync(path.join(extras, 'usr/share/cargo/registry')) ||
      !fs.readdirSync(path.join(extras, 'usr/share/cargo/registry')).some((d) => d.startsWith(f.crate)),
  );
  if (wanted.length === 0) return { extras: path.join(extras, 'usr/share/cargo/registry'), seconds: 0 };
  for (const d of [
    'state/lists/partial',
    'cache/archives/partial',
    'etc/sources.list.d',
    'etc/preferences.d',
    'debs',
  ]) {
    fs.mkdirSync(path.join(apt, d), { recursive: true });
  }
  fs.writeFileSync(
    path.join(apt, 'etc/sources.list'),
    APT_SUITES.map((s) => `deb [signed-by=${KEYRING}] http://deb.debian.org/debian ${s} main\n`).join(''),
  );
  const opts = [
    `-o`,
    `Dir::State=${apt}/state`,
    `-o`,
    `Dir::State::status=/dev/null`,
    `-o`,
    `Dir::Cache=${apt}/cache`,
    `-o`,
    `Dir::Etc::SourceList=${apt}/etc/sources.list`,
    `-o`,
    `Dir::Etc::SourceParts=${apt}/etc/sources.list.d`,
    `-o`,
    `Dir::Etc::Preferences=${apt}/etc/preferences`,
    `-o`,
    `Dir::Etc::PreferencesParts=${apt}/etc/preferences.d`,
    `-o`,
    `Acquire::Languages=none`,
    `-o`,
    `APT::Sandbox::User=root`,
  ];
  const started = Date.now();
  const update = run(['apt-get', ...opts, '-qq', 'update']);
  if (update.status !== 0) throw new Failure(`apt-get update (private state in ${apt}) failed:\n${update.stderr}`, 2);
  const download = run(['apt-get', ...opts, '-qq', 'download', ...wanted.map((f) => `${f.pkg}/${f.suite}`)], {
    cwd: path.join(apt, 'debs'),
  });
  if (download.status !== 0) throw new Failure(`apt-get download failed:\n${download.stderr}`, 2);
  for (const deb of fs.readdirSync(path.join(apt, 'debs')).filter((f) => f.endsWith('.deb'))) {
    const x = run(['dpkg-deb', '-x', path.join(apt, 'debs', deb), extras]);
    if (x.status !== 0) throw new Failure(`dpkg-deb -x ${deb} failed:\n${x.stderr}`, 2);
  }
  return { extras: path.join(extras, 'usr/share/cargo/registry'), seconds: (Date.now() - started) / 1000 };
}

function buildRegistry(work, extras) {
  const registry = path.join(work, 'registry');
  fs.rmSync(registry, { recursive: true, force: true });
  fs.mkdirSync(registry, { recursive: true });
  if (!fs.existsSync(SYSTEM_REGISTRY)) {
    throw new Failure(`${SYSTEM_REGISTRY} is missing: apt-get install ${DEBIAN_PACKAGES.join(' ')}`, 2);
  }
  const present = fs.readdirSync(SYSTEM_REGISTRY);
  const missing = SYSTEM_CRATES.filter((prefix) => !present.some((d) => d.startsWith(prefix)));
  if (missing.length) {
    throw new Failure(
      `${SYSTEM_REGISTRY} lacks ${missing.map((m) => m.replace(/-$/, '')).join(', ')}: ` +
        `apt-get install $(node test/rust/check-patched-crates.mjs --print-debian-packages)`,
      2,
    );
  }
  for (const dir of [SYSTEM_REGISTRY, extras]) {
    for (const entry of fs.readdirSync(dir)) {
      const link = path.join(registry, entry);
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(dir, entry), link);
    }
  }
  return registry;
}

// ---------------------------------------------------------------------------------------------
// Rust source handling: top-level items, shims, and the byte-identity proof

/**
 * Splits Rust source into top-level items, each with the comments and attributes before it.
 * Returns [{ name, text, start, end }]. Understands comments, strings (incl. raw), chars.
 */
export function topLevelItems(src) {
  const items = [];
  let i = 0;
  let depth = 0;
  let itemStart = null;
  const n = src.length;
  const startItem = () => {
    if (itemStart === null) itemStart = i;
  };
  while (i < n) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const eol = src.indexOf('\n', i);
      if (depth === 0 && itemStart === null && !src.startsWith('//!', i)) itemStart = i;
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let d = 1;
      if (depth === 0) startItem();
      i += 2;
      while (i < n && d > 0) {
        if (src[i] === '/' && src[i + 1] === '*') (d++, (i += 2));
        else if (src[i] === '*' && src[i + 1] === '/') (d--, (i += 2));
        else i++;
      }
      continue;
    }
    if (/\s/.test(c)) {
      // A blank line between comments and an item detaches the comments (a file header).
      if (
        depth === 0 &&
        itemStart !== null &&
        c === '\n' &&
        /^\s*\n/.test(src.slice(i + 1, i + 3)) &&
        /^\s*\/\//.test(src.slice(itemStart, i).split('\n').pop() ?? '')
      ) {
        itemStart = null;
      }
      i++;
      continue;
    }
    if (depth === 0) startItem();
    if (
      c === 'r' &&
      (next === '"' || (next === '#' && /^r#+"/.test(src.slice(i, i + 10)))) &&
      !/[A-Za-z0-9_]/.test(src[i - 1] ?? '')
    ) {
      const hashes = /^r(#*)"/.exec(src.slice(i))[1];
      const close = src.indexOf(`"${hashes}`, i + 2 + hashes.length);
      i = close + 1 + hashes.length;
      continue;
    }
    if (c === 'b' && next === '"') {
      i++;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < n && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === "'") {
      // char literal ('a', '\n', '\u{1f}') or lifetime ('a)
      const m = /^'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'/u.exec(src.slice(i, i + 12));
      i += m ? m[0].length : 1;
      continue;
    }
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (depth === 0 && c === '}' && itemStart !== null) {
        // `}` closes an item unless the item continues (e.g. `const X: T = S { .. };`).
        const rest = src.slice(i + 1).match(/^\s*(\S)/);
        if (!rest || (rest[1] !== ';' && rest[1] !== '.' && rest[1] !== ')')) {
          pushItem(items, src, itemStart, i + 1);
          itemStart = null;
        }
      }
    } else if (c === ';' && depth === 0 && itemStart !== null) {
      pushItem(items, src, itemStart, i + 1);
      itemStart = null;
    }
    i++;
  }
  return items;
}

function pushItem(items, src, start, end) {
  const text = src.slice(start, end);
  // The item's header: the first line that is not a comment or an attribute.
  const header = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('//') && !l.startsWith('#[') && !l.startsWith('#!['));
  const m =
    /^(?:pub(?:\([^)]*\))?\s+)?(?:const|static|fn|mod|struct|enum|type|trait|impl|use|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(
      header ?? '',
    );
  items.push({ name: m ? m[1] : (header ?? ''), header: header ?? '', text, start, end });
}

/** The snafu 0.6 → 0.7 shim: returns the shimmed text and the lines it changed. */
export function shimSnafu(text) {
  const changed = [];
  const lines = text.split('\n');
  const out = [];
  lines.forEach((line, idx) => {
    const m = /^(\s*)#\[snafu\(visibility = "([^"]+)"\)\]\s*$/.exec(line);
    if (m) {
      const replaced = [`${m[1]}#[snafu(visibility(${m[2]}))]`, `${m[1]}#[snafu(context(suffix(false)))]`];
      out.push(...replaced);
      changed.push({ line: idx + 1, from: line.trim(), to: replaced.map((r) => r.trim()).join(' ') });
    } else {
      out.push(line);
    }
  });
  return { text: out.join('\n'), changed };
}

/**
 * Proof that a compiled file is the checkout's file except for shimmed lines: removing the
 * shim's output lines from the compiled file and the shimmed input lines from the original gives
 * identical line sequences.
 */
function assertOnlyShimmed(original, compiled, label) {
  const isShimOut = (l) => /^\s*#\[snafu\((visibility\([^)]*\)+|context\(suffix\(false\)\))\)\]\s*$/.test(l);
  const isShimIn = (l) => /^\s*#\[snafu\(visibility = "[^"]+"\)\]\s*$/.test(l);
  const a = original.split('\n').filter((l) => !isShimIn(l));
  const b = compiled.split('\n').filter((l) => !isShimOut(l));
  if (a.length !== b.length || a.some((l, k) => l !== b[k])) {
    const k = a.findIndex((l, j) => l !== b[j]);
    throw new Failure(
      `${label}: compiled copy differs from the checkout beyond the snafu shim (first at kept line ${k + 1})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The scratch workspace

function copyShimmed(srcFile, destFile, label, report) {
  const original = fs.readFileSync(srcFile, 'utf8');
  const { text, changed } = shimSnafu(original);
  assertOnlyShimmed(original, text, label);
  fs.mkdirSync(path.dirname(destFile), { recursive: true });
  fs.writeFileSync(destFile, text);
  report.files += 1;
  for (const c of changed) report.shims.push(`${label}:${c.line}: ${c.from} -> ${c.to}`);
}

function copyTreeShimmed(srcDir, destDir, labelPrefix, report) {
  for (const entry of fs.readdirSync(srcDir, { withFileTypes: true })) {
    const s = path.join(srcDir, entry.name);
    const d = path.join(destDir, entry.name);
    if (entry.isSymbolicLink()) {
      fs.mkdirSync(destDir, { recursive: true });
      fs.symlinkSync(fs.readlinkSync(s), d);
    } else if (entry.isDirectory()) {
      copyTreeShimmed(s, d, `${labelPrefix}/${entry.name}`, report);
    } else if (entry.name.endsWith('.rs')) {
      copyShimmed(s, d, `${labelPrefix}/${entry.name}`, report);
    } else {
      fs.mkdirSync(destDir, { recursive: true });
      fs.copyFileSync(s, d);
    }
  }
}

/**
 * A crate named handlebars that re-exports handlebars 5 with the names schnauzer uses from
 * handlebars `major` (3 or 4): Helper's second lifetime, and 3's TemplateRenderError. Returns
 * its member name.
 */
function handlebarsFacade(ws, major, report) {
  const name = `handlebars${major}-facade`;
  const dir = path.join(ws, name);
  const aliases = [
    `/// handlebars ${major}'s Helper<'reg, 'rc> is handlebars 5's Helper<'rc>.`,
    "pub type Helper<'reg, 'rc> = handlebars5::Helper<'rc>;",
    ...(major === 3
      ? [
          "/// handlebars 3's TemplateRenderError is handlebars 5's RenderError.",
          'pub type TemplateRenderError = handlebars5::RenderError;',
        ]
      : []),
  ];
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'src/lib.rs'),
    [
      `// Mechanical shim: the handlebars ${major} names schnauzer uses, over handlebars 5.`,
      'pub use handlebars5::*;',
      ...aliases,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'Cargo.toml'),
    manifest(name, { handlebars5: '{ package = "handlebars", version = "5" }' }) + '\n[lib]\nname = "handlebars"\n',
  );
  report.shims.push(
    `handlebars: facade crate, \`pub use handlebars5::*\`, ${aliases
      .filter((l) => l.startsWith('pub type'))
      .map((l) => `\`${l.replace(/^pub /, '').replace(/;$/, '')}\``)
      .join(', ')}`,
  );
  return name;
}

/** The workspace manifest, and a cargo home that reads every crate from `registry`, offline. Returns the cargo home. */
function writeWorkspace(work, ws, members, registry) {
  fs.writeFileSync(
    path.join(ws, 'Cargo.toml'),
    `[workspace]\nresolver = "2"\nmembers = [\n${members.map((m) => `  "${m}",`).join('\n')}\n]\n`,
  );
  const cargoHome = path.join(work, 'cargo-home');
  fs.mkdirSync(cargoHome, { recursive: true });
  fs.writeFileSync(
    path.join(cargoHome, 'config.toml'),
    `[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\ndirectory = "${registry}"\n\n[net]\noffline = true\n`,
  );
  return cargoHome;
}

function manifest(name, deps, extra = '') {
  const lines = [
    `[package]`,
    `name = "${name}"`,
    `version = "0.1.0"`,
    `edition = "2018"`,
    `publish = false`,
    extra,
    ``,
    `[dependencies]`,
  ];
  for (const [k, v] of Object.entries(deps)) lines.push(`${k} = ${v}`);
  return lines.join('\n') + '\n';
}

function variantsOf(sources) {
  const dir = path.join(sources, 'models/src');
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter(
      (e) => (e.isDirectory() || e.isSymbolicLink()) && fs.existsSync(path.join(dir, e.name, 'override-defaults.toml')),
    )
    .map((e) => e.name)
    .sort();
}

const SNAFU_FACADE = `// Mechanical shim: snafu 0.6's API over snafu 0.7. Everything is 0.7's except ResultExt, whose
// with_context closure takes no argument in 0.6.
pub use snafu07::*;

pub trait ResultExt<T, E>: Sized {
    fn context<C, E2>(self, context: C) -> Result<T, E2>
    where
        C: IntoError<E2, Source = E>,
        E2: std::error::Error + ErrorCompat;

    fn with_context<F, C, E2>(self, context: F) -> Result<T, E2>
    where
        F: FnOnce() -> C,
        C: IntoError<E2, Source = E>,
        E2: std::error::Error + ErrorCompat;
}

impl<T, E> ResultExt<T, E> for Result<T, E> {
    fn context<C, E2>(self, context: C) -> Result<T, E2>
    where
        C: IntoError<E2, Source = E>,
        E2: std::error::Error + ErrorCompat,
    {
        snafu07::ResultExt::context(self, context)
    }

    fn with_context<F, C, E2>(self, context: F) -> Result<T, E2>
    where
        F: FnOnce() -> C,
        C: IntoError<E2, Source = E>,
        E2: std::error::Error + ErrorCompat,
    {
        snafu07::ResultExt::with_context(self, |_| context())
    }
}
`;

/**
 * Our test (not upstream code): the defaults storewolf writes for the variant deserialize into
 * the variant's model types, the way the API reads them back. Catches a default the model does
 * not know (deny_unknown_fields), one of the wrong type, and a service naming a missing file.
 */
const DEFAULTS_TEST = `// Written by bro's test/rust/check-patched-crates.mjs; not upstream code.
use std::fs;
use toml::Value;

/// storewolf's merge_values: tables merge key by key, anything else is replaced, types must match.
fn merge(into: &mut Value, from: &Value) {
    assert!(into.same_type(from), "override-defaults.toml changes the type of a default");
    match (into, from) {
        (Value::Table(a), Value::Table(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn read(path: &str) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {}", path, e))
}

#[test]
fn merged_defaults_deserialize_into_the_model() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut defaults = read(&format!("{}/defaults.toml", dir));
    merge(&mut defaults, &read(&format!("{}/src/variant/current/override-defaults.toml", dir)));
    let table = defaults.as_table().expect("defaults are a table");
    let settings: model::Settings = table["settings"].clone().try_into().unwrap_or_else(|e| panic!("settings: {}", e));
    let services: model::Services = table["services"].clone().try_into().unwrap_or_else(|e| panic!("services: {}", e));
    let files: model::ConfigurationFiles = table["configuration-files"]
        .clone()
        .try_into()
        .unwrap_or_else(|e| panic!("configuration-files: {}", e));
    for (name, service) in &services {
        for file in &service.configuration_files {
            let file: &str = &**file;
            assert!(files.contains_key(file), "service {} names configuration file {}, which is not defined", name, file);
        }
    }
    // What the model reads, it writes back: the defaults survive a round trip through it.
    let again: model::Settings = Value::try_from(&settings).unwrap().try_into().unwrap();
    assert_eq!(settings, again);
}
`;

const PLUTO_ITEMS = [
  /^KUBE_RESERVED_/,
  /^kube_reserved_cpu_millicores$/,
  /^kube_reserved_memory_mebibytes$/,
  /^get_kube_reserved_cpu$/,
  /^test_kube_reserved$/,
];
const PLUTO_REQUIRED = ['kube_reserved_cpu_millicores', 'kube_reserved_memory_mebibytes', 'test_kube_reserved'];

function buildWorkspace(work, sources, registry, report) {
  const ws = path.join(work, 'ws');
  fs.rmSync(ws, { recursive: true, force: true });
  fs.mkdirSync(ws, { recursive: true });
  const members = [];
  const common = {
    serde: '{ version = "1.0", features = ["derive"] }',
    snafu: '{ package = "snafu06-facade", path = "../snafu06-facade" }',
  };

  // bottlerocket-release: build.rs keeps only upstream's generate_constants (ARCH).
  {
    const dir = path.join(ws, 'bottlerocket-release');
    copyShimmed(
      path.join(sources, 'bottlerocket-release/src/lib.rs'),
      path.join(dir, 'src/lib.rs'),
      'bottlerocket-release/src/lib.rs',
      report,
    );
    const buildRs = fs.readFileSync(path.join(sources, 'bottlerocket-release/build.rs'), 'utf8');
    const items = topLevelItems(buildRs);
    const gen = items.find((it) => it.name === 'generate_constants');
    if (!gen) throw new Failure('sources/bottlerocket-release/build.rs has no generate_constants function');
    const uses = items.filter((it) => it.header.startsWith('use ')).map((it) => it.header);
    fs.writeFileSync(
      path.join(dir, 'build.rs'),
      `${uses.join('\n')}\n\n${gen.text.trim()}\n\nfn main() {\n    generate_constants();\n}\n`,
    );
    report.shims.push(
      'bottlerocket-release/build.rs: only generate_constants() (README generation needs cargo-readme)',
    );
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest(
        'bottlerocket-release',
        { envy: '"0.4"', log: '"0.4"', semver: '{ version = "0.9", features = ["serde"] }', ...common },
        'build = "build.rs"',
      ),
    );
    members.push('bottlerocket-release');
  }

  // model-derive: the proc macro, unchanged (build.rs only generates its README).
  {
    const dir = path.join(ws, 'model-derive');
    copyTreeShimmed(
      path.join(sources, 'models/model-derive/src'),
      path.join(dir, 'src'),
      'models/model-derive/src',
      report,
    );
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest('model-derive', {
        darling: '"0.10"',
        'proc-macro2': '"1.0"',
        quote: '"1.0"',
        syn: '{ version = "1.0", default-features = false, features = ["full", "parsing", "printing", "proc-macro", "visit-mut"] }',
      }) + '\n[lib]\npath = "src/lib.rs"\nproc-macro = true\n',
    );
    members.push('model-derive');
  }

  // models, once per variant: the variant symlinks that upstream's build.rs makes.
  const variants = variantsOf(sources);
  if (variants.length === 0) throw new Failure('sources/models/src has no variant directories');
  for (const variant of variants) {
    const pkg = `models-${variant.replace(/\./g, '-')}`;
    const dir = path.join(ws, pkg);
    const rep = { files: 0, shims: [] };
    copyTreeShimmed(path.join(sources, 'models/src'), path.join(dir, 'src'), 'models/src', rep);
    if (variant === variants[0]) {
      report.files += rep.files;
      report.shims.push(...rep.shims);
    }
    fs.copyFileSync(path.join(sources, 'models/defaults.toml'), path.join(dir, 'defaults.toml'));
    fs.mkdirSync(path.join(dir, 'tests'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'tests/defaults.rs'), DEFAULTS_TEST);
    const variantDir = path.join(dir, 'src/variant');
    fs.mkdirSync(variantDir, { recursive: true });
    for (const l of ['current', 'mod.rs']) fs.rmSync(path.join(variantDir, l), { force: true });
    fs.symlinkSync(`../${variant}`, path.join(variantDir, 'current'));
    fs.symlinkSync('../variant_mod.rs', path.join(variantDir, 'mod.rs'));
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest(pkg, {
        base64: '"0.13"',
        'bottlerocket-release': '{ path = "../bottlerocket-release" }',
        lazy_static: '"1.2"',
        'model-derive': '{ path = "../model-derive" }',
        regex: '"1.1"',
        semver: '"0.9"',
        serde_plain: '"1.0"',
        toml: '"0.5"',
        url: '"2.1"',
        ...common,
      }) + '\n[lib]\nname = "model"\npath = "src/lib.rs"\n',
    );
    members.push(pkg);
  }
  report.shims.push(
    `models: src/variant/current -> ../<variant> and src/variant/mod.rs -> ../variant_mod.rs, as upstream's build.rs links them, for ${variants.join(', ')}`,
  );

  // snafu 0.6 facade over snafu 0.7: 0.6's ResultExt (with_context's closure takes no argument).
  {
    const dir = path.join(ws, 'snafu06-facade');
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/lib.rs'), SNAFU_FACADE);
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest('snafu06-facade', { snafu07: '{ package = "snafu", version = "0.7" }' }) + '\n[lib]\nname = "snafu"\n',
    );
    members.push('snafu06-facade');
    report.shims.push(
      "snafu: facade crate, `pub use snafu07::*` with snafu 0.6's ResultExt (with_context's closure takes no argument; it delegates to 0.7's)",
    );
  }

  // handlebars 3 facade over handlebars 5 (mechanical: lifetimes and the renamed error type).
  members.push(handlebarsFacade(ws, 3, report));

  // schnauzer helpers.rs, whole; lib.rs is ours (upstream's needs the API client and tokio 0.2).
  {
    const dir = path.join(ws, 'schnauzer-helpers');
    copyShimmed(
      path.join(sources, 'api/schnauzer/src/helpers.rs'),
      path.join(dir, 'src/helpers.rs'),
      'api/schnauzer/src/helpers.rs',
      report,
    );
    fs.writeFileSync(path.join(dir, 'src/lib.rs'), '#[macro_use]\nextern crate log;\n\npub mod helpers;\n');
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest('schnauzer-helpers', {
        base64: '"0.13"',
        handlebars: '{ package = "handlebars3-facade", path = "../handlebars3-facade" }',
        lazy_static: '"1.4"',
        log: '"0.4"',
        serde_json: '"1"',
        ...common,
      }),
    );
    members.push('schnauzer-helpers');
  }

  // pluto's kubeReserved items, extracted by name from main.rs.
  {
    const dir = path.join(ws, 'pluto-kube-reserved');
    const mainRs = fs.readFileSync(path.join(sources, 'api/pluto/src/main.rs'), 'utf8');
    const items = topLevelItems(mainRs).filter((it) => PLUTO_ITEMS.some((re) => re.test(it.name)));
    for (const required of PLUTO_REQUIRED) {
      if (!items.some((it) => it.name === required))
        throw new Failure(`sources/api/pluto/src/main.rs has no top-level item named ${required}`);
    }
    for (const it of items) {
      if (!mainRs.includes(it.text)) throw new Failure(`extracted item ${it.name} is not verbatim in main.rs`);
    }
    report.extracted = items.map((it) => it.name);
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'src/lib.rs'),
      "// Items extracted verbatim, by name, from the checkout's sources/api/pluto/src/main.rs.\n" +
        '#![allow(dead_code)]\nuse std::convert::TryFrom;\n\n' +
        items.map((it) => it.text.replace(/^\s*\n/, '')).join('\n\n') +
        '\n',
    );
    fs.writeFileSync(path.join(dir, 'Cargo.toml'), manifest('pluto-kube-reserved', { num_cpus: '"1.0"' }));
    members.push('pluto-kube-reserved');
  }

  const cargoHome = writeWorkspace(work, ws, members, registry);
  return { ws, cargoHome, members, variants };
}

/**
 * Removes whole lines that `drop` matches from `text` (a shim for code the compiled crate leaves
 * out), each listed in the report; proves the rest is the checkout's, line for line.
 */
function dropLines(text, drop, label, report) {
  const lines = text.split('\n');
  const kept = [];
  lines.forEach((line, idx) => {
    if (drop(line)) report.shims.push(`${label}:${idx + 1}: dropped \`${line.trim()}\``);
    else kept.push(line);
  });
  const out = kept.join('\n');
  const rest = lines.filter((l) => !drop(l));
  if (rest.join('\n') !== out) throw new Failure(`${label}: the shim changed more than the dropped lines`);
  return out;
}

/**
 * The workspace for a tree with upstream's newer layout (Bottlerocket v1.1 and later: models'
 * defaults.d, snafu 0.7 and handlebars 4 upstream). What the v1.7.2 series adds in Rust:
 *   - schnauzer's helpers.rs, whole (toml_encode and every upstream helper, with their tests);
 *   - the models' Kubernetes modeled types (modeled_types/kubernetes.rs, whole, feature gates
 *     included), with modeled_types/mod.rs's error module and string_impls_for macro.
 * Not compiled: the whole models crate (it needs x509-parser 0.13, which Debian does not package
 * at that version, for PEM certificates), so the variant defaults are not deserialized here.
 */
function buildWorkspaceDefaultsD(work, sources, registry, report) {
  const ws = path.join(work, 'ws');
  fs.rmSync(ws, { recursive: true, force: true });
  fs.mkdirSync(ws, { recursive: true });
  const members = [];

  // handlebars 4 facade over handlebars 5 (mechanical: Helper's lifetimes).
  members.push(handlebarsFacade(ws, 4, report));

  // schnauzer helpers.rs, whole and unchanged; lib.rs is ours (upstream's needs the API client).
  {
    const dir = path.join(ws, 'schnauzer-helpers');
    const original = fs.readFileSync(path.join(sources, 'api/schnauzer/src/helpers.rs'), 'utf8');
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/helpers.rs'), original);
    report.files += 1;
    fs.writeFileSync(path.join(dir, 'src/lib.rs'), '#[macro_use]\nextern crate log;\n\npub mod helpers;\n');
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest('schnauzer-helpers', {
        base64: '"0.13"',
        'dns-lookup': '"1"',
        handlebars: '{ package = "handlebars4-facade", path = "../handlebars4-facade" }',
        lazy_static: '"1.4"',
        log: '"0.4"',
        num_cpus: '"1"',
        serde: '{ version = "1.0", features = ["derive"] }',
        serde_json: '"1"',
        snafu: '"0.7"',
        url: '"2"',
      }),
    );
    members.push('schnauzer-helpers');
  }

  // The models' Kubernetes types: kubernetes.rs whole; mod.rs's error module without its x509
  // variants, and its string_impls_for macro, extracted by name.
  {
    const dir = path.join(ws, 'models-kubernetes');
    const modRs = fs.readFileSync(path.join(sources, 'models/src/modeled_types/mod.rs'), 'utf8');
    const items = topLevelItems(modRs);
    const error = items.find((it) => it.name === 'error');
    const macro = items.find((it) => it.name === 'string_impls_for');
    if (!error || !macro)
      throw new Failure('sources/models/src/modeled_types/mod.rs has no error module or string_impls_for macro');
    // x509 (PEM certificates) is not packaged at 0.13: its alias, its comment and its two variants go.
    const x509 =
      /x509|PEMToX509ParseError|verbose\. Declaring a type to simplify it|InvalidPEM \{|^\s*source: x509_parser/;
    let errorText = dropLines(error.text, (l) => x509.test(l), 'models/src/modeled_types/mod.rs error', report);
    // A variant left with no lines but its closing brace after InvalidPEM's fields went.
    errorText = errorText.replace(/\n\s*#\[snafu\(display\("Invalid PEM object: \{\}", source\)\)\]\n\s*\},\n/, '\n');
    if (/x509/i.test(errorText)) throw new Failure('models/src/modeled_types/mod.rs: x509 left in the error module');
    fs.mkdirSync(path.join(dir, 'src/modeled_types'), { recursive: true });
    fs.copyFileSync(
      path.join(sources, 'models/src/modeled_types/kubernetes.rs'),
      path.join(dir, 'src/modeled_types/kubernetes.rs'),
    );
    report.files += 1;
    fs.writeFileSync(
      path.join(dir, 'src/modeled_types/mod.rs'),
      "// From the checkout's sources/models/src/modeled_types/mod.rs, by name (x509 variants dropped).\n" +
        `${errorText.replace(/^\s*\n/, '')}\n\n${macro.text.replace(/^\s*\n/, '')}\n\nmod kubernetes;\npub use kubernetes::*;\n`,
    );
    fs.writeFileSync(path.join(dir, 'src/lib.rs'), 'pub mod modeled_types;\n');
    fs.writeFileSync(
      path.join(dir, 'Cargo.toml'),
      manifest('models-kubernetes', {
        base64: '"0.13"',
        lazy_static: '"1.4"',
        regex: '"1"',
        serde: '{ version = "1.0", features = ["derive"] }',
        serde_plain: '"1"',
        snafu: '"0.7"',
      }),
    );
    members.push('models-kubernetes');
  }

  const cargoHome = writeWorkspace(work, ws, members, registry);
  return { ws, cargoHome, members, variants: [] };
}

// ---------------------------------------------------------------------------------------------

/** Upstream tests that cannot run offline, left out by name (and said so in the output). */
const SKIPPED_TESTS = [
  {
    binary: 'schnauzer-helpers: unit tests',
    file: 'api/schnauzer/src/helpers.rs',
    test: 'helpers::test_add_unresolvable_hostname::resolvable_hostname_renders_nothing',
    why: 'resolves amazon.com in DNS; CI has no network but the npm registry and Debian',
  },
];

function lockedVersions(ws) {
  const lock = fs.readFileSync(path.join(ws, 'Cargo.lock'), 'utf8');
  const out = [];
  for (const m of lock.matchAll(/\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"\nsource = /g))
    out.push(`${m[1]} ${m[2]}`);
  return out.sort();
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const sources = path.join(args.checkout, 'sources');
  const tool = findCargo();
  const work = args.work ? path.resolve(args.work) : fs.mkdtempSync(path.join(os.tmpdir(), 'bro-rust-'));
  fs.mkdirSync(work, { recursive: true });
  log(`checkout ${args.checkout}; work dir ${work}; ${tool.rustcVersion}`);

  const fetched = fetchForeignCrates(work);
  log(`foreign-version crates ready (${fetched.seconds.toFixed(1)} s of apt)`);
  const registry = buildRegistry(work, fetched.extras);
  const report = { files: 0, shims: [], extracted: [] };
  // Since v1.1 a variant's defaults live in defaults.d (sources/models/shared-defaults).
  const newer = fs.existsSync(path.join(sources, 'models/shared-defaults'));
  const { ws, cargoHome, members, variants } = (newer ? buildWorkspaceDefaultsD : buildWorkspace)(
    work,
    sources,
    registry,
    report,
  );
  log(`copied ${report.files} source files; every line is the checkout's except these shims:`);
  for (const s of report.shims) log(`  shim: ${s}`);
  if (report.extracted.length) log(`pluto items extracted verbatim: ${report.extracted.join(', ')}`);

  const env = {
    PATH: `${tool.binDir}:/usr/bin:/bin`,
    HOME: process.env.HOME ?? os.homedir(),
    CARGO_HOME: cargoHome,
    CARGO_TARGET_DIR: path.join(work, 'target'),
    CARGO_NET_OFFLINE: 'true',
    CARGO_TERM_COLOR: 'never',
    // model-derive (2020) emits #[serde] before the #[derive] it adds; today's rustc denies that
    // as a future incompatibility (legacy_derive_helpers). The rustc v1.0.4 was built with accepted it.
    RUSTFLAGS: '-A legacy_derive_helpers',
  };
  for (const k of ['RUSTUP_HOME', 'RUSTUP_TOOLCHAIN', 'TMPDIR']) if (process.env[k]) env[k] = process.env[k];
  const logFile = path.join(work, 'cargo-test.log');
  fs.writeFileSync(logFile, '');
  const failWithLog = (what, result) => {
    // Errors with their location, failing tests with their panic message.
    const lines = fs.readFileSync(logFile, 'utf8').split('\n');
    const shown = [];
    lines.forEach((l, k) => {
      if (/^error|FAILED|^---- /.test(l)) shown.push(l);
      else if (/^\s+--> /.test(l) && /^error/.test(lines[k - 1] ?? '')) shown.push(l);
      else if (/panicked at/.test(l)) shown.push(l, lines[k + 1] ?? '');
    });
    process.stderr.write(`${shown.slice(0, 200).join('\n')}\n`);
    throw new Failure(
      `${what} failed (exit ${result.status}) after ${result.seconds.toFixed(1)} s; full log: ${logFile}`,
    );
  };
  // Build every test binary once; cargo's JSON messages say which binary belongs to which member.
  const logFd = fs.openSync(logFile, 'a');
  const build = run(
    [
      tool.cargo,
      'test',
      '--offline',
      '--workspace',
      '--lib',
      '--tests',
      '--no-run',
      '--message-format=json-render-diagnostics',
    ],
    {
      cwd: ws,
      env,
      stdio: ['ignore', 'pipe', logFd],
    },
  );
  fs.closeSync(logFd);
  if (build.status !== 0) failWithLog('cargo build of the tests', build);
  log(`cargo build of the scratch workspace: ${build.seconds.toFixed(1)} s`);
  const executables = new Map();
  for (const line of build.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && msg.executable && msg.profile?.test) {
      const member = path.basename(path.dirname(msg.manifest_path));
      const kind = msg.target.kind.includes('lib') ? 'unit tests' : `tests/${msg.target.name}.rs`;
      executables.set(`${member}: ${kind}`, msg.executable);
    }
  }
  const versions = lockedVersions(ws);
  log(`crates (all from Debian packages): ${versions.join(', ')}`);

  const expected = newer
    ? ['schnauzer-helpers: unit tests', 'models-kubernetes: unit tests']
    : [
        ...members
          .filter((m) => m.startsWith('models-'))
          .flatMap((m) => [`${m}: unit tests`, `${m}: tests/defaults.rs`]),
        'schnauzer-helpers: unit tests',
        'pluto-kube-reserved: unit tests',
      ];
  const results = [];
  let testSeconds = 0;
  for (const label of expected) {
    const exe = executables.get(label);
    if (!exe) throw new Failure(`cargo built no test binary for ${label}`);
    // Only tests this checkout has (the DNS one arrived with add_unresolvable_hostname, after v1.0.4).
    const skipped = SKIPPED_TESTS.filter(
      (t) =>
        t.binary === label &&
        fs.readFileSync(path.join(sources, t.file), 'utf8').includes(`fn ${t.test.split('::').pop()}(`),
    );
    for (const t of skipped) log(`  skipped in ${label}: ${t.test} (${t.why})`);
    const r = run([exe, ...skipped.flatMap((t) => ['--skip', t.test])], {
      cwd: path.join(ws, label.split(':')[0]),
      env,
    });
    testSeconds += r.seconds;
    fs.appendFileSync(logFile, `\n== ${label}: ${exe}\n${r.stdout}${r.stderr}`);
    const t = /^test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored/m.exec(r.stdout);
    const result = { label, passed: t ? Number(t[2]) : 0, failed: t ? Number(t[3]) : 0, ignored: t ? Number(t[4]) : 0 };
    results.push(result);
    log(`  ${label}: ${result.passed} passed, ${result.failed} failed, ${result.ignored} ignored`);
    if (r.status !== 0) failWithLog(label, r);
    if (result.passed === 0) throw new Failure(`${label}: no tests ran`);
  }
  const total = results.reduce((a, r) => a + r.passed, 0);
  log(
    `ok: ${total} tests passed (${newer ? "schnauzer helpers; the models' Kubernetes types" : `models and their merged defaults for ${variants.length} variants: ${variants.join(', ')}; schnauzer helpers; pluto kubeReserved`}); cargo build ${build.seconds.toFixed(1)} s, tests ${testSeconds.toFixed(1)} s`,
  );
  if (!args.work) fs.rmSync(work, { recursive: true, force: true });
}

try {
  main();
} catch (err) {
  if (err instanceof Failure) {
    log(`FAILED: ${err.message}`);
    process.exit(err.code);
  }
  throw err;
}
