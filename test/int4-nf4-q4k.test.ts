// int4Matmul over bnb NF4 / FP4 weights (prepareNF4Weights) and ggml Q4_K rows (prepareQ4KWeights), against an
// f64 product with the weight dequantized by kquant's own format dequantizers (dequantize4bitSync,
// dequantizeGGMLSync: independent of the GEMV kernels), on fresh random layers and inputs: m = 1, 2, 3, 8, odd n,
// plain and nested absmax, NF4 and FP4, f16/bf16 x; every SIMD level gives the scalar reference's bits; bad input.
//
// Bounds (per output o; w the dequantized weight, blocks of 32 input columns):
//  * f32 paths: |y − y64| ≤ F32_BOUND · Σ_i (|w_i| + max|w| of i's block) · |x_i| (f32 accumulation; the block
//    maximum covers Q4_K's separately summed (d·sc)·q and dmin·m terms);
//  * Q4_K 'int8' (the default): plus Σ_i |w_i| · absmax(x over i's block) / 254 (each x moves by at most that
//    block's absmax / 254), and a relative RMS error over the layer below INT8_RMS_BOUND.
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  dequantize4bitSync,
  dequantizeGGMLSync,
  fromBFloat16Sync,
  fromFloat16Sync,
  int4Matmul,
  int4MatmulSync,
  prepareNF4Weights,
  prepareNF4WeightsSync,
  prepareQ4KWeights,
  prepareQ4KWeightsSync,
  quantize4bitSync,
  quantizeGGMLSync,
  setSimd,
  toBFloat16Sync,
  toFloat16Sync,
  type Int4Activations,
  type Quantized4bit,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { randomFloats } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const F32_BOUND = 2e-6;
const INT8_RMS_BOUND = 1e-2;

function expectClose(y: Float32Array, w: Float32Array, n: number, k: number, x: ArrayLike<number>, m: number, activations: Int4Activations, bias?: Float32Array): number {
  let worst = 0;
  let errSq = 0;
  let refSq = 0;
  for (let i = 0; i < m; i++) {
    for (let o = 0; o < n; o++) {
      let s = bias ? bias[o]! : 0;
      let mag = 0;
      let magX = 0;
      for (let b = 0; b < k; b += 32) {
        let xMax = 0;
        let wMax = 0;
        for (let p = b; p < b + 32; p++) {
          xMax = Math.max(xMax, Math.abs(x[i * k + p]!));
          wMax = Math.max(wMax, Math.abs(w[o * k + p]!));
        }
        for (let p = b; p < b + 32; p++) {
          const wv = w[o * k + p]!;
          const xv = x[i * k + p]!;
          s += wv * xv;
          mag += (Math.abs(wv) + wMax) * Math.abs(xv);
          magX += (Math.abs(wv) * xMax) / 254;
        }
      }
      const err = Math.abs(y[i * n + o]! - s);
      const bound = F32_BOUND * mag + (activations === 'int8' ? magX : 0) + 1e-9;
      worst = Math.max(worst, err / bound);
      errSq += err * err;
      refSq += (s - (bias ? bias[o]! : 0)) ** 2;
    }
  }
  expect(worst, 'largest error / its bound').toBeLessThanOrEqual(1);
  const rms = Math.sqrt(errSq / refSq);
  if (activations === 'int8') expect(rms).toBeLessThan(INT8_RMS_BOUND);
  return rms;
}

function bnbLayer(n: number, k: number, quantType: 'nf4' | 'fp4', blockSize: number, nested: boolean, seed: number) {
  const q = quantize4bitSync(randomFloats(n * k, seed, 0.02), { quantType, blockSize, compressStatistics: nested, shape: [n, k] });
  return { q, w: dequantize4bitSync(q, { outDtype: 'float32' }) };
}

function q4kLayer(n: number, k: number, seed: number) {
  const bytes = quantizeGGMLSync('q4_k', randomFloats(n * k, seed, 0.02));
  return { bytes, w: dequantizeGGMLSync('q4_k', bytes, n * k) };
}

const initialSimd = backend().simd;
afterAll(() => setSimd(initialSimd));

describe('NF4 / FP4 weights vs an f64 product with dequantize4bit', () => {
  const layers = [
    { n: 37, k: 128, quantType: 'nf4' as const, blockSize: 64, nested: false },
    { n: 19, k: 320, quantType: 'nf4' as const, blockSize: 64, nested: true },
    { n: 33, k: 256, quantType: 'fp4' as const, blockSize: 128, nested: false },
    { n: 16, k: 192, quantType: 'fp4' as const, blockSize: 32, nested: true },
    { n: 5, k: 1024, quantType: 'nf4' as const, blockSize: 512, nested: true },
  ];
  layers.forEach((spec, li) => {
    it(`${spec.quantType} n=${spec.n} k=${spec.k} block ${spec.blockSize}${spec.nested ? ' nested absmax' : ''}`, () => {
      const { q, w } = bnbLayer(spec.n, spec.k, spec.quantType, spec.blockSize, spec.nested, 200 + li);
      const weights = prepareNF4WeightsSync(q, { shape: [spec.n, spec.k] });
      expect([weights.kind, weights.n, weights.k, weights.groupSize, weights.device]).toEqual([spec.quantType, spec.n, spec.k, spec.blockSize, 'cpu']);
      for (const m of [1, 2, 3, 8]) {
        const x = randomFloats(m * spec.k, 1000 * li + m);
        const bias = m % 2 ? randomFloats(spec.n, 7 + m) : undefined;
        expectClose(int4MatmulSync(x, m, weights, { bias }), w, spec.n, spec.k, x, m, 'float32', bias);
      }
      weights.dispose();
      expect(weights.disposed).toBe(true);
    });
  });

  it('f16 and bf16 x equal the f32 call on their widened values; f16/bf16 output rounds the f32 result', () => {
    const { q, w } = bnbLayer(21, 256, 'nf4', 64, true, 9);
    const weights = prepareNF4WeightsSync(q, { shape: [21, 256] });
    const x = randomFloats(3 * 256, 77);
    for (const [bits, dtype] of [
      [toFloat16Sync(x), 'float16'],
      [toBFloat16Sync(x), 'bfloat16'],
    ] as const) {
      const wide = dtype === 'float16' ? fromFloat16Sync(bits) : fromBFloat16Sync(bits);
      const y = int4MatmulSync(bits, 3, weights, { dtype });
      expect(y).toEqual(int4MatmulSync(wide, 3, weights));
      expectClose(y, w, 21, 256, wide, 3, 'float32');
      expect(int4MatmulSync(bits, 3, weights, { dtype, outDtype: dtype })).toEqual(dtype === 'float16' ? toFloat16Sync(y) : toBFloat16Sync(y));
    }
  });
});

describe('Q4_K rows vs an f64 product with dequantizeGGML', () => {
  const layers = [
    { n: 19, k: 256 },
    { n: 37, k: 512 },
    { n: 16, k: 768 },
  ];
  layers.forEach((spec, li) => {
    it(`n=${spec.n} k=${spec.k}, int8 and float32 activations`, () => {
      const { bytes, w } = q4kLayer(spec.n, spec.k, 300 + li);
      const weights = prepareQ4KWeightsSync(bytes, spec.n, spec.k);
      expect([weights.kind, weights.n, weights.k, weights.groupSize]).toEqual(['q4_k', spec.n, spec.k, 32]);
      for (const m of [1, 2, 3, 8]) {
        const x = randomFloats(m * spec.k, 2000 * li + m);
        const bias = m % 2 ? undefined : randomFloats(spec.n, 11 + m);
        expectClose(int4MatmulSync(x, m, weights, { bias }), w, spec.n, spec.k, x, m, 'int8', bias);
        expectClose(int4MatmulSync(x, m, weights, { bias, activations: 'float32' }), w, spec.n, spec.k, x, m, 'float32', bias);
      }
    });
  });

  it('f16 and bf16 x, and the measured relative RMS error of the int8 path on a 256 x 1024 layer', () => {
    const { bytes, w } = q4kLayer(256, 1024, 5);
    const weights = prepareQ4KWeightsSync(bytes, 256, 1024);
    const x32 = randomFloats(4 * 1024, 4);
    for (const [x, dtype] of [
      [toFloat16Sync(x32), 'float16'],
      [toBFloat16Sync(x32), 'bfloat16'],
    ] as const) {
      const wide = dtype === 'float16' ? fromFloat16Sync(x) : fromBFloat16Sync(x);
      const y = int4MatmulSync(x, 4, weights, { dtype });
      expect(y).toEqual(int4MatmulSync(wide, 4, weights));
      const rms = expectClose(y, w, 256, 1024, wide, 4, 'int8');
      expect(rms).toBeGreaterThan(0); // the activations really are rounded
      expect(expectClose(int4MatmulSync(x, 4, weights, { dtype, activations: 'float32' }), w, 256, 1024, wide, 4, 'float32')).toBeLessThan(1e-5);
    }
  });
});

describe('every SIMD level gives the scalar reference bits', () => {
  it('NF4, FP4 and Q4_K (both paths), m = 1 … 9', () => {
    const cases = [
      { name: 'nf4', weights: prepareNF4WeightsSync(bnbLayer(35, 256, 'nf4', 64, true, 41).q, { shape: [35, 256] }), k: 256, paths: ['float32'] as const },
      { name: 'fp4', weights: prepareNF4WeightsSync(bnbLayer(9, 128, 'fp4', 32, false, 42).q, { shape: [9, 128] }), k: 128, paths: ['float32'] as const },
      { name: 'q4_k', weights: prepareQ4KWeightsSync(q4kLayer(23, 512, 43).bytes, 23, 512), k: 512, paths: ['int8', 'float32'] as const },
    ];
    for (const c of cases) {
      for (const m of [1, 2, 3, 5, 8, 9]) {
        const x = randomFloats(m * c.k, 500 + m);
        for (const activations of c.paths) {
          const results = supportedLevels().map((level) => {
            setSimd(level);
            return int4MatmulSync(x, m, c.weights, { activations });
          });
          setSimd(initialSimd);
          for (const y of results.slice(1)) expect(y, `${c.name} ${activations} m=${m}`).toEqual(results[0]);
        }
      }
    }
  });
});

describe('async and errors', () => {
  it('the async twins give the sync results', async () => {
    const { q } = bnbLayer(17, 128, 'nf4', 64, false, 61);
    const { bytes } = q4kLayer(17, 256, 62);
    const nf4 = await prepareNF4Weights(q, { shape: [17, 128] });
    const q4k = await prepareQ4KWeights(bytes, 17, 256);
    const x1 = randomFloats(2 * 128, 63);
    const x2 = randomFloats(2 * 256, 64);
    expect(await int4Matmul(x1, 2, nf4)).toEqual(int4MatmulSync(x1, 2, nf4));
    expect(await int4Matmul(x2, 2, q4k)).toEqual(int4MatmulSync(x2, 2, q4k));
    await expect(prepareQ4KWeights(bytes, 17, 128)).rejects.toMatchObject({ code: 'KQ_SHAPE' });
  });

  it('bad shapes, lengths and options name the argument', () => {
    const { q } = bnbLayer(8, 128, 'nf4', 64, true, 71);
    const shape: [number, number] = [8, 128];
    expectKquantError(() => prepareNF4WeightsSync(q, { shape: [32, 32] }), 'KQ_SHAPE', /options\.shape\[1\] = 32\).*multiple of q\.state\.blockSize 64/);
    expectKquantError(() => prepareNF4WeightsSync(q, { shape: [8, 64] }), 'KQ_SHAPE', /options\.shape \[8, 64\].*q\.state\.shape/);
    expectKquantError(() => prepareNF4WeightsSync(q, { shape: [8] as unknown as [number, number] }), 'KQ_SHAPE', /options\.shape \[n, k\]/);
    expectKquantError(() => prepareNF4WeightsSync({ ...q, packed: q.packed.subarray(1) }, { shape }), 'KQ_LENGTH', /q\.packed/);
    const plain = bnbLayer(8, 128, 'fp4', 64, false, 72).q;
    const shortAbsmax = { ...plain, state: { ...plain.state, absmax: (plain.state.absmax as Float32Array).subarray(1) } } as Quantized4bit;
    expectKquantError(() => prepareNF4WeightsSync(shortAbsmax, { shape }), 'KQ_LENGTH', /q\.state\.absmax/);
    const nanAbsmax = { ...plain, state: { ...plain.state, absmax: Float32Array.from(plain.state.absmax as Float32Array, (v, i) => (i === 3 ? NaN : v)) } } as Quantized4bit;
    expectKquantError(() => prepareNF4WeightsSync(nanAbsmax, { shape }), 'KQ_NON_FINITE', /q\.state\.absmax\[3\]/);
    expectKquantError(() => prepareNF4WeightsSync({ ...plain, state: { ...plain.state, quantType: 'nf2' } } as unknown as Quantized4bit, { shape }), 'KQ_INVALID_ARGUMENT', /q\.state\.quantType/);
    const nested = q.state.nested!;
    const badNested = { ...q, state: { ...q.state, nested: { ...nested, code: nested.code.subarray(1) } } } as Quantized4bit;
    expectKquantError(() => prepareNF4WeightsSync(badNested, { shape }), 'KQ_LENGTH', /q\.state\.nested\.code/);

    const { bytes } = q4kLayer(3, 256, 73);
    expectKquantError(() => prepareQ4KWeightsSync(bytes, 3, 128), 'KQ_SHAPE', /k to be a multiple of 256/);
    expectKquantError(() => prepareQ4KWeightsSync(bytes.subarray(1), 3, 256), 'KQ_LENGTH', /bytes/);
    expectKquantError(() => prepareQ4KWeightsSync(bytes, 0, 256), 'KQ_INVALID_ARGUMENT', /for n /);
    const infD = bytes.slice();
    infD[144 + 1] = 0x7c; // row 1, block 0: d = +Inf
    expectKquantError(() => prepareQ4KWeightsSync(infD, 3, 256), 'KQ_NON_FINITE', /row 1/);

    const nf4 = prepareNF4WeightsSync(q, { shape });
    expectKquantError(() => int4MatmulSync(randomFloats(128, 1), 1, nf4, { activations: 'int8' }), 'KQ_INVALID_ARGUMENT', /options\.activations 'float32' for nf4/);
    expectKquantError(() => int4MatmulSync(randomFloats(127, 1), 1, nf4), 'KQ_LENGTH', /Expected x to hold/);
    expectKquantError(() => int4MatmulSync(randomFloats(128, 1), 1, nf4, { bias: new Float32Array(7) }), 'KQ_LENGTH', /options\.bias/);
    const inf = randomFloats(128, 2);
    inf[5] = Infinity;
    expectKquantError(() => int4MatmulSync(inf, 1, nf4), 'KQ_NON_FINITE', /x holds NaN or Inf/);
    nf4.dispose();
    expectKquantError(() => int4MatmulSync(randomFloats(128, 1), 1, nf4), 'KQ_INVALID_ARGUMENT', /disposed/);
  });
});
