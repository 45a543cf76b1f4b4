// int4 weights on CUDA (native/ops/int4/cuda.cu). Without a GPU: 'cuda' is refused with KQ_CUDA_UNAVAILABLE
// and 'auto' prepares on the CPU with the CPU's results. With one (skipped elsewhere): the GPU result against
// the f64 reference of test/helpers/int4-reference.ts for every m class, sizes off the 128-row slice and
// 64-column k-tile, every group size, sym/asym, act-order, f16/bf16 x and y.
//
// Bounds per output (mag = Σ s·(q + z)·|x|, as in int4.test.ts, which is ≥ Σ |s·(q − z)·x|):
//  * m ≤ 4, the f32 GEMV: |y − y64| ≤ 2e-6 · mag, as the CPU 'float32' path;
//  * m > 4, the f16 tensor-core GEMM: |y − y64| ≤ 1e-3 · mag + 1e-6 (x and s·(q − z) each rounded to f16).
import { describe, expect, it } from 'vitest';
import {
  backend,
  fromFloat16Sync,
  int4Matmul,
  int4MatmulSync,
  prepareInt4Weights,
  prepareInt4WeightsSync,
  toFloat16Sync,
  type Int4Tensors,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { makeLayer, makeSymmetricLayer, referenceMatmul } from './helpers/int4-reference.js';
import { randomFloats } from './helpers/random.js';

const cuda = backend().cuda;
const GEMV_BOUND = 2e-6;
const GEMM_BOUND = 1e-3;

function expectWithin(y: Float32Array, t: Int4Tensors, x: ArrayLike<number>, m: number, bias?: Float32Array) {
  const ref = referenceMatmul(t, x, m, bias);
  let worst = 0;
  for (let e = 0; e < y.length; e++) {
    const bound = (m <= 4 ? GEMV_BOUND : GEMM_BOUND) * ref.mag[e]! + 1e-6;
    worst = Math.max(worst, Math.abs(y[e]! - ref.y[e]!) / bound);
  }
  expect(worst, `m = ${m}: largest error / its bound`).toBeLessThanOrEqual(1);
}

describe.skipIf(cuda.available)(`int4 without CUDA (${cuda.reason})`, () => {
  const t = makeLayer({ n: 24, k: 136, groupSize: 32, sym: false, actOrder: true, format: 'gptq', seed: 5 });

  it("device 'cuda' is refused with the reason", async () => {
    expectKquantError(() => prepareInt4WeightsSync(t, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /CUDA unavailable/);
    await expect(prepareInt4Weights(t, { device: 'cuda' })).rejects.toMatchObject({ code: 'KQ_CUDA_UNAVAILABLE' });
  });

  it("device 'auto' prepares on the CPU and gives the CPU's bits", () => {
    const auto = prepareInt4WeightsSync(t, { device: 'auto' });
    const cpu = prepareInt4WeightsSync(t, { device: 'cpu' });
    expect(auto.device).toBe('cpu');
    expect(auto.bytes).toBe(cpu.bytes);
    const x = randomFloats(3 * 136, 9);
    expect(int4MatmulSync(x, 3, auto)).toEqual(int4MatmulSync(x, 3, cpu));
    auto.dispose();
    cpu.dispose();
  });
});

describe.skipIf(!cuda.available)(`int4 on CUDA (${cuda.available ? cuda.devices[0]?.name : cuda.reason})`, () => {
  const layers = [
    { n: 40, k: 200, groupSize: 32, sym: false, actOrder: false, format: 'gptq' as const },
    { n: 136, k: 520, groupSize: 128, sym: false, actOrder: true, format: 'gptq' as const },
    { n: 72, k: 328, groupSize: 64, sym: true, actOrder: true, format: 'gptq_v2' as const },
    { n: 56, k: 136, groupSize: -1, sym: false, actOrder: false, format: 'gptq_v2' as const },
  ];
  layers.forEach((spec, li) => {
    it(`n=${spec.n} k=${spec.k} group ${spec.groupSize} ${spec.sym ? 'sym' : 'asym'}${spec.actOrder ? ' act-order' : ''}`, async () => {
      const t = makeLayer({ ...spec, seed: 300 + li });
      const w = await prepareInt4Weights(t, { device: 'cuda' });
      expect([w.device, w.n, w.k]).toEqual(['cuda', spec.n, spec.k]);
      expect(w.bytes).toBeGreaterThan(0);
      for (const m of [1, 2, 3, 4, 5, 8, 16, 33, 128]) {
        const x = randomFloats(m * spec.k, 50 * li + m);
        const bias = m % 2 ? randomFloats(spec.n, 3 + m) : undefined;
        expectWithin(await int4Matmul(x, m, w, { bias }), t, x, m, bias);
      }
      w.dispose();
    });
  });

  it("odd n (symmetric, no qzeros), 'auto', f16 x and y", () => {
    const t = makeSymmetricLayer(33, 264, 64, 7);
    const w = prepareInt4WeightsSync(t, { device: 'auto' });
    expect(w.device).toBe('cuda');
    for (const m of [2, 17]) {
      const xh = toFloat16Sync(randomFloats(m * 264, 11 + m));
      const x = fromFloat16Sync(xh);
      const y = int4MatmulSync(xh, m, w, { dtype: 'float16' });
      expectWithin(y, t, x, m);
      expect(int4MatmulSync(xh, m, w, { dtype: 'float16', outDtype: 'float16' })).toEqual(toFloat16Sync(y));
    }
    w.dispose();
  });

  it('refuses NaN x, and x beyond f16 on the tensor-core path', () => {
    const w = prepareInt4WeightsSync(makeSymmetricLayer(16, 64, 32, 13), { device: 'cuda' });
    const x = new Float32Array(8 * 64).fill(0.5);
    x[3] = NaN;
    expectKquantError(() => int4MatmulSync(x, 8, w), 'KQ_NON_FINITE', /x/);
    x[3] = 70000;
    expectKquantError(() => int4MatmulSync(x, 8, w), 'KQ_INVALID_ARGUMENT', /f16 range/);
    expect(int4MatmulSync(x.subarray(0, 64), 1, w)).toHaveLength(16);
    w.dispose();
  });
});
