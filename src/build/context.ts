import type { Adapters } from '../adapters/index.js';
import type { Rollback } from '../adapters/rollback.js';
import type { SourceName } from '../config/series.js';
import type { Variant } from '../config/variant.js';
import type { BuildVersion } from '../config/version.js';
import type { StateStore } from './state.js';

export interface PinnedSource extends SourceRef {
  commit: string;
  mirror: string;
}

export interface SourceRef {
  name: SourceName;
  url: string;
  ref: string;
  /** Where the URL and the ref were set, for messages: `BRO_BOTTLEROCKET_URL`, `sources.bottlerocket.url in variants/x.toml`, `--version 1.0.4-hc1`. */
  urlFrom?: string;
  refFrom?: string;
}

/** Options every command that touches sources shares. */
export interface CommonOptions {
  projectDir: string;
  cacheDir: string;
  /** Where cacheDir was set, for messages: '--cache-dir', 'BRO_CACHE_DIR', 'XDG_CACHE_HOME' or 'default'. */
  cacheDirFrom?: string;
  /** Defaults to `<projectDir>/work/<variant>`. */
  workDir?: string;
  debug: boolean;
}

export interface BuildOptions extends CommonOptions {
  variant: string;
  version: string;
  dryRun: boolean;
  json: boolean;
  updateLock: boolean;
  keepFailed: boolean;
  /** Throw away local changes in the checkouts instead of refusing to run. */
  discardChanges?: boolean;
}

export interface ResolvedSource {
  name: SourceName;
  url: string;
  ref: string;
  commit: string;
  mirror: string;
  /** The workspace checkout. */
  dir: string;
}

export interface Workspace {
  root: string;
  bottlerocket: string;
  adminContainer: string;
  /** bro's own files (state, logs), beside the checkouts, never inside them. */
  broDir: string;
}

/**
 * The context that flows through the pipeline: what every step is given. What
 * steps produce does not go here: the pipeline hands each step the outputs of
 * the steps it needs (step.ts). Nothing is global.
 */
export interface BuildContext {
  options: BuildOptions;
  adapters: Adapters;
  variant: Variant;
  version: BuildVersion;
  workspace: Workspace;
  /** The workspace state file: what each step last did, with which inputs. */
  state: StateStore;
  /** Where a step registers the undo of its half-done work (the run's one rollback). */
  rollback: Rollback;
}

export const sourceDir = (workspace: Workspace, source: SourceName) =>
  source === 'bottlerocket' ? workspace.bottlerocket : workspace.adminContainer;
