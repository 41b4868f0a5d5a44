import type { StepTask } from '../step.js';

/**
 * The progress line of a long command (cargo make: an hour): its latest output
 * line after the time it has run, and, once a build has finished in this
 * workspace, how that compares with the previous build's duration (recorded in
 * the state file).
 */

/** 75_000 → "1:15"; 3_723_000 → "1:02:03". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

export function progressLine(elapsedMs: number, previousMs: number | undefined, line: string): string {
  const elapsed = formatDuration(elapsedMs);
  const clock =
    previousMs === undefined
      ? `${elapsed} elapsed`
      : elapsedMs <= previousMs
        ? `${elapsed} elapsed, about ${formatDuration(previousMs - elapsedMs)} left (the last build took ${formatDuration(previousMs)})`
        : `${elapsed} elapsed, longer than the last build (${formatDuration(previousMs)})`;
  return line ? `${clock} · ${line}` : clock;
}

/**
 * Shows `progressLine` on the task: at each output line, and every second
 * between them, so the clock moves while the command is quiet. Call `stop()` when it ends.
 */
export function startClock(task: StepTask, previousMs: number | undefined, now: () => number = Date.now) {
  const started = now();
  let last = '';
  const show = () => {
    task.output = progressLine(now() - started, previousMs, last);
  };
  const timer = setInterval(show, 1000);
  timer.unref();
  show();
  return {
    line(text: string) {
      last = text;
      show();
    },
    stop: () => clearInterval(timer),
  };
}
