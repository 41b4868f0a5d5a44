import { UsageError } from '../shared/errors.js';

/**
 * A channel (`--to stable`) is one part of a parameter path:
 * `<ssm-prefix>/<variant>/<arch>/<channel>/image_id`. It may not hold a `/`
 * (that would be a deeper path) nor look like a version (its parameters would
 * be that version's own).
 */
export function checkChannelName(channel: string): void {
  if (channel.includes('/'))
    throw new UsageError(`--to "${channel}": a channel name cannot contain "/"`, {
      hint: 'It becomes one part of the parameter path <ssm-prefix>/<variant>/<arch>/<channel>/image_id: use e.g. "stable" or "canary".',
    });
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(channel))
    throw new UsageError(`--to "${channel}": expected 1-64 letters, digits, ".", "_" or "-"`, {
      hint: 'SSM parameter paths allow only these characters; e.g. "stable".',
    });
  if (/^v?\d+\.\d+\.\d+-/.test(channel))
    throw new UsageError(`--to "${channel}": a channel cannot be named like a version`, {
      hint: 'Its parameters would be that version\'s own parameters. Use a name such as "stable".',
    });
}
