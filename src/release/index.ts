export { checkChannelName } from './channel-name.js';
export { formatPromotion, promote, rollbackCommand } from './promote.js';
export type { PromoteRequest, RegionPromotion } from './promote.js';
export { checkKeep, formatPrunePlan, planPrune, prune } from './prune.js';
export type { PruneItem, PruneRequest } from './prune.js';
