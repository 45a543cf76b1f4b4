// f32 <-> f16 / bf16 conversions: every SIMD level against an independent float64 reference, on all
// 65536 half patterns, on f32 patterns near every f16 boundary, and on random values.
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  fromBFloat16,
  fromBFloat16Sync,
  fromFloat16Sync,
  setSimd,
  toBFloat16Sync,
  toFloat16,
  toFloat16Sync,
} from '../lib/index.js';
import { f32FromBits, refF16ToF32, refToBF16, refToF16 } from './helpers/half-reference.js';
import { rng } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const info = backend();
const levels = supportedLevels();
afterAll(() => setSimd(info.simd));

const allHalf = Uint16Array.from({ length: 65536 }, (_, i) => i);

// f32 inputs: every exponent, mantissas around the rounding points of f16 and bf16, specials, and random bits.
function f32Inputs(): Float32Array {
  const values: number[] = [0, -0, Infinity, -Infinity, NaN, 65504, 65519.996, 65520, -65520, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1e-45, 3.4028234663852886e38];
  for (let exp = 0; exp < 256; exp++) {
    for (const low of [0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x7fff, 0x8000, 0x8001, 0xffff, 0x7fffff, 0x3fe000, 0x401000]) {
      for (const sign of [0, 0x80000000]) values.push(f32FromBits(sign | (exp << 23) | low));
    }
  }
  const next = rng(99);
  for (let i = 0; i < 200_000; i++) values.push(f32FromBits(Math.floor(next() * 2 ** 32)));
  return Float32Array.from(values);
}

const inputs = f32Inputs();

function bitsMatch(got: number, want: number): boolean {
  if (want === -1) return ((got & 0x7c00) === 0x7c00 && (got & 0x3ff) !== 0) || ((got & 0x7f80) === 0x7f80 && (got & 0x7f) !== 0);
  return got === want;
}

describe.each(levels)('SIMD level %s', (level) => {
  it('f16 -> f32 is exact for all 65536 patterns', () => {
    setSimd(level);
    const out = fromFloat16Sync(allHalf);
    for (let h = 0; h < 65536; h++) {
      const want = refF16ToF32(h);
      if (Number.isNaN(want)) expect(Number.isNaN(out[h]), `h=${h}`).toBe(true);
      else expect(Object.is(out[h], want), `h=0x${h.toString(16)}`).toBe(true);
    }
  });

  it('f32 -> f16 rounds to nearest even (subnormals, overflow, NaN)', () => {
    setSimd(level);
    const out = toFloat16Sync(inputs);
    let bad = 0;
    for (let i = 0; i < inputs.length; i++) if (!bitsMatch(out[i]!, refToF16(inputs[i]!))) bad++;
    expect(bad).toBe(0);
    // NaN stays NaN and keeps its sign.
    expect(toFloat16Sync(Float32Array.from([NaN, -NaN]))[0]! & 0x7e00).toBe(0x7e00);
  });

  it('bf16 <-> f32 round to nearest even and widen exactly', () => {
    setSimd(level);
    const out = toBFloat16Sync(inputs);
    let bad = 0;
    for (let i = 0; i < inputs.length; i++) if (!bitsMatch(out[i]!, refToBF16(inputs[i]!))) bad++;
    expect(bad).toBe(0);
    const wide = fromBFloat16Sync(allHalf);
    for (let b = 0; b < 65536; b++) {
      const want = f32FromBits(b << 16);
      if (Number.isNaN(want)) expect(Number.isNaN(wide[b])).toBe(true);
      else expect(Object.is(wide[b], want), `b=0x${b.toString(16)}`).toBe(true);
    }
  });

  it('every f16 value survives f16 -> f32 -> f16', () => {
    setSimd(level);
    const back = toFloat16Sync(fromFloat16Sync(allHalf));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) expect((back[h]! & 0x7c00) === 0x7c00 && (back[h]! & 0x3ff) !== 0).toBe(true);
      else expect(back[h], `h=0x${h.toString(16)}`).toBe(h);
    }
  });
});

describe('async conversions', () => {
  it('match the Sync twins', async () => {
    expect(await toFloat16(inputs)).toEqual(toFloat16Sync(inputs));
    expect(await fromBFloat16(allHalf)).toEqual(fromBFloat16Sync(allHalf));
  });
});
