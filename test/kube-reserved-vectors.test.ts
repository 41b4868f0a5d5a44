import { describe, expect, it } from 'vitest';
import { kubeReservedCpuMillicores, kubeReservedMemoryMebibytes } from '../src/preview/kube-reserved.js';
import { readPatch, rustNumberPairs } from './helpers/preview-fixtures.js';

/**
 * The same vectors as the Rust unit tests of our pluto patch
 * (patches/bottlerocket/1.0.4, "pluto: generate kubeReserved cpu and memory at boot"),
 * read out of the patch file, so the two implementations cannot drift apart.
 */
const patch = readPatch('pluto-generate-kubeReserved');

describe('kubeReserved formulas, with the Rust unit test vectors', () => {
  it('cpu: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% beyond, rounded down', () => {
    const vectors = rustNumberPairs(patch, 'KUBE_RESERVED_CPU_VECTORS');
    expect(vectors.length).toBeGreaterThanOrEqual(10);
    expect(vectors).toContainEqual([2, 70]);
    for (const [cores, millicores] of vectors)
      expect(kubeReservedCpuMillicores(cores), `${cores} cores`).toBe(millicores);
  });

  it('memory: 11 * maxPods + 255 Mi', () => {
    const vectors = rustNumberPairs(patch, 'KUBE_RESERVED_MEMORY_VECTORS');
    expect(vectors.length).toBeGreaterThanOrEqual(5);
    expect(vectors).toContainEqual([29, 574]);
    for (const [pods, mebibytes] of vectors) expect(kubeReservedMemoryMebibytes(pods), `${pods} pods`).toBe(mebibytes);
  });

  it('refuses what no node has', () => {
    expect(() => kubeReservedCpuMillicores(-1)).toThrow(RangeError);
    expect(() => kubeReservedMemoryMebibytes(1.5)).toThrow(RangeError);
  });
});
