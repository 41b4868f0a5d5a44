import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createRollback } from '../src/adapters/rollback.js';
import { createStateStore, stepRecord } from '../src/build/state.js';
import { BroError, formatError, RESTORED } from '../src/shared/errors.js';
import { scratchDirs } from './helpers/index.js';

// The run's one undo, and how a run that lost its workspace to another bro ends: failed, with nothing undone.

const dirs = scratchDirs();
afterAll(() => dirs.removeAll());

const runner = () => ({ killAll: vi.fn() });
const lostLock = () =>
  new BroError('Another bro took over the workspace lock while this one was stopped: this one stops here.', {
    hint: 'Nothing of this run was undone.',
  });

describe('rollback', () => {
  it('a failure runs the undos, newest first, and the error says what they restored', async () => {
    const rollback = createRollback();
    const done: string[] = [];
    rollback.add('first', async () => void done.push('first'));
    rollback.add('second', async () => void done.push('second'));
    const error = await rollback
      .run(runner(), () => Promise.reject(new BroError('the step failed')))
      .catch((e: unknown) => e);
    expect(done).toEqual(['second', 'first']);
    expect((error as { [RESTORED]?: string[] })[RESTORED]).toEqual(['second', 'first']);
  });

  it('abandoned: the children are stopped, the signal aborts, no undo runs, and the run fails with the reason', async () => {
    const rollback = createRollback();
    const undo = vi.fn(async () => undefined);
    rollback.add('bottlerocket/ reset to the pin', undo);
    const children = runner();
    const error = await rollback
      .run(children, async () => {
        rollback.abandon(lostLock());
        // The next step stops where every step checks the signal.
        rollback.signal.throwIfAborted();
      })
      .catch((e: unknown) => e);
    expect(children.killAll).toHaveBeenCalledWith('SIGTERM');
    expect(undo).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(BroError);
    expect((error as BroError).message).toContain('Another bro took over the workspace lock');
    expect((error as BroError).hint).toBe('Nothing of this run was undone.');
    // Its own reason is not its cause: --debug prints each error of the chain once, and ends.
    const debug = formatError(error, true);
    expect(debug.match(/Another bro took over/g)).toHaveLength(2);
  });

  it('abandoned while the work still finished (a step that checks no signal): the run fails all the same', async () => {
    const rollback = createRollback();
    const finished = vi.fn();
    const error = await rollback
      .run(runner(), async () => {
        rollback.abandon(lostLock());
        finished();
        return 'done';
      })
      .catch((e: unknown) => e);
    expect(finished).toHaveBeenCalled();
    expect(error).toBeInstanceOf(BroError);
    expect((error as BroError).message).toContain('Another bro took over the workspace lock');
  });

  it('a work that fails once its ground is lost (asked at the end) undoes nothing', async () => {
    const rollback = createRollback();
    const undo = vi.fn(async () => undefined);
    rollback.add('admin-container/ reset', undo);
    const error = await rollback
      .run(
        runner(),
        () => Promise.reject(new Error('git am was killed')),
        () => true,
      )
      .catch((e: unknown) => e);
    expect(undo).not.toHaveBeenCalled();
    expect((error as BroError).cause).toEqual(new Error('git am was killed'));
  });
});

describe('formatError --debug', () => {
  it('prints an error that is its own cause once, and ends', () => {
    const error = new BroError('a loop');
    Object.assign(error, { cause: error });
    expect(formatError(error, true).match(/BroError: a loop/g)).toHaveLength(1);
  });
});

describe('the state store of a run that lost its workspace', () => {
  it('writes nothing once `lost` says so', async () => {
    const broDir = dirs.make('bro-state-');
    let lost = false;
    const state = createStateStore(broDir, { lost: () => lost });
    await state.put('resolve', stepRecord('done', 'sha256:a', {}, new Date()));
    const before = readFileSync(join(broDir, 'state.json'), 'utf8');
    lost = true;
    await state.put('patch', stepRecord('interrupted', 'sha256:b', {}, new Date()));
    expect(readFileSync(join(broDir, 'state.json'), 'utf8')).toBe(before);
    expect(existsSync(join(broDir, 'state.json'))).toBe(true);
  });
});
