// int4Matmul against an f64 reference computed here from the packed checkpoint tensors (README section 4),
// on fresh random layers and inputs: every m class, n and k off the 16-row tile and 32-column block, every
// group size, sym/asym, act-order, v1/v2, f16/bf16 x, bias; every SIMD level gives the same bits; bad input.
//
// Bounds (per output o, with mag = Σ s·(q + z)·|x| and magX = Σ s·(q + z)·max|x row|, see the helper):
//  * 'float32' activations: |y − y64| ≤ 2e-6 · mag (f32 accumulation, zero-point term included; measured ≤ 2e-8 · mag);
//  * 'int8' activations: |y − y64| ≤ magX / 254 + 2e-6 · mag (each x moves by at most block absmax / 254),
//    and the relative RMS error over a layer stays below 1e-2 (measured ≈ 5e-3 on these random layers).
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  fromBFloat16Sync,
  fromFloat16Sync,
  int4Matmul,
  int4MatmulSync,
  int4TensorsFromQ4_0,
  Int4Weights,
  quantizeGGMLSync,
  dequantizeGGMLSync,
  quantizeInt4Sync,
  dequantizeGPTQSync,
  prepareInt4Weights,
  prepareInt4WeightsSync,
  setSimd,
  toBFloat16Sync,
  toFloat16Sync,
  type Int4Activations,
  type Int4Tensors,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { gptqCaseIds, readCase, readMatrix } from './helpers/gptq-fixtures.js';
import { f16ToNumber, makeLayer, makeSymmetricLayer, referenceMatmul } from './helpers/int4-reference.js';
import { randomFloats } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const F32_BOUND = 2e-6;
const INT8_RMS_BOUND = 1e-2;

function expectClose(y: Float32Array, t: Int4Tensors, x: ArrayLike<number>, m: number, activations: Int4Activations, bias?: Float32Array) {
  const ref = referenceMatmul(t, x, m, bias);
  let worst = 0;
  let errSq = 0;
  let refSq = 0;
  for (let e = 0; e < y.length; e++) {
    const err = Math.abs(y[e]! - ref.y[e]!);
    const bound = F32_BOUND * ref.mag[e]! + (activations === 'int8' ? ref.magX[e]! / 254 : 0) + 1e-9;
    worst = Math.max(worst, err / bound);
    errSq += err * err;
    refSq += (ref.y[e]! - (bias ? bias[e % bias.length]! : 0)) ** 2;
  }
  expect(worst, 'largest error / its bound').toBeLessThanOrEqual(1);
  if (activations === 'int8') expect(Math.sqrt(errSq / refSq)).toBeLessThan(INT8_RMS_BOUND);
  return Math.sqrt(errSq / refSq);
}

const initialSimd = backend().simd;
afterAll(() => setSimd(initialSimd));

describe('int4Matmul vs an f64 dequantization of the checkpoint tensors', () => {
  const layers = [
    { n: 40, k: 200, groupSize: 32, sym: false, actOrder: false, format: 'gptq' as const },
    { n: 72, k: 328, groupSize: 64, sym: true, actOrder: true, format: 'gptq_v2' as const },
    { n: 24, k: 520, groupSize: 128, sym: false, actOrder: true, format: 'gptq' as const },
    { n: 56, k: 136, groupSize: -1, sym: false, actOrder: false, format: 'gptq_v2' as const },
    { n: 16, k: 256, groupSize: 128, sym: true, actOrder: false, format: 'gptq' as const },
  ];
  layers.forEach((spec, li) => {
    it(`n=${spec.n} k=${spec.k} group ${spec.groupSize} ${spec.sym ? 'sym' : 'asym'}${spec.actOrder ? ' act-order' : ''} ${spec.format}`, () => {
      const t = makeLayer({ ...spec, seed: 100 + li });
      const w = prepareInt4WeightsSync(t);
      expect([w.n, w.k, w.groupSize, w.device, w.actOrder]).toEqual([spec.n, spec.k, spec.groupSize, 'cpu', spec.actOrder]);
      for (const m of [1, 2, 3, 8, 16, 33, 128]) {
        const x = randomFloats(m * spec.k, 1000 * li + m);
        const bias = m % 2 ? randomFloats(spec.n, 7 + m) : undefined;
        for (const activations of ['int8', 'float32'] as const) {
          expectClose(int4MatmulSync(x, m, w, { bias, activations }), t, x, m, activations, bias);
        }
      }
      w.dispose();
      expect(w.disposed).toBe(true);
    });
  });

  it('symmetric weights without qzeros, n not a multiple of 8', () => {
    const t = makeSymmetricLayer(37, 96, 32, 5);
    const w = prepareInt4WeightsSync(t);
    for (const m of [1, 5]) {
      const x = randomFloats(m * 96, 50 + m);
      for (const activations of ['int8', 'float32'] as const) expectClose(int4MatmulSync(x, m, w, { activations }), t, x, m, activations);
    }
  });

  it('f16 and bf16 x equal the f32 call on their widened values', () => {
    const t = makeLayer({ n: 48, k: 160, groupSize: 32, sym: false, actOrder: true, format: 'gptq', seed: 9 });
    const w = prepareInt4WeightsSync(t);
    const x = randomFloats(3 * 160, 77);
    for (const [bits, dtype] of [
      [toFloat16Sync(x), 'float16'],
      [toBFloat16Sync(x), 'bfloat16'],
    ] as const) {
      const wide = dtype === 'float16' ? fromFloat16Sync(bits) : fromBFloat16Sync(bits);
      for (const activations of ['int8', 'float32'] as const) {
        const y = int4MatmulSync(bits, 3, w, { dtype, activations });
        expect(y).toEqual(int4MatmulSync(wide, 3, w, { activations }));
        expectClose(y, t, wide, 3, activations);
        // f16/bf16 output: the f32 result rounded to nearest even.
        expect(int4MatmulSync(bits, 3, w, { dtype, activations, outDtype: dtype })).toEqual(dtype === 'float16' ? toFloat16Sync(y) : toBFloat16Sync(y));
      }
    }
  });

  it('measured relative RMS error of the int8 path on a 256 x 1024 layer', () => {
    const t = makeLayer({ n: 256, k: 1024, groupSize: 128, sym: false, actOrder: false, format: 'gptq', seed: 3 });
    const w = prepareInt4WeightsSync(t);
    const x = randomFloats(4 * 1024, 4);
    const rms = expectClose(int4MatmulSync(x, 4, w), t, x, 4, 'int8');
    expect(rms).toBeGreaterThan(0); // the activations really are rounded
    expect(expectClose(int4MatmulSync(x, 4, w, { activations: 'float32' }), t, x, 4, 'float32')).toBeLessThan(1e-5);
  });
});

describe('GPTQ golden checkpoints (test/fixtures/gptq, GPTQModel layout)', () => {
  const ids = gptqCaseIds.filter((id) => id.startsWith('A_256x512/b4_'));
  const matrix = readMatrix('A_256x512');
  const m = 4;
  const xHalf = matrix.X.subarray(0, m * matrix.cols); // real calibration activations, f16 bits
  const x = fromFloat16Sync(xHalf);
  it.each(ids)('%s: v1 and v2 zeros give the same bits, close to f64 with the golden zero points', (id) => {
    const c = readCase(id);
    const base = { qweight: c.ckpt.qweight.data as Int32Array, scales: c.ckpt.scales.data as Uint16Array, gIdx: c.ckpt.g_idx.data as Int32Array, bits: 4, groupSize: c.info.params.group_size, rows: c.rows, cols: c.cols };
    const v1 = prepareInt4WeightsSync({ ...base, qzeros: c.ckpt.qzeros_v1.data as Int32Array, format: 'gptq' });
    const v2 = prepareInt4WeightsSync({ ...base, qzeros: c.ckpt.qzeros_v2.data as Int32Array, format: 'gptq_v2' });
    expect(v1.actOrder).toBe(c.info.params.desc_act && c.info.params.group_size !== -1); // one group: nothing to reorder
    const groups = base.scales.length / c.rows;
    for (const activations of ['int8', 'float32'] as const) {
      const y = int4MatmulSync(xHalf, m, v1, { dtype: 'float16', activations });
      expect(int4MatmulSync(xHalf, m, v2, { dtype: 'float16', activations })).toEqual(y);
      // f64 from the codes in qweight and the algorithm's own zero points (zeros.bin), not from qzeros.
      let worst = 0;
      for (let i = 0; i < m; i++) {
        let xmax = 0;
        for (let k = 0; k < c.cols; k++) xmax = Math.max(xmax, Math.abs(x[i * c.cols + k]!));
        for (let o = 0; o < c.rows; o++) {
          let want = 0;
          let mag = 0;
          for (let k = 0; k < c.cols; k++) {
            const g = base.gIdx[k]!;
            const q = (base.qweight[(k >> 3) * c.rows + o]! >>> (4 * (k % 8))) & 0xf;
            const z = c.zeros[o * groups + g]!;
            const s = f16ToNumber(base.scales[g * c.rows + o]!);
            want += x[i * c.cols + k]! * s * (q - z);
            mag += s * (q + z) * (activations === 'int8' ? F32_BOUND * Math.abs(x[i * c.cols + k]!) + xmax / 254 : F32_BOUND * Math.abs(x[i * c.cols + k]!));
          }
          worst = Math.max(worst, Math.abs(y[i * c.rows + o]! - want) / mag);
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
    }
  });
});

describe('quantizeInt4 results', () => {
  it('go to prepareInt4Weights as they are and match dequantizeGPTQ', () => {
    const [n, k] = [48, 384];
    const weight = randomFloats(n * k, 71, 0.02);
    for (const sym of [true, false]) {
      const q = quantizeInt4Sync(weight, [n, k], { groupSize: 64, sym });
      const deq = dequantizeGPTQSync(q);
      const w = prepareInt4WeightsSync(q);
      const x = randomFloats(2 * k, 72);
      const y = int4MatmulSync(x, 2, w, { activations: 'float32' });
      for (let i = 0; i < 2; i++) {
        for (let o = 0; o < n; o++) {
          let want = 0;
          let mag = 0;
          for (let c = 0; c < k; c++) {
            want += x[i * k + c]! * deq[o * k + c]!;
            mag += Math.abs(x[i * k + c]!) * (Math.abs(deq[o * k + c]!) + 0.02 * 23); // s·(q + z) ≲ |w| + 23·s
          }
          expect(Math.abs(y[i * n + o]! - want)).toBeLessThanOrEqual(F32_BOUND * mag);
        }
      }
    }
  });
});

describe('ggml Q4_0 weights', () => {
  it('int4TensorsFromQ4_0 runs the same weights as dequantizeGGML', () => {
    const n = 40;
    const k = 160;
    const bytes = quantizeGGMLSync('q4_0', randomFloats(n * k, 61, 0.05));
    const deq = dequantizeGGMLSync('q4_0', bytes, n * k);
    const w = prepareInt4WeightsSync(int4TensorsFromQ4_0(bytes, n, k));
    const m = 3;
    const x = randomFloats(m * k, 62);
    const y = int4MatmulSync(x, m, w, { activations: 'float32' });
    for (let i = 0; i < m; i++) {
      for (let o = 0; o < n; o++) {
        let want = 0;
        let mag = 0;
        for (let c = 0; c < k; c++) {
          const d = f16ToNumber(bytes[(o * (k / 32) + (c >> 5)) * 18]! | (bytes[(o * (k / 32) + (c >> 5)) * 18 + 1]! << 8));
          want += x[i * k + c]! * deq[o * k + c]!;
          mag += Math.abs(x[i * k + c]! * d) * 23; // s·(q + z) ≤ 23·|d|
        }
        expect(Math.abs(y[i * n + o]! - want)).toBeLessThanOrEqual(F32_BOUND * mag);
      }
    }
    expectKquantError(() => int4TensorsFromQ4_0(bytes.subarray(1), n, k), 'KQ_LENGTH', /bytes/);
    expectKquantError(() => int4TensorsFromQ4_0(bytes, n * 2, k / 2), 'KQ_SHAPE', /multiple of 32/);
  });
});

describe('int4Matmul variants and API', () => {
  it('every SIMD level gives the same bits', () => {
    const t = makeLayer({ n: 72, k: 392, groupSize: 64, sym: false, actOrder: true, format: 'gptq_v2', seed: 21 });
    const w = prepareInt4WeightsSync(t);
    for (const m of [1, 9]) {
      const x = randomFloats(m * 392, 300 + m);
      const bias = randomFloats(72, 301);
      for (const activations of ['int8', 'float32'] as const) {
        const results = supportedLevels().map((level) => {
          setSimd(level);
          return int4MatmulSync(x, m, w, { bias, activations });
        });
        setSimd(initialSimd);
        for (const r of results.slice(1)) expect(r).toEqual(results[0]);
      }
    }
  });

  it('async prepare and matmul; out is written in place; dispose during a call is safe', async () => {
    const t = makeLayer({ n: 64, k: 256, groupSize: 128, sym: true, actOrder: false, format: 'gptq', seed: 31 });
    const w = await prepareInt4Weights(t, { device: 'cpu' });
    expect(w.bytes).toBeGreaterThan((64 * 256) / 2);
    const x = randomFloats(2 * 256, 32);
    const out = new Float32Array(2 * 64);
    const pending = int4Matmul(x, 2, w, { out });
    w.dispose();
    expect(await pending).toBe(out);
    expect(out).toEqual(prepareInt4WeightsSync(t) && int4MatmulSync(x, 2, prepareInt4WeightsSync(t)));
    expectKquantError(() => int4MatmulSync(x, 2, w), 'KQ_INVALID_ARGUMENT', /disposed/);
  });

  it('rejects bad tensors and arguments with coded errors', () => {
    const t = makeLayer({ n: 16, k: 64, groupSize: 32, sym: false, actOrder: true, format: 'gptq', seed: 41 });
    expectKquantError(() => prepareInt4WeightsSync({ ...t, k: 60, cols: 60 }), 'KQ_SHAPE', /multiple of 8/);
    expectKquantError(() => prepareInt4WeightsSync({ ...t, qweight: t.qweight.subarray(1) }), 'KQ_LENGTH', /qweight/);
    expectKquantError(() => prepareInt4WeightsSync({ ...t, qzeros: new Int32Array(3) }), 'KQ_LENGTH', /qzeros/);
    const gIdx = t.gIdx!.slice();
    gIdx[5] = 2;
    expectKquantError(() => prepareInt4WeightsSync({ ...t, gIdx }), 'KQ_INVALID_ARGUMENT', /gIdx\[5\] is 2/);
    const scales = t.scales.slice();
    scales[3] = 0x7e00;
    expectKquantError(() => prepareInt4WeightsSync({ ...t, scales }), 'KQ_NON_FINITE', /scales\[0, 3\]/);
    expectKquantError(() => prepareInt4WeightsSync({ ...t, bits: 3 }), 'KQ_INVALID_ARGUMENT', /bits/);
    expectKquantError(() => prepareInt4WeightsSync({ ...t, gIdx: null, groupSize: 16 }), 'KQ_SHAPE', /groups/);
    if (!backend().cuda.available) {
      expectKquantError(() => prepareInt4WeightsSync(t, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /.+/);
    }
    const w = prepareInt4WeightsSync(t);
    expectKquantError(() => int4MatmulSync(new Float32Array(63), 1, w), 'KQ_LENGTH', /x/);
    expectKquantError(() => int4MatmulSync(new Uint16Array(64), 1, w), 'KQ_DTYPE', /dtype/);
    expectKquantError(() => int4MatmulSync(new Float32Array(64), 1, w, { bias: new Float32Array(3) }), 'KQ_LENGTH', /bias/);
    const nan = new Float32Array(64);
    nan[9] = NaN;
    expectKquantError(() => int4MatmulSync(nan, 1, w), 'KQ_NON_FINITE', /x/);
    expectKquantError(() => int4MatmulSync(new Float32Array(64), 1, {} as never), 'KQ_INVALID_ARGUMENT', /Int4Weights/);
    const forged = Object.create(Int4Weights.prototype) as Int4Weights;
    expectKquantError(() => int4MatmulSync(new Float32Array(64), 1, forged), 'KQ_INVALID_ARGUMENT', /weights handle/);
  });
});
