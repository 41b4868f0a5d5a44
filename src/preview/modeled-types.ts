import { decodeBase64 } from './base64.js';

/**
 * The input checks of the model's string types, with the messages the node's
 * API answers with. Upstream's at v1.0.4 (sources/models/src/modeled_types/)
 * for the types our user data uses, and those our patch series adds
 * (patches/bottlerocket/1.0.4: registry credentials, kubelet settings).
 * A type not listed here is only checked for being a string.
 *
 * Each validator returns the error message, or undefined when the value is valid.
 */
export type Validator = (value: string) => string | undefined;

/** The same, for modeled integer types (a Rust struct whose only field is `inner: i32`). */
export type IntegerValidator = (value: number) => string | undefined;

const pattern =
  (thing: string, regex: RegExp, shown = regex.source): Validator =>
  (v) =>
    regex.test(v) ? undefined : `${thing} must match '${shown}', given: ${v}`;

/** serde_plain's error for a string that names no variant of an enum. */
const oneOf =
  (field: string, variants: readonly string[], message?: (v: string) => string): Validator =>
  (v) =>
    variants.includes(v)
      ? undefined
      : (message?.(v) ??
        `Invalid input for field ${field}: unknown variant \`${v}\`, expected one of ${variants.map((x) => `\`${x}\``).join(', ')}`);

const LINE_TERMINATORS = /[\n\r\u000B\u000C\u0085\u2028\u2029]/;

/** Kubernetes quantities (KUBERNETES_QUANTITY in the patch): non-negative. */
const QUANTITY = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)((Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|([eE][+-]?[0-9]+))?$/;
const PERCENTAGE = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)%$/;
const REGISTRY_HOST =
  /^(?<host>[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)(:(?<port>[0-9]{1,5}))?$/;

const I64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;

/** kubelet's resource.ParseQuantity reads an exponent ("129e6") as an int64 and refuses the quantity when it does not fit; "E" and "Ei" alone are suffixes. */
const exponentFits = (v: string) => {
  const at = v.search(/[eE]/);
  const exponent = at < 0 ? '' : v.slice(at + 1);
  if (exponent === '' || exponent === 'i') return true;
  const n = BigInt(exponent);
  return n >= I64[0] && n <= I64[1];
};

const quantity: Validator = (v) =>
  pattern('Kubernetes quantity', QUANTITY)(v) ??
  (exponentFits(v)
    ? undefined
    : `Invalid Kubernetes quantity '${v}': kubelet reads its exponent as a 64-bit integer, and it does not fit`);

export const VALIDATORS: Record<string, Validator> = {
  SingleLineString: (v) =>
    LINE_TERMINATORS.test(v) ? "Can't create SingleLineString containing line terminator" : undefined,
  ValidBase64: (v) => {
    const decoded = decodeBase64(v);
    return decoded.ok ? undefined : `Invalid base64 input: ${decoded.reason}`;
  },
  Identifier: (v) =>
    /^[A-Za-z0-9-]*$/.test(v)
      ? undefined
      : `Identifiers may only contain ASCII alphanumerics plus hyphens, received '${v}'`,
  Ipv4Addr: (v) =>
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(v)
      ? undefined
      : 'invalid IPv4 address syntax',

  RegistryHost: (v) => {
    const invalid = (msg: string) => `Invalid container registry host '${v}': ${msg}`;
    // containerd 1.3's image references cannot name an IPv6 registry; containerd 1.6 refuses "]" in a quoted table key.
    if (v.startsWith('['))
      return invalid(
        'IPv6 addresses are not supported, because containerd 1.3 cannot pull images from a registry named by one; use a DNS name',
      );
    const match = REGISTRY_HOST.exec(v);
    if (!match) return invalid("must be a host name or IP address, optionally followed by ':port'");
    if ((match.groups?.host ?? '').length > 253) return invalid('host must be at most 253 characters');
    const port = match.groups?.port;
    if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535))
      return invalid('port must be between 1 and 65535');
    return undefined;
  },
  /** Never shows the value: it is usually a credential. */
  RegistryAuthValue: (v) => {
    const chars = [...v];
    const position = chars.findIndex((c) => /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(c));
    if (position < 0) return undefined;
    const codePoint = (chars[position] as string).codePointAt(0) as number;
    return `Registry credentials may not contain control characters or line separators; found U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} at character ${position}`;
  },
  KubernetesFeatureGateKey: pattern('Kubernetes feature gate', /^[A-Za-z][A-Za-z0-9]{0,127}$/),
  KubernetesQuantityValue: quantity,
  /** kubelet 1.18 refuses a zero quantity and ignores 0% and 100% (parseThresholdStatement, pkg/kubelet/eviction/helpers.go). */
  KubernetesThresholdValue: (v) => {
    if (!v.endsWith('%')) {
      const problem = quantity(v);
      if (problem) return problem;
      // The number before the suffix or exponent must have a non-zero digit.
      const number = /^[0-9.]*/.exec(v)?.[0] ?? '';
      return /[1-9]/.test(number)
        ? undefined
        : `Invalid Kubernetes eviction threshold '${v}': it must be greater than zero (kubelet refuses a zero threshold)`;
    }
    // The patch parses the number as an f32, as kubelet does.
    const percentage = Math.fround(Number.parseFloat(v.slice(0, -1)));
    return PERCENTAGE.test(v) && percentage > 0 && percentage < 100
      ? undefined
      : `Invalid Kubernetes threshold percentage value '${v}': it must be more than 0% and less than 100% (kubelet ignores 0% and 100%)`;
  },
  KubernetesEvictionHardKey: oneOf('Eviction Hard key', [
    'memory.available',
    'nodefs.available',
    'nodefs.inodesFree',
    'imagefs.available',
    'imagefs.inodesFree',
    'pid.available',
  ]),
  KubernetesReservedResourceKey: oneOf('Reserved sources key', ['cpu', 'memory', 'ephemeral-storage']),
  CpuManagerPolicy: oneOf('', ['static', 'none'], (v) => `Invalid Cpu Manager policy '${v}'`),
  TopologyManagerPolicy: oneOf(
    '',
    ['none', 'restricted', 'best-effort', 'single-numa-node'],
    (v) => `Invalid topology manager policy '${v}'`,
  ),
};

/** Modeled integer types, by Rust name. */
export const INTEGER_VALIDATORS: Record<string, IntegerValidator> = {
  /** kubelet 1.18 refuses to start otherwise: "invalid MaxFiles %d, must be > 1" (pkg/kubelet/logs/container_log_manager.go). */
  KubernetesContainerLogMaxFiles: (v) =>
    v >= 2 ? undefined : `Invalid container-log-max-files ${v}: kubelet requires at least 2`,
};
