export type { BuildContext, BuildOptions, CommonOptions } from './context.js';
export { amiName, amisJsonPath } from './naming.js';
export { buildStages, checkSelection, previewStages, runPipeline } from './pipeline.js';
export { formatPlan, makePlan, PLAN_NEEDS } from './plan.js';
export type { CheckResult } from './preflight/checks.js';
export { failedMustHaves, formatChecks, preflightError, preflightOf } from './preflight/preflight.js';
export { chooseRenderer } from './renderer.js';
export type { RendererChoice } from './renderer.js';
export { createStateStore } from './state.js';
export type { PublishContext, RegisteredAmi } from './step.js';
export { AmisSchema, readAmisJson } from './steps/ami-register.js';
export { defaultManifestPath, readManifest, recordRevoke } from './steps/manifest.js';
export type { Manifest } from './steps/manifest.js';
export { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './steps/regions.js';
export { requireAws, requireOutputs } from './steps/requires.js';
export {
  checkForRevoke,
  describeRevoke,
  droppedFromShare,
  readGrants,
  revokeImage,
  writeGrants,
} from './steps/share.js';
