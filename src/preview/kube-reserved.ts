/**
 * kubeReserved as the Amazon Linux EKS AMI's bootstrap.sh computes it, and
 * as our pluto generators `kube-reserved-cpu` and `kube-reserved-memory`
 * (patches/bottlerocket/1.0.4) compute it at boot.
 */

/** Tenths of a millicore reserved for each core: 6% of the first, 1% of the second, 0.5% of the 3rd and 4th, 0.25% of each beyond. */
function tenthsOfMillicoresForCore(core: number): number {
  if (core === 1) return 600;
  if (core === 2) return 100;
  if (core <= 4) return 50;
  return 25;
}

/** Millicores, rounded down. */
export function kubeReservedCpuMillicores(cores: number): number {
  if (!Number.isInteger(cores) || cores < 0) throw new RangeError(`cores must be a non-negative integer, got ${cores}`);
  let tenths = 0;
  for (let core = 1; core <= cores; core++) tenths += tenthsOfMillicoresForCore(core);
  return Math.floor(tenths / 10);
}

/** Mebibytes: 11 per pod plus 255. */
export function kubeReservedMemoryMebibytes(maxPods: number): number {
  if (!Number.isInteger(maxPods) || maxPods < 0)
    throw new RangeError(`maxPods must be a non-negative integer, got ${maxPods}`);
  return 11 * maxPods + 255;
}
