// Shared by the fake tools: records each call (argv, cwd, env, a digest of
// stdin, never stdin itself) as one JSON line in the file $BRO_FAKE_CALLS.
const { appendFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { createHash } = require('node:crypto');

function readStdin() {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function record(tool, extra = {}) {
  const file = process.env.BRO_FAKE_CALLS;
  if (!file) return;
  const entry = { tool, argv: process.argv.slice(2), cwd: process.cwd(), env: { ...process.env }, ...extra };
  appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function modeOf(path) {
  try {
    return (statSync(path).mode & 0o777).toString(8);
  } catch {
    return undefined;
  }
}

function fail(message, code = 1) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/**
 * BRO_FAKE_HANG=cargo,docker: the named tools announce themselves in
 * $BRO_FAKE_CALLS.hang-<tool> (with their pid) and hang, like a long build,
 * so a test can interrupt bro in the middle.
 */
function hangIfAsked(tool) {
  if (!(process.env.BRO_FAKE_HANG || '').split(',').includes(tool)) return;
  writeFileSync(`${process.env.BRO_FAKE_CALLS}.hang-${tool}`, String(process.pid));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}

/**
 * BRO_FAKE_BLOCK=cargo:default,docker:push (a tool, or a tool and its task or
 * subcommand): the call writes its pid to $BRO_FAKE_CALLS.blocked-<tool>-<what>
 * (and appends it to the same name + .pids)
 * and waits until the file $BRO_FAKE_CALLS.release-<tool>-<what> exists, so a
 * test can act (kill bro) while it runs, with no timing involved.
 */
function blockIfAsked(tool, what) {
  const asked = (process.env.BRO_FAKE_BLOCK || '').split(',');
  if (!asked.includes(tool) && !asked.includes(`${tool}:${what}`)) return;
  const name = `${tool}-${what}`;
  // Written beside and renamed in: a test that sees the file reads the whole pid, never an empty file.
  const marker = `${process.env.BRO_FAKE_CALLS}.blocked-${name}`;
  writeFileSync(`${marker}.${process.pid}.tmp`, String(process.pid));
  renameSync(`${marker}.${process.pid}.tmp`, marker);
  appendFileSync(`${process.env.BRO_FAKE_CALLS}.blocked-${name}.pids`, `${process.pid}\n`);
  while (!existsSync(`${process.env.BRO_FAKE_CALLS}.release-${name}`)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}

module.exports = { record, readStdin, sha256, modeOf, fail, hangIfAsked, blockIfAsked };
