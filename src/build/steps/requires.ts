import type { Aws } from '../../adapters/aws.js';
import type { StepId } from '../../config/step-ids.js';
import type { BuildContext } from '../context.js';
import type { Needed, StepOutputs } from '../step.js';
import { StepError } from '../../shared/errors.js';

/** The outputs of the steps `needs` among those produced, or the steps that produced none. */
export function pickOutputs<N extends StepId>(
  produced: Partial<StepOutputs>,
  needs: readonly N[],
): { input: Needed<N>; missing?: undefined } | { missing: N[] } {
  const missing = needs.filter((id) => produced[id] === undefined);
  if (missing.length) return { missing };
  const input: Partial<Needed<N>> = {};
  for (const id of needs) copy(produced, input, id);
  return { input: input as Needed<N> };
}

const copy = <K extends StepId>(from: Partial<StepOutputs>, to: Partial<Pick<StepOutputs, K>>, id: K) => {
  to[id] = from[id];
};

/**
 * The one error for work that needs the result of steps that have not finished in this workspace
 * (--only): it names the first of them, the one to run first.
 */
export function needsError(who: string, missing: readonly StepId[]): StepError {
  const first = missing[0];
  return new StepError(who, `${who} needs the result of ${first}, which has not finished in this workspace`, {
    hint: `Run \`bro build\` (or \`bro build --only ${first}\`) first.`,
  });
}

/** The outputs of the steps `needs`, for work after the pipeline (the plan, the preview). */
export function requireOutputs<N extends StepId>(
  produced: Partial<StepOutputs>,
  needs: readonly N[],
  who: string,
): Needed<N> {
  const picked = pickOutputs(produced, needs);
  if (picked.missing) throw needsError(who, picked.missing);
  return picked.input;
}

/** One region's entry in an earlier step's per-region result. */
export function inRegion<T>(results: Record<string, T>, region: string, step: string, producer: StepId): T {
  const found = results[region];
  if (found === undefined) {
    throw new StepError(step, `${producer} recorded no result for ${region}`, {
      hint: `Rerun \`bro build --from ${producer}\`.`,
    });
  }
  return found;
}

export function requireAws(ctx: BuildContext): Aws {
  if (!ctx.adapters.aws) throw new Error('The AWS adapter was not created: the command must set adapters.aws');
  return ctx.adapters.aws;
}
