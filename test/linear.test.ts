// Linear int8 quantization: the seeds' worked example, every SIMD variant against an independent float64
// reference on seeded random data of odd sizes, and round-trip bounds.
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  dequantizeAbsmaxSync,
  dequantizeZeroPointSync,
  quantizeAbsmax,
  quantizeAbsmaxSync,
  quantizeZeroPoint,
  quantizeZeroPointSync,
  dequantizeAbsmax,
  dequantizeZeroPoint,
  setSimd,
} from '../lib/index.js';
import { groupRanges, refDequantize, refParams, refQuantize, groupOf } from './helpers/linear-reference.js';
import { randomFloats, rng } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const info = backend();
const levels = supportedLevels();
afterAll(() => setSimd(info.simd));

// Sizes that straddle vector widths and the driver's 64 Ki piece size.
const SIZES = [1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 255, 1023, 4097, 65537, 200_003];

interface Case {
  label: string;
  shape: number[];
  axis?: number;
  blockSize?: number;
  channels: number;
  inner: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of SIZES) out.push({ label: `tensor n=${n}`, shape: [n], channels: 1, inner: n });
  for (const [r, c] of [[1, 1], [3, 5], [7, 33], [64, 65], [129, 17], [2, 70_001]] as const) {
    out.push({ label: `rows ${r}x${c}`, shape: [r, c], axis: 0, channels: r, inner: c });
    out.push({ label: `cols ${r}x${c}`, shape: [r, c], axis: 1, channels: c, inner: 1 });
    out.push({ label: `cols(-1) ${r}x${c}`, shape: [r, c], axis: -1, channels: c, inner: 1 });
  }
  out.push({ label: 'middle axis 3x5x7', shape: [3, 5, 7], axis: 1, channels: 5, inner: 7 });
  for (const [len, bs] of [[16, 16], [64, 32], [4096, 64], [1_048_576, 128], [96, 48], [5 * 1000, 1000]] as const) {
    out.push({ label: `block ${len}/${bs}`, shape: [len], blockSize: bs, channels: len / bs, inner: bs });
  }
  return out;
}

// Data with a per-element spread and occasional outliers, so groups have different ranges.
function data(n: number, seed: number): Float32Array {
  const x = randomFloats(n, seed, 3);
  const next = rng(seed + 7);
  for (let i = 0; i < n; i++) if (next() < 0.01) x[i] = x[i]! * 40;
  return x;
}

function checkAgainstReference(
  scheme: 'absmax' | 'zeroPoint',
  dtype: 'int8' | 'uint8',
  c: Case,
  x: Float32Array,
  values: Int8Array | Uint8Array,
  scales: Float32Array | number[],
  zeroPoints: Int32Array | number[] | undefined,
  decoded: Float32Array,
): void {
  const [qmin, qmax] = scheme === 'absmax' ? [-127, 127] : dtype === 'int8' ? [-128, 127] : [0, 255];
  const { mins, maxs } = groupRanges(x, c.channels, c.inner);
  const params = mins.map((lo, g) => refParams(scheme, qmin, qmax, lo, maxs[g]!));
  params.forEach((p, g) => {
    expect(scales[g], `${c.label} scale[${g}]`).toBe(p.scale);
    if (zeroPoints) expect(zeroPoints[g], `${c.label} zeroPoint[${g}]`).toBe(p.zeroPoint);
  });
  let mismatches = 0;
  let firstBad = -1;
  for (let i = 0; i < x.length; i++) {
    const p = params[groupOf(i, c.channels, c.inner)]!;
    const q = refQuantize(x[i]!, p, qmin, qmax);
    if (values[i] !== q || decoded[i] !== refDequantize(q, p)) {
      mismatches++;
      if (firstBad < 0) firstBad = i;
    }
  }
  expect(mismatches, `${c.label}: first mismatch at ${firstBad}`).toBe(0);
}

describe('the seeds worked example (zero-point to int8)', () => {
  const w = Float32Array.from([-24.43, -17.4, 1.2345, 12.654]);

  it('gives scale 6.8763, zero point 40 and codes [-128, -80, 48, 127]', () => {
    const q = quantizeZeroPointSync(w);
    expect(q.scale).toBeCloseTo(6.8763, 4);
    expect(q.zeroPoint).toBe(40);
    expect(Array.from(q.values)).toEqual([-128, -80, 48, 127]);
    expect(q.values).toBeInstanceOf(Int8Array);
    expect(q.granularity).toBe('tensor');
  });

  it('dequantizes the first value to -24.4317', () => {
    const q = quantizeZeroPointSync(w);
    const x = dequantizeZeroPointSync(q);
    // (q − z) / s = −168 / s. The seeds print −24.4317 from the rounded s = 6.8763; the unrounded f32
    // scale 6.876281 gives −24.43181, which is what is stored.
    expect(x[0]).toBe(Math.fround(-168 / q.scale!));
    expect(x[0]).toBeCloseTo(-24.4317, 3);
    expect(x[0]).toBeCloseTo(-168 / 6.8763, 3);
  });
});

describe.each(levels)('SIMD level %s matches the float64 reference', (level) => {
  it.each(cases())('absmax $label', (c) => {
    setSimd(level);
    const x = data(c.shape.reduce((a, b) => a * b, 1), 1000 + c.inner + c.channels);
    const q = quantizeAbsmaxSync(x, { shape: c.shape, axis: c.axis, blockSize: c.blockSize });
    const scales = q.scales ?? [q.scale!];
    expect(scales.length).toBe(c.channels);
    checkAgainstReference('absmax', 'int8', c, x, q.values, scales, undefined, dequantizeAbsmaxSync(q));
  });

  it.each(cases())('zero-point int8 and uint8 $label', (c) => {
    setSimd(level);
    const x = data(c.shape.reduce((a, b) => a * b, 1), 2000 + c.inner * 3 + c.channels);
    for (const dtype of ['int8', 'uint8'] as const) {
      const q = quantizeZeroPointSync(x, { shape: c.shape, axis: c.axis, blockSize: c.blockSize, dtype });
      expect(q.values).toBeInstanceOf(dtype === 'int8' ? Int8Array : Uint8Array);
      const scales = q.scales ?? [q.scale!];
      const zeroPoints = q.zeroPoints ?? [q.zeroPoint!];
      checkAgainstReference('zeroPoint', dtype, c, x, q.values, scales, zeroPoints, dequantizeZeroPointSync(q));
    }
  });
});

describe('edge values', () => {
  it.each(levels)('ties, saturation, all-zero and constant groups (%s)', (level) => {
    setSimd(level);
    // absmax 127 gives scale 1 exactly, so x.5 values are ties that must round to even.
    const ties = Float32Array.from([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 3.5, 0, -127]);
    expect(Array.from(quantizeAbsmaxSync(ties).values)).toEqual([127, 0, 2, 2, 0, -2, -2, 126, -126, 4, 0, -127]);
    const zerosBlock = new Float32Array(64);
    const z = quantizeAbsmaxSync(zerosBlock, { blockSize: 32 });
    expect(Array.from(z.scales!)).toEqual([1, 1]);
    expect(z.values.every((v) => v === 0)).toBe(true);
    const constant = new Float32Array(40).fill(-3.25);
    const zp = quantizeZeroPointSync(constant, { dtype: 'uint8' });
    expect(Array.from(dequantizeZeroPointSync(zp)).every((v) => Math.abs(v + 3.25) <= 0.5 / zp.scale!)).toBe(true);
    // Tiny ranges clamp the scale to FLT_MAX instead of overflowing to Infinity.
    const tiny = Float32Array.from([1e-45, -1e-45, 0]);
    const t = quantizeAbsmaxSync(tiny);
    expect(Number.isFinite(t.scale)).toBe(true);
  });
});

describe('round trip', () => {
  it('error per element is at most half a step (absmax and zero-point, every granularity)', () => {
    for (const c of cases()) {
      const x = data(c.shape.reduce((a, b) => a * b, 1), 3000 + c.inner);
      const opts = { shape: c.shape, axis: c.axis, blockSize: c.blockSize };
      const a = quantizeAbsmaxSync(x, opts);
      const za = quantizeZeroPointSync(x, opts);
      const da = dequantizeAbsmaxSync(a);
      const dz = dequantizeZeroPointSync(za);
      for (let i = 0; i < x.length; i += Math.max(1, Math.floor(x.length / 5000))) {
        const g = groupOf(i, c.channels, c.inner);
        const sa = a.scales ? a.scales[g]! : a.scale!;
        const sz = za.scales ? za.scales[g]! : za.scale!;
        // Half a step, plus the f32 roundings of x·s, the shift and the division (a few ulps of x).
        const slack = 4 * Math.abs(x[i]!) * 2 ** -23 + 1e-30;
        expect(Math.abs(da[i]! - x[i]!), `${c.label} absmax i=${i}`).toBeLessThanOrEqual(0.5 / sa + slack);
        expect(Math.abs(dz[i]! - x[i]!), `${c.label} zero-point i=${i}`).toBeLessThanOrEqual(0.5 / sz + slack);
      }
    }
  });
});

describe('async twins', () => {
  it('give the same results as the Sync functions', async () => {
    const x = data(100_032, 42);
    const a = await quantizeAbsmax(x, { blockSize: 64 });
    const b = quantizeAbsmaxSync(x, { blockSize: 64 });
    expect(a.values).toEqual(b.values);
    expect(a.scales).toEqual(b.scales);
    expect(await dequantizeAbsmax(a)).toEqual(dequantizeAbsmaxSync(b));
    const z = await quantizeZeroPoint(x, { shape: [96, 1042], axis: 0, dtype: 'uint8' });
    const zs = quantizeZeroPointSync(x, { shape: [96, 1042], axis: 0, dtype: 'uint8' });
    expect(z.values).toEqual(zs.values);
    expect(z.zeroPoints).toEqual(zs.zeroPoints);
    expect(await dequantizeZeroPoint(z)).toEqual(dequantizeZeroPointSync(zs));
  });

  it('leave the event loop free while a large op runs', async () => {
    const x = data(1 << 25, 7); // 128 MiB: the op takes long enough to span many 1 ms timer ticks
    let settled = false;
    let ticksWhileRunning = 0;
    const timer = setInterval(() => {
      if (!settled) ticksWhileRunning++;
    }, 1);
    const q = await quantizeAbsmax(x, { blockSize: 64 }).finally(() => {
      settled = true;
    });
    clearInterval(timer);
    expect(q.values.length).toBe(x.length);
    // A blocking call could not let a single tick through before it returned.
    expect(ticksWhileRunning).toBeGreaterThan(0);
  });
});
