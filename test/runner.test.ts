import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAdapters } from '../src/adapters/index.js';
import { Redactor, redactUrlCredentials } from '../src/adapters/redactor.js';
import { createRunner } from '../src/adapters/runner.js';
import { SubprocessError } from '../src/shared/errors.js';
import { removeDir, tempDir } from './helpers/git-fixtures.js';
import { sealedEnv } from './helpers/env.js';
import { alive, until } from './helpers/processes.js';

const runner = (dryRun = false, redactor = new Redactor(), lines: string[] = []) =>
  createRunner({ dryRun, env: sealedEnv(), redactor, log: (l) => lines.push(l) });

describe('the runner', () => {
  it('passes argv through untouched: shell metacharacters are plain arguments', async () => {
    const { stdout } = await runner().run({
      argv: ['node', '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', '$(touch x); rm -rf /', '"a b"'],
      mode: 'read',
    });
    expect(JSON.parse(stdout)).toEqual(['$(touch x); rm -rf /', '"a b"']);
  });

  it('in dry-run, records write commands without running them and still runs reads', async () => {
    const lines: string[] = [];
    const r = runner(true, new Redactor(), lines);
    const write = await r.run({ argv: ['node', '-e', 'process.exit(3)'], mode: 'write' });
    expect(write.skipped).toBe(true);
    expect(lines).toEqual(['[dry-run] node -e process.exit(3)']);
    const read = await r.run({ argv: ['node', '-e', 'console.log("read")'], mode: 'read' });
    expect(read.stdout).toBe('read');
  });

  it('feeds secrets on stdin and redacts them from logs, output files and errors', async () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-token-value');
    const lines: string[] = [];
    const dir = tempDir();
    const logFile = join(dir, 'step.log');
    try {
      const error = await runner(false, redactor, lines)
        .run({
          argv: [
            'node',
            '-e',
            'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{console.log("got "+d);process.exit(4)})',
          ],
          mode: 'write',
          input: 's3cr3t-token-value',
          logFile,
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SubprocessError);
      expect((error as SubprocessError).reason).toBe('exit');
      expect((error as SubprocessError).detail.exitCode).toBe(4);
      expect((error as SubprocessError).message).toContain('got ***');
      expect((error as SubprocessError).message).not.toContain('s3cr3t');
      expect(readFileSync(logFile, 'utf8')).toBe('got ***\n');
      expect(lines.join('\n')).not.toContain('s3cr3t');
    } finally {
      removeDir(dir);
    }
  });

  it('logs whole lines: a secret or a character cut in two between writes is still redacted and whole; nothing is kept in memory', async () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-token-value');
    const dir = tempDir();
    const logFile = join(dir, 'step.log');
    const lines: string[] = [];
    try {
      const euro = Buffer.from('€').toString('hex');
      const script = `const w = (s) => new Promise((r) => process.stdout.write(s, () => setTimeout(r, 50)));
        (async () => { await w("token s3cr3t-"); await w("token-value\\n"); await w(Buffer.from("${euro}", "hex").subarray(0, 1)); await w(Buffer.from("${euro}", "hex").subarray(1)); await w(" 100 (no newline at the end)"); })()`;
      const result = await runner(false, redactor).run({
        argv: ['node', '-e', script],
        mode: 'write',
        logFile,
        onLine: (l) => lines.push(l),
      });
      expect(readFileSync(logFile, 'utf8')).toBe('token ***\n€ 100 (no newline at the end)\n');
      expect(lines).toEqual(['token ***', '€ 100 (no newline at the end)']);
      expect(result.stdout).toBe('');
    } finally {
      removeDir(dir);
    }
  });

  it("keeps the AWS credentials of the environment out of a child's log and errors", async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY';
    const dir = tempDir();
    const logFile = join(dir, 'ami-register.log');
    try {
      const { runner: r } = createAdapters({
        projectDir: dir,
        cacheDir: dir,
        dryRun: false,
        debug: false,
        env: sealedEnv({ AWS_SECRET_ACCESS_KEY: secret }),
        stderr: process.stderr,
      });
      const error = await r
        .run({
          argv: ['node', '-e', 'console.error("signing with " + process.env.AWS_SECRET_ACCESS_KEY); process.exit(1)'],
          mode: 'write',
          logFile,
        })
        .catch((e: unknown) => e);
      expect((error as SubprocessError).message).toContain('signing with ***');
      expect(readFileSync(logFile, 'utf8')).toBe('signing with ***\n');
    } finally {
      removeDir(dir);
    }
  });

  it('says when a program cannot be started, and how to fix it', async () => {
    const error = await runner()
      .run({ argv: ['bro-no-such-program'], mode: 'read' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SubprocessError);
    expect((error as SubprocessError).reason).toBe('spawn');
    expect((error as SubprocessError).hint).toContain('Install bro-no-such-program');
  });

  it('stops the whole process group of running children on killAll', async () => {
    const r = runner();
    const lines: string[] = [];
    const pending = r.run({
      argv: [
        'node',
        '-e',
        'console.log(require("child_process").spawn("sleep",["30"],{stdio:"ignore"}).pid); setTimeout(()=>{}, 30000)',
      ],
      mode: 'read',
      onLine: (line) => lines.push(line),
    });
    for (let i = 0; i < 100 && !lines.length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const grandchild = Number(lines[0]);
    expect(grandchild).toBeGreaterThan(0);
    r.killAll('SIGTERM');
    await expect(pending).rejects.toThrow(/Interrupted/);
    // The grandchild went with its parent: it was in the process group bro signalled.
    const alive = () => {
      try {
        process.kill(grandchild, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive()).toBe(false);
  });
});

describe('the deadline', () => {
  it('stops a program (its whole group) that prints nothing for quietTimeoutMs, and says so with its last line', async () => {
    const lines: string[] = [];
    const error = await runner()
      .run({
        argv: [
          'node',
          '-e',
          'console.log("pushing layer", require("child_process").spawn("sleep",["30"],{stdio:"ignore"}).pid); setTimeout(()=>{}, 30000)',
        ],
        mode: 'write',
        onLine: (line) => lines.push(line),
        quietTimeoutMs: 300,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SubprocessError);
    expect((error as SubprocessError).reason).toBe('timeout');
    expect((error as SubprocessError).message).toMatch(
      /^node -e .* printed nothing for 0\.\d seconds, so bro stopped it \(after \d\.\d seconds in all\); its last line: pushing layer \d+$/,
    );
    const grandchild = Number(lines[0]!.split(' ').pop());
    await until(() => !alive(grandchild));
  });

  it('output resets the clock: a program that keeps talking is not stopped', async () => {
    const { stdout } = await runner().run({
      argv: ['node', '-e', 'let n=0; const t=setInterval(()=>{console.log(n++); if(n===30){clearInterval(t)}}, 50)'],
      mode: 'read',
      quietTimeoutMs: 1_000,
    });
    expect(stdout.split('\n')).toHaveLength(30);
  });
});

describe('redaction', () => {
  it('removes credentials from URLs', () => {
    expect(redactUrlCredentials('fatal: https://user:tok@github.com/x.git and ssh://git@host/y')).toBe(
      'fatal: https://***@github.com/x.git and ssh://***@host/y',
    );
  });

  it('redacts the longest secret first and every JSON string', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdefgh');
    expect(r.redact('x abcdefgh y abcd')).toBe('x *** y ***');
    expect(r.redactValue({ a: ['abcd'], b: { c: 'abcdefgh!' } })).toEqual({ a: ['***'], b: { c: '***!' } });
  });
});

describe('redacting values', () => {
  it('finds a secret with quotes and backslashes inside a nested value', () => {
    const r = new Redactor();
    r.add('pa"ss\\word&<x>');
    const shown = r.redactValue({ auths: [{ password: 'pa"ss\\word&<x>', note: 'uses pa"ss\\word&<x> here' }] });
    expect(shown).toEqual({ auths: [{ password: '***', note: 'uses *** here' }] });
    expect(JSON.stringify(shown)).not.toContain('ss\\\\word');
  });
});
