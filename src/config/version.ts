import { UsageError } from '../shared/errors.js';

/**
 * `--version <upstream>-<build>`, e.g. `1.0.4-hc1`: the upstream release the
 * build is based on and this team's build suffix.
 */
export interface BuildVersion {
  /** `1.0.4`: must equal `version` in upstream's Release.toml at the tag. */
  upstream: string;
  /** `hc1`: passed as BUILDSYS_VERSION_BUILD, so it lands in the AMI name. */
  build: string;
  /** `v1.0.4`: the upstream git tag. */
  tag: string;
  /** `1.0.4-hc1` */
  full: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)-([A-Za-z0-9][A-Za-z0-9._]{0,31})$/;

export function parseVersion(text: string): BuildVersion {
  const match = VERSION_RE.exec(text);
  const suffix = /^v?\d+\.\d+\.\d+-(.*)$/.exec(text)?.[1];
  if (!match && suffix !== undefined && suffix.length > 32 && /^[A-Za-z0-9][A-Za-z0-9._]*$/.test(suffix)) {
    throw new UsageError(
      `Invalid --version "${text}": the build part "${suffix}" is ${suffix.length} characters; at most 32`,
      {
        hint: 'It becomes part of the AMI name and the admin image tag: use a shorter suffix, e.g. hc1.',
      },
    );
  }
  if (match && /[A-Z]/.test(match[4] ?? '')) {
    const lower = `${text.replace(/-.*$/, '')}-${(match[4] ?? '').toLowerCase()}`;
    throw new UsageError(`Invalid --version "${text}": the build part must be lowercase`, {
      hint: `Use --version ${lower}. AMI names and image tags are case-sensitive, so ${text} and ${lower} would be two builds whose names differ only in case; bro refuses rather than picking one for you.`,
    });
  }
  if (!match) {
    throw new UsageError(`Invalid --version "${text}": expected <upstream>-<build>, e.g. 1.0.4-hc1`, {
      hint: 'The upstream part is a Bottlerocket release (X.Y.Z); the build part is lowercase letters, digits, "." or "_" (no "-").',
    });
  }
  const [, major, minor, patch, build = ''] = match;
  const upstream = `${Number(major)}.${Number(minor)}.${Number(patch)}`;
  return { upstream, build, tag: `v${upstream}`, full: `${upstream}-${build}` };
}

/** Orders X.Y.Z strings numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map(Number);
  const pb = b.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isReleaseVersion(text: string): boolean {
  return /^v?\d+\.\d+\.\d+$/.test(text);
}
