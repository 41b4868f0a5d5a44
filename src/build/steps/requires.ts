import type { Aws } from '../../adapters/aws.js';
import type { BuildContext } from '../context.js';
import { StepError } from '../../shared/errors.js';

/** An earlier step's output, or a clear error when that step has not finished in this workspace (--only). */
export function requireOutput<T>(value: T | undefined, step: string, producer: string): T {
  if (value === undefined) {
    throw new StepError(step, `${step} needs the result of ${producer}, which has not finished in this workspace`, {
      hint: `Run \`bro build\` (or \`bro build --only ${producer}\`) first.`,
    });
  }
  return value;
}

export function requireAws(ctx: BuildContext): Aws {
  if (!ctx.adapters.aws) throw new Error('The AWS adapter was not created: the command must set adapters.aws');
  return ctx.adapters.aws;
}
