// Independent f16/bf16 references: exact float64 arithmetic on the f32 value, round half to even.
import { rintHalfEven } from './linear-reference.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

export function refToF16(x: number): number {
  const sign = f32Bits(x) >>> 31 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(a)) return -1; // any NaN pattern: compared as a class
  if (a >= 65520) return sign | 0x7c00; // past the largest f16 (65504) by half an ulp or more
  if (a < 2 ** -14) return sign | rintHalfEven(a / 2 ** -24); // subnormal grid (may round up to 0x400)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = rintHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

export function refF16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function refToBF16(x: number): number {
  if (Number.isNaN(x)) return -1;
  const a = Math.abs(x);
  const sign = f32Bits(x) >>> 31 ? 0x8000 : 0;
  if (a === Infinity) return sign | 0x7f80;
  if (a === 0) return sign;
  // bf16 keeps 8 significant bits; the grid step at a's exponent (floored at the subnormal step 2^-133).
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const step = 2 ** Math.max(e - 7, -133);
  const rounded = rintHalfEven(a / step) * step;
  if (rounded >= 2 ** 128) return sign | 0x7f80;
  return (sign | (f32Bits(rounded) >>> 16)) & 0xffff;
}
