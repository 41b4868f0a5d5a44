/**
 * The build's steps, in order: the names --from and --only take. The CLI
 * reads this list without loading the pipeline; a test checks the pipeline
 * runs exactly these.
 */
export const STEP_IDS = [
  'resolve',
  'sources',
  'patch',
  'verify',
  'render',
  'admin-image-build',
  'admin-image-push',
  'os-build',
  'ami-register',
  'share',
  'ami-deprecate',
  'ssm-publish',
  'manifest',
] as const;

export type StepId = (typeof STEP_IDS)[number];
