import type { SourceName } from '../../config/series.js';
import type { HunkFuzz, HunkOffset } from './read-apply-output.js';

/**
 * What to do next with each patch, from its verdicts at the tags checked (the
 * newest tag decides, and the run of tags that ends there says since when)
 * and from the settings upstream's own models gained:
 *  - drop: upstreamed in vX, as it is or in another form (naming upstream's form and the mapping);
 *  - port: partly upstreamed: what upstream has not moves onto upstream's form;
 *  - rebase: moved, fuzz or 3way from vX: `bro patches rebase` handles it;
 *  - hand: conflicts (or its file is gone) from vX: needs a hand rebase;
 *  - first: blocked from vX by an earlier patch: that one first;
 *  - keep: applies as it is.
 */
export type AdviceKind = 'drop' | 'rebase' | 'port' | 'hand' | 'first' | 'keep';

export interface Advice {
  patch: string;
  kind: AdviceKind;
  /** The first tag of the run of tags that ends at the newest with this verdict. */
  since?: string;
  /** One sentence. */
  text: string;
  /** What the patch gives a node, each with upstream's form of it (when upstream has one). */
  parts?: Equivalent[];
}

/** Upstream's own form of something a patch gives a node, read from upstream's files at a tag. */
export interface UpstreamForm {
  /** The first tag that has it. */
  tag: string;
  /** Where and how, for people: "upstream's `Dockerfile` installs it". */
  what: string;
  /** The file that has it. */
  file?: string;
  /** The setting upstream has it under, when that is another key than ours. */
  key?: string;
  /** Each of our fields (or template variables) and upstream's name for it; null: upstream has none. */
  mapping?: { ours: string; upstream: string | null }[];
  /** What of ours upstream's form does not do. */
  lacks?: string;
  /** The admin container's user data that turns it on. */
  userData?: { key: string; value: string };
}

export type PartKind = 'setting' | 'rendered' | 'generated' | 'helper' | 'package' | 'sshd' | 'program';

export interface Equivalent {
  kind: PartKind;
  /** What the patch gives, as people name it: `settings.cri-registry-auths`, package `net-tools`. */
  ours: string;
  /** Absent: upstream has nothing for it at any tag checked. */
  upstream?: UpstreamForm;
}

export interface Target {
  tag: string;
  commit: string;
}

/**
 * The result of `bro patches check`: for each upstream tag, one status per
 * patch. Printed as a matrix for people and, with --json, as this versioned
 * document for machines (a nightly job, a dashboard).
 */
export const CHECK_SCHEMA_VERSION = 2;

/** `replaced`: upstreamed in another form (upstream's own setting, template, package…): every part of the patch is upstream's now. Added in schema 2. */
export const PATCH_STATUSES = [
  'clean',
  'offset',
  'fuzz',
  '3way',
  'conflict',
  'moved',
  'missing',
  'upstreamed',
  'replaced',
  'blocked',
] as const;
export type PatchStatus = (typeof PATCH_STATUSES)[number];

/** The statuses that need no work: the series applies as it is. */
export const PASSING: ReadonlySet<PatchStatus> = new Set(['clean', 'offset']);

export interface Conflict {
  file: string;
  /** Which hunk of the file failed, 1-based, and how many the file has. */
  hunk: number;
  hunks: number;
  /** The line the hunk was written for. */
  line: number;
  /** The lines the hunk expects there (context and removed lines). */
  expected: string[];
  /** What upstream has now where the hunk fits best; null when the file is not there. */
  found: { line: number; lines: string[] } | null;
  /** Set when git could not even tell which hunk failed (a file the patch creates already exists…). */
  reason?: string;
}

export interface PatchResult {
  patch: string;
  status: PatchStatus;
  /** offset, fuzz (and moved): hunks that applied at other lines. */
  offsets?: HunkOffset[];
  /**
   * fuzz (and moved): hunks that applied only with less context. A fuzz with
   * none listed applied with all its context, but not where it must: a hunk
   * written against the start or end of a file that upstream has since extended.
   */
  fuzz?: HunkFuzz[];
  /** moved (and a conflict at a moved path): files upstream renamed since the base. */
  moves?: { from: string; to: string }[];
  /** moved: how the patch applies at the new path. */
  via?: 'clean' | 'offset' | 'fuzz' | '3way';
  conflicts?: Conflict[];
  /** missing (and blocked): files the patch changes that the tag does not have. */
  missing?: string[];
  /** blocked: the earlier patches that failed on the same files. */
  blockedBy?: string[];
  /** upstreamed: the upstream commit the patch backports (its Upstream-Status), which the tag's history has. */
  backport?: string;
  /** replaced: the verdict of applying it, which upstream's own form makes moot. */
  applies?: PatchStatus;
}

export interface TagResult {
  tag: string;
  commit: string;
  /** Every patch clean or offset. */
  ok: boolean;
  patches: PatchResult[];
}

export interface CheckReport {
  schemaVersion: typeof CHECK_SCHEMA_VERSION;
  kind: 'bro.patches.check';
  source: SourceName;
  url: string;
  series: { base: string; baseCommit: string; digest: string; patches: string[] };
  tags: TagResult[];
  ok: boolean;
  warnings: string[];
  /**
   * What to do next with each patch, in series order.
   */
  advice?: Advice[];
  /** The newest release the team can move to, and what `bro upgrade` would do with each patch there. Added in schema 2. */
  forward?: WayForward;
}

/** What `bro upgrade` would do with a patch at the target tag. */
export type UpgradeAction = 'drop' | 'keep' | 'rebase' | 'port' | 'stop';

export interface WayForward {
  /** The newest tag checked that the variant (bottlerocket) is still in; for the admin container, the version that tag defaults to. */
  tag: string;
  /** The variant the project builds (bottlerocket). */
  variant?: string;
  /** When the variant leaves upstream within the tags checked: the first tag without it, and the variant of its family that follows it there. */
  leaves?: { tag: string; successor?: string };
  /** The admin container version upstream's models default to at `tag` (bottlerocket). */
  adminVersion?: string;
  /** The admin container: the Bottlerocket release that defaults to `tag`. */
  defaultOf?: string;
  /** The command that does it. */
  command: string;
  /** How many patches the series would carry at `tag`. */
  carries: number;
  patches: { patch: string; action: UpgradeAction; why: string }[];
}

export const tagOk = (patches: readonly PatchResult[]) => patches.every((p) => PASSING.has(p.status));
