// f32 <-> half-precision conversion kernels through the native binding, outputs allocated once (see
// suites/linear.ts for why).
import { DeviceCode, HalfKind, native } from '../../lib/binding.js';
import { toFloat16Sync } from '../../lib/index.js';
import type { BenchDevice, BenchOp } from '../op.js';

const F32 = 4;
const HALF = 2;

const deviceCode = (device: BenchDevice) => (device === 'cuda' ? DeviceCode.cuda : DeviceCode.cpu);

function narrow(id: string, label: string, kind: HalfKind): BenchOp {
  return {
    id,
    label,
    prepare(src) {
      const out = new Uint16Array(src.length);
      return { bytes: src.length * (F32 + HALF), run: (device) => native.toHalf(src, out, kind, deviceCode(device), false) };
    },
  };
}

export const convertOps: readonly BenchOp[] = [
  narrow('f32-to-f16', 'convert f32 -> f16', HalfKind.f16),
  {
    id: 'f16-to-f32',
    label: 'convert f16 -> f32',
    prepare(src) {
      const half = toFloat16Sync(src);
      const out = new Float32Array(src.length);
      return { bytes: src.length * (HALF + F32), run: (device) => native.fromHalf(half, out, HalfKind.f16, deviceCode(device), false) };
    },
  },
  narrow('f32-to-bf16', 'convert f32 -> bf16', HalfKind.bf16),
];
