import { describe, expect, it, vi } from 'vitest';
import { formatDuration, progressLine, startClock } from '../src/build/steps/elapsed.js';
import { buildWorld } from './helpers/build-world.js';

describe('the cargo make progress line', () => {
  it('shows the elapsed time, and against the previous build how long is left or that it runs longer', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75_000)).toBe('1:15');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(progressLine(75_000, undefined, 'Compiling kernel')).toBe('1:15 elapsed · Compiling kernel');
    expect(progressLine(20 * 60_000, 58 * 60_000, 'Compiling kernel')).toBe(
      '20:00 elapsed, about 38:00 left (the last build took 58:00) · Compiling kernel',
    );
    expect(progressLine(61 * 60_000, 58 * 60_000, '')).toBe('1:01:00 elapsed, longer than the last build (58:00)');
  });

  it('moves with the clock between output lines, and stops', () => {
    vi.useFakeTimers();
    try {
      let now = 1_000;
      const task = { title: 'OS image: build', output: '' };
      const clock = startClock(task, 10_000, () => now);
      expect(task.output).toBe('0:00 elapsed, about 0:10 left (the last build took 0:10)');
      now += 4_000;
      clock.line('Compiling package-1');
      expect(task.output).toBe('0:04 elapsed, about 0:06 left (the last build took 0:10) · Compiling package-1');
      // No new line for a second: the clock moves on its own.
      now += 1_000;
      vi.advanceTimersByTime(1_000);
      expect(task.output).toBe('0:05 elapsed, about 0:05 left (the last build took 0:10) · Compiling package-1');
      clock.stop();
      // Stopped: the line stays as it was, and no timer is left to keep the process alive.
      now += 3_000;
      vi.advanceTimersByTime(3_000);
      expect(task.output).toBe('0:05 elapsed, about 0:05 left (the last build took 0:10) · Compiling package-1');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a build estimates from the previous build recorded in the state file', async () => {
    const w = buildWorld();
    try {
      const first = await w.build();
      expect(first.code).toBe(0);
      const line = (stderr: string) => stderr.split('\n').find((l) => /^\[OUTPUT\] .* elapsed/.test(l)) ?? '';
      expect(line(first.stderr)).toMatch(/\] \d+:\d\d elapsed/);
      expect(line(first.stderr)).not.toContain('last build');
      const again = await w.build(['--from', 'os-build']);
      expect(again.code).toBe(0);
      expect(line(again.stderr)).toMatch(
        /\] \d+:\d\d elapsed, (about \d+:\d\d left \(the last build took \d+:\d\d\)|longer than the last build \(\d+:\d\d\))/,
      );
    } finally {
      w.cleanup();
    }
  });
});
