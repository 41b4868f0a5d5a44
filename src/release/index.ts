export { checkChannelName } from './channel-name.js';
export { promote, rollbackCommand } from './promote.js';
export type { RegionPromotion } from './promote.js';
export { checkKeep, formatPrunePlan, planPrune, prune } from './prune.js';
