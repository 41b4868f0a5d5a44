export type { BuildContext, BuildOptions, CommonOptions } from './context.js';
export { amiName } from './naming.js';
export { buildStages, checkSelection, previewStages, runPipeline } from './pipeline.js';
export { formatPlan, makePlan, PLAN_NEEDS } from './plan.js';
export type { CheckResult } from './preflight/checks.js';
export { failedMustHaves, formatChecks, preflightError, preflightOf } from './preflight/preflight.js';
export { rendererFor } from './renderer.js';
export type { RendererChoice } from './renderer.js';
export { createStateStore, digestOf, readRecord, readRecords, recordKind, stepRecord, writeRecord } from './state.js';
export type { PublishContext } from './step.js';
export { AmisSchema } from './steps/ami-register.js';
export { defaultManifestPath, readManifest, recordChannels, recordRevoke, releaseTagsOf } from './steps/manifest.js';
export { channelRecords, recordedChannels, writeChannel } from './channels.js';
export {
  confirmPointer,
  forgetReleaseRegion,
  parameterNames,
  readPointer,
  recordedReleases,
  writePointer,
} from './steps/ssm-publish.js';
export type { Pointer, ReleaseRecord } from './steps/ssm-publish.js';
export type { Manifest } from './steps/manifest.js';
export { forEachRegion, regionSummary, throwIfAnyRegionFailed } from './steps/regions.js';
export type { RegionOutcome } from './steps/regions.js';
export { requireAws, requireOutputs } from './steps/requires.js';
export { describeRevoke, findForRevoke, leftAlone, revokeImage } from './steps/revoke.js';
export type { RevokeOutcome } from './steps/revoke.js';
export { droppedFromShare, launchPrincipals, readBuildTags, readGrants, writeGrants } from './steps/share.js';
