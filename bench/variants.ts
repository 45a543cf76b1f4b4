// The ways one op can run here: each CPU SIMD level up to the best this CPU has, and CUDA when usable.
import { setSimd, type BackendInfo, type SimdLevel } from '../lib/index.js';
import type { BenchDevice } from './op.js';

export type Variant = SimdLevel | 'cuda';

const SIMD_ORDER: readonly SimdLevel[] = ['scalar', 'avx2', 'avx512'];

export function availableVariants(info: BackendInfo): Variant[] {
  const levels = SIMD_ORDER.slice(0, SIMD_ORDER.indexOf(info.simdBest) + 1);
  return info.cuda.available ? [...levels, 'cuda'] : levels;
}

// The SIMD level is process-wide, so it is switched per variant; the caller restores the original.
export function selectVariant(variant: Variant): BenchDevice {
  if (variant === 'cuda') return 'cuda';
  setSimd(variant);
  return 'cpu';
}
