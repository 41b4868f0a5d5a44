export type { BuildContext, BuildOptions, CommonOptions } from './context.js';
export { amiName, amisJsonPath } from './naming.js';
export { buildStages, checkSelection, previewStages, runPipeline } from './pipeline.js';
export { formatPlan, makePlan, PLAN_NEEDS } from './plan.js';
export type { CheckResult } from './preflight/checks.js';
export { failedMustHaves, formatChecks, preflightError, preflightOf } from './preflight/preflight.js';
export { chooseRenderer } from './renderer.js';
export type { RendererChoice } from './renderer.js';
export { createStateStore, digestOf, stepRecord } from './state.js';
export type { PublishContext, RegisteredAmi } from './step.js';
export { AmisSchema, readAmisJson } from './steps/ami-register.js';
export { defaultManifestPath, readManifest, recordChannels, recordRevoke, releaseTagsOf } from './steps/manifest.js';
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
export type { Manifest } from './steps/manifest.js';
export { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './steps/regions.js';
export type { RegionOutcome } from './steps/regions.js';
export { requireAws, requireOutputs } from './steps/requires.js';
export { resolveStep } from './steps/resolve.js';
export { describeRevoke, findForRevoke, leftAlone, revokeImage } from './steps/revoke.js';
export type { RevokeOutcome } from './steps/revoke.js';
export { droppedFromShare, launchPrincipals, readBuildTags, readGrants, writeGrants } from './steps/share.js';
export { sourcesStep } from './steps/sources.js';
export { verifyStep } from './steps/verify.js';
