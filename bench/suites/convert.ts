// f32 <-> half-precision conversions through the public Sync API (output allocation included).
import { fromFloat16Sync, toBFloat16Sync, toFloat16Sync } from '../../lib/index.js';
import type { BenchOp } from '../op.js';

const F32 = 4;
const HALF = 2;

export const convertOps: readonly BenchOp[] = [
  {
    id: 'f32-to-f16',
    label: 'convert f32 -> f16',
    prepare: (src) => ({ bytes: src.length * (F32 + HALF), run: (device) => void toFloat16Sync(src, { device }) }),
  },
  {
    id: 'f16-to-f32',
    label: 'convert f16 -> f32',
    prepare(src) {
      const half = toFloat16Sync(src);
      return { bytes: src.length * (HALF + F32), run: (device) => void fromFloat16Sync(half, { device }) };
    },
  },
  {
    id: 'f32-to-bf16',
    label: 'convert f32 -> bf16',
    prepare: (src) => ({ bytes: src.length * (F32 + HALF), run: (device) => void toBFloat16Sync(src, { device }) }),
  },
];
