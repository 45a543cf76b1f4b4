// fakeQuantize: y is bit for bit the format's own dequantize(quantize(x)) for every format, Sync and async; the
// straight-through mask per format (all 1 where the range is the group's own; GPTQ's clamp where MSE clips).
import { describe, expect, it } from 'vitest';
import {
  FAKE_QUANT_FORMATS,
  GGML_QUANT_TYPES,
  dequantize4bitSync,
  dequantizeAbsmaxSync,
  dequantizeBlockwiseSync,
  dequantizeCodebookSync,
  dequantizeGGMLSync,
  dequantizeTernarySync,
  dequantizeZeroPointSync,
  fakeQuantize,
  fakeQuantizeSync,
  makeCode,
  makeQuantileCode,
  quantize4bitSync,
  quantizeAbsmaxSync,
  quantizeBinarySync,
  quantizeTernarySync,
  quantizeBlockwiseSync,
  quantizeCodebookSync,
  quantizeGGMLSync,
  quantizeZeroPointSync,
  solveRTNSync,
  type FakeQuantFormat,
  type FakeQuantizeOptions,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { randomFloats, rng } from './helpers/random.js';

const ROWS = 4;
const COLS = 256;
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

// Normal weights with 1% outliers ×15, so clipping searches have something to clip.
function weights(seed: number): Float32Array {
  const x = randomFloats(ROWS * COLS, seed, 0.02);
  const next = rng(seed + 7);
  for (let i = 0; i < x.length; i++) if (next() < 0.01) x[i] = x[i]! * 15;
  return x;
}

// Each case: the format, its options, and dequantize(quantize(x)) through the format's own ops.
interface Case {
  name: string;
  format: FakeQuantFormat;
  options: FakeQuantizeOptions;
  direct: (x: Float32Array) => Float32Array;
}

const shape = [ROWS, COLS];
const cases: Case[] = [
  { name: 'int8-absmax per tensor', format: 'int8-absmax', options: {}, direct: (x) => dequantizeAbsmaxSync(quantizeAbsmaxSync(x)) },
  { name: 'int8-absmax per channel', format: 'int8-absmax', options: { shape, axis: 0 }, direct: (x) => dequantizeAbsmaxSync(quantizeAbsmaxSync(x, { shape, axis: 0 })) },
  { name: 'int8-absmax per block', format: 'int8-absmax', options: { shape, blockSize: 64 }, direct: (x) => dequantizeAbsmaxSync(quantizeAbsmaxSync(x, { shape, blockSize: 64 })) },
  { name: 'int8-zeropoint per tensor', format: 'int8-zeropoint', options: {}, direct: (x) => dequantizeZeroPointSync(quantizeZeroPointSync(x)) },
  { name: 'int8-zeropoint per channel uint8', format: 'int8-zeropoint', options: { shape, axis: 1, dtype: 'uint8' }, direct: (x) => dequantizeZeroPointSync(quantizeZeroPointSync(x, { shape, axis: 1, dtype: 'uint8' })) },
  { name: 'int8-zeropoint per block', format: 'int8-zeropoint', options: { shape, blockSize: 32 }, direct: (x) => dequantizeZeroPointSync(quantizeZeroPointSync(x, { shape, blockSize: 32 })) },
  { name: 'nf4', format: 'nf4', options: {}, direct: (x) => dequantize4bitSync(quantize4bitSync(x), { outDtype: 'float32' }) },
  { name: 'fp4 block 128 double-quantized', format: 'fp4', options: { blockSize: 128, compressStatistics: true }, direct: (x) => dequantize4bitSync(quantize4bitSync(x, { quantType: 'fp4', blockSize: 128, compressStatistics: true }), { outDtype: 'float32' }) },
  { name: 'blockwise8', format: 'blockwise8', options: { blockSize: 256 }, direct: (x) => dequantizeBlockwiseSync(quantizeBlockwiseSync(x, { blockSize: 256 }), { outDtype: 'float32' }) },
  { name: 'blockwise8 nested', format: 'blockwise8', options: { nested: true, blockSize: 64 }, direct: (x) => dequantizeBlockwiseSync(quantizeBlockwiseSync(x, { nested: true, blockSize: 64 }), { outDtype: 'float32' }) },
  ...[makeCode('float', 8), makeCode('int', 3), makeQuantileCode(5, 'normal'), makeCode('dynamic', 6)].map((code, i): Case => ({
    name: `codebook ${i}`,
    format: 'codebook',
    options: { code, blockSize: 32 },
    direct: (x) => dequantizeCodebookSync(quantizeCodebookSync(x, { code, blockSize: 32 })),
  })),
  { name: 'binary per row', format: 'binary', options: { shape, granularity: 'per-row' }, direct: (x) => dequantizeTernarySync(quantizeBinarySync(x, [ROWS, COLS], { scale: 'per-row' })) },
  ...GGML_QUANT_TYPES.map((type): Case => ({ name: type, format: type, options: {}, direct: (x) => dequantizeGGMLSync(type, quantizeGGMLSync(type, x), x.length) })),
];

// GPTQ's dequantization written out from the solution's integers: scale · (code − zero) in f32.
function rtnDirect(x: Float32Array, bits: 2 | 3 | 4 | 8, groupSize: number, mse: boolean): { y: Float32Array; scaleOf: (i: number) => number; code: Uint8Array } {
  const s = solveRTNSync(x, [ROWS, COLS], { bits, groupSize, mse });
  const groups = s.groupScales.length / ROWS;
  const g = (i: number) => Math.floor(i / COLS) * groups + s.gIdx[i % COLS]!;
  const y = Float32Array.from(s.codes, (c, i) => Math.fround(s.groupScales[g(i)]! * Math.fround(c - s.groupZeros[g(i)]!)));
  return { y, scaleOf: (i) => s.groupScales[g(i)]!, code: s.codes };
}

// GPTQ's clamp: where it acted the code sits at an end of the grid and x is farther from y than rounding
// alone could leave it; elsewhere within half a step.
function expectClampMask(x: Float32Array, y: Float32Array, mask: Uint8Array, direct: ReturnType<typeof rtnDirect>, maxq: number): number {
  let clipped = 0;
  mask.forEach((m, i) => {
    const error = Math.abs(x[i]! - y[i]!);
    const half = direct.scaleOf(i) / 2;
    if (m === 0) {
      clipped++;
      expect(direct.code[i] === 0 || direct.code[i] === maxq).toBe(true);
      expect(error).toBeGreaterThanOrEqual(half * (1 - 1e-5));
    } else {
      expect(error).toBeLessThanOrEqual(half * (1 + 1e-5));
    }
  });
  return clipped;
}

describe('fakeQuantize equals dequantize(quantize(x))', () => {
  it('has a case for every format', () => {
    const covered = new Set<string>([...cases.map((c) => c.format), 'int4', 'gptq-rtn', 'ternary']);
    expect(FAKE_QUANT_FORMATS.filter((f) => !covered.has(f))).toEqual([]);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const x = weights(c.name.length * 31 + 5);
      const expected = bitsOf(c.direct(x));
      const sync = fakeQuantizeSync(x, c.format, { ...c.options, ste: true });
      expect(bitsOf(sync.y)).toEqual(expected);
      expect(bitsOf((await fakeQuantize(x, c.format, c.options)).y)).toEqual(expected);
      // The group's own range (absmax or [min, max]) or a per-block fit: nothing reported clipped.
      expect(sync.mask).toEqual(new Uint8Array(x.length).fill(1));
      expect(Array.from(sync.y).some((v, i) => v !== x[i])).toBe(true);
    });
  }

  for (const [format, bits, groupSize] of [['int4', 4, 128], ['gptq-rtn', 3, 64], ['gptq-rtn', 8, -1], ['gptq-rtn', 2, 32]] as const) {
    it(`${format} ${bits}-bit groups of ${groupSize}: GPTQ's scale · (code − zero)`, async () => {
      const x = weights(bits * 100 + groupSize);
      const options: FakeQuantizeOptions = format === 'int4' ? { shape, groupSize } : { shape, bits, groupSize };
      const direct = rtnDirect(x, bits, groupSize, false);
      const sync = fakeQuantizeSync(x, format, { ...options, ste: true });
      expect(bitsOf(sync.y)).toEqual(bitsOf(direct.y));
      expect(bitsOf((await fakeQuantize(x, format, options)).y)).toEqual(bitsOf(direct.y));
      // The symmetric grid's top code is 2^(bits−1) − 1 steps up, one short of the group's max: the largest
      // values are clamped even without the MSE search. A few per group at most.
      const clipped = expectClampMask(x, sync.y, sync.mask!, direct, 2 ** bits - 1);
      expect(clipped).toBeGreaterThan(0);
      expect(clipped).toBeLessThanOrEqual(4 * (sync.y.length / (groupSize === -1 ? COLS : groupSize)));
    });
  }
});

describe('straight-through mask', () => {
  it('gptq-rtn with the MSE search: 0 exactly where the clamp acted, more than without', async () => {
    const x = weights(77);
    const bits = 3;
    const maxq = 2 ** bits - 1;
    const direct = rtnDirect(x, bits, 64, true);
    const { y, mask } = fakeQuantizeSync(x, 'gptq-rtn', { shape, bits, groupSize: 64, mse: true, ste: true });
    expect(bitsOf(y)).toEqual(bitsOf(direct.y));
    const clipped = expectClampMask(x, y, mask!, direct, maxq);
    const plain = fakeQuantizeSync(x, 'gptq-rtn', { shape, bits, groupSize: 64, ste: true });
    expect(clipped).toBeGreaterThan(plain.mask!.reduce((n, m) => n + (m === 0 ? 1 : 0), 0)); // the search clips more
    expect(clipped).toBeLessThan(x.length / 10);
    expect((await fakeQuantize(x, 'gptq-rtn', { shape, bits, groupSize: 64, mse: true, ste: true })).mask).toEqual(mask);
  });

  for (const granularity of ['per-tensor', 'per-row'] as const) {
    it(`ternary ${granularity}: 0 exactly where RoundClip clipped`, async () => {
      const x = weights(granularity.length);
      const q = quantizeTernarySync(x, [ROWS, COLS], { granularity });
      const { y, mask } = fakeQuantizeSync(x, 'ternary', { shape, granularity, ste: true });
      expect(bitsOf(y)).toEqual(bitsOf(dequantizeTernarySync(q)));
      expect(bitsOf((await fakeQuantize(x, 'ternary', { shape, granularity })).y)).toEqual(bitsOf(y));
      let clipped = 0;
      mask!.forEach((m, i) => {
        const gamma = q.scales[granularity === 'per-row' ? Math.floor(i / COLS) : 0]!;
        // Clipped values are trits ±1 with |x| at least 1.5 (γ + ε); kept ones within that.
        if (m === 0) {
          clipped++;
          expect(Math.abs(q.trits[i]!)).toBe(1);
          expect(Math.abs(x[i]!)).toBeGreaterThanOrEqual(1.5 * gamma);
        } else {
          expect(Math.abs(x[i]!)).toBeLessThanOrEqual(1.5 * (gamma + 1e-5));
        }
      });
      expect(clipped).toBeGreaterThan(x.length / 20); // absmean γ: the normal tail beyond 1.5γ ≈ 1.9σ
    });
  }

  it('is absent without ste', () => {
    expect(fakeQuantizeSync(weights(3), 'nf4').mask).toBeUndefined();
  });
});

describe('fakeQuantize arguments', () => {
  const x = weights(5);

  it('names the bad argument', async () => {
    expectKquantError(() => fakeQuantizeSync(x, 'q9_9' as never), 'KQ_INVALID_ARGUMENT', /for format but received "q9_9"/);
    expectKquantError(() => fakeQuantizeSync(new Float64Array(4) as never, 'nf4'), 'KQ_DTYPE', /for x/);
    expectKquantError(() => fakeQuantizeSync(new Float32Array(0), 'nf4'), 'KQ_SHAPE', /x/);
    expectKquantError(() => fakeQuantizeSync(x, 'nf4', { groupSize: 64 }), 'KQ_INVALID_ARGUMENT', /options\.groupSize does not apply to format 'nf4'/);
    expectKquantError(() => fakeQuantizeSync(x, 'int4', { bits: 3 }), 'KQ_INVALID_ARGUMENT', /options\.bits does not apply to format 'int4'/);
    expectKquantError(() => fakeQuantizeSync(x, 'codebook'), 'KQ_INVALID_ARGUMENT', /options\.code/);
    expectKquantError(() => fakeQuantizeSync(x, 'nf4', { ste: 1 as never }), 'KQ_INVALID_ARGUMENT', /options\.ste/);
    expectKquantError(() => fakeQuantizeSync(x, 'nf4', { blockSize: 48 }), 'KQ_INVALID_ARGUMENT', /options\.blockSize/);
    expectKquantError(() => fakeQuantizeSync(x.subarray(0, 100), 'q4_k'), 'KQ_SHAPE', /256/);
    await expect(fakeQuantize(x, 'gptq-rtn', { shape: [3, 3] })).rejects.toMatchObject({ name: 'KquantError' });
  });
});
