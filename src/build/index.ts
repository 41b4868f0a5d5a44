export type { BuildContext, BuildOptions, CommonOptions } from './context.js';
export { amiName, amisJsonPath } from './naming.js';
export { buildStages, checkSelection, runPipeline } from './pipeline.js';
export { formatPlan, makePlan } from './plan.js';
export type { CheckResult } from './preflight/checks.js';
export { failedMustHaves, formatChecks, preflightError, preflightOf } from './preflight/preflight.js';
export { chooseRenderer } from './renderer.js';
export type { RendererChoice } from './renderer.js';
export { createStateStore } from './state.js';
export type { PublishContext, RegisteredAmi } from './step.js';
export { readAmisJson } from './steps/ami-register.js';
export { defaultManifestPath, readManifest, recordChannels, recordRevoke } from './steps/manifest.js';
export { readChannel, recordedChannels, writeChannel } from './channels.js';
export type { ChannelRecord } from './channels.js';
export {
  confirmPointer,
  parameterNames,
  readPointer,
  recordRelease,
  releaseId,
  writePointer,
} from './steps/ssm-publish.js';
export type { Pointer, ReleaseRecord } from './steps/ssm-publish.js';
export { digestOf, stepRecord } from './state.js';
export type { Manifest } from './steps/manifest.js';
export { patchStep } from './steps/patch.js';
export { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './steps/regions.js';
export type { RegionOutcome } from './steps/regions.js';
export { requireAws } from './steps/requires.js';
export { resolveStep } from './steps/resolve.js';
export {
  checkForRevoke,
  describeRevoke,
  droppedFromShare,
  launchPrincipals,
  readGrants,
  revokeImage,
  writeGrants,
} from './steps/share.js';
export { sourcesStep } from './steps/sources.js';
export { verifyStep } from './steps/verify.js';
