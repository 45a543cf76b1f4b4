// The SIMD levels this CPU can run, lowest first, for running every variant on the same inputs.
import { backend, type SimdLevel } from '../../lib/index.js';

const ORDER: SimdLevel[] = ['scalar', 'avx2', 'avx512'];

export function supportedLevels(): SimdLevel[] {
  return ORDER.slice(0, ORDER.indexOf(backend().simdBest) + 1);
}
