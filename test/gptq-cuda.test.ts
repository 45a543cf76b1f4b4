// GPTQ's device option (native/ops/gptq/cuda.cu). Without a GPU: 'cuda' is KQ_CUDA_UNAVAILABLE and leaves
// the Hessian as it was, 'auto' runs on the CPU and equals 'cpu'. With one: the CUDA Hessian and solve
// against the CPU path (H within f32 rounding of another summation order, codes nearly all equal, loss and
// output error within 1e-3); skipped with the reason elsewhere.
import { describe, expect, it } from 'vitest';
import { backend, toBFloat16Sync, toFloat16Sync, type KquantError } from '../lib/index.js';
import { GPTQHessian, solveGPTQ, solveGPTQSync, type GPTQOptions } from '../lib/ops/gptq.js';
import { expectKquantError } from './helpers/errors.js';
import { normal, rng } from './helpers/random.js';

const info = backend();

// |H_cuda − H_cpu| <= this · sqrt(H_ii·H_jj), the bound of Σ|x_i·x_j| (see native/test/test_gptq_cuda.cc).
const HESSIAN_TOLERANCE = 2e-5;
const CODES_EQUAL = 0.999;
const ERROR_TOLERANCE = 1e-3;

// Correlated activations (shared factors, ×20 channels, one dead channel) so the feedback matters.
function activations(tokens: number, cols: number, seed: number): Float32Array {
  const next = rng(seed);
  const factors = Math.max(2, cols >> 3);
  const load = Float64Array.from({ length: factors * cols }, () => normal(next) / Math.sqrt(factors));
  const x = new Float32Array(tokens * cols);
  const z = new Float64Array(factors);
  for (let t = 0; t < tokens; t++) {
    for (let f = 0; f < factors; f++) z[f] = normal(next);
    for (let c = 0; c < cols; c++) {
      let v = 0.5 * normal(next);
      for (let f = 0; f < factors; f++) v += z[f]! * load[f * cols + c]!;
      x[t * cols + c] = c === 7 ? 0 : v * (c % 37 === 5 ? 20 : 1);
    }
  }
  return x;
}

function weight(rows: number, cols: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => 0.02 * normal(next));
}

function hessianOn(device: 'cpu' | 'cuda' | 'auto', x: Float32Array, cols: number): GPTQHessian {
  const h = new GPTQHessian(cols);
  const half = x.length / cols / 2;
  h.addSync(x.subarray(0, half * cols), half, { device });
  h.addSync(x.subarray(half * cols), half, { device, samples: 1 });
  return h;
}

function relative(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

describe.skipIf(info.cuda.available)(`GPTQ device without a GPU (${info.cuda.reason || 'available'})`, () => {
  const cols = 48;
  const rows = 20;
  const x = activations(96, cols, 1);
  const w = weight(rows, cols, 2);

  it("'cuda' is KQ_CUDA_UNAVAILABLE and leaves the Hessian as it was", async () => {
    const h = hessianOn('cpu', x, cols);
    const before = Float32Array.from(h.h);
    expectKquantError(() => h.addSync(x, 96, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /CUDA unavailable/);
    const rejection = await h.add(x, 96, { device: 'cuda' }).catch((e: unknown) => e);
    expect((rejection as KquantError).code).toBe('KQ_CUDA_UNAVAILABLE');
    expect(h.h).toEqual(before);
    expect(h.samples).toBe(49);
    expectKquantError(() => solveGPTQSync(w, [rows, cols], h, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /GPTQ solve/);
    const solveRejection = await solveGPTQ(w, [rows, cols], h, { device: 'cuda' }).catch((e: unknown) => e);
    expect((solveRejection as KquantError).code).toBe('KQ_CUDA_UNAVAILABLE');
  });

  it("'auto' runs on the CPU and equals 'cpu'", () => {
    const cpu = hessianOn('cpu', x, cols);
    const auto = hessianOn('auto', x, cols);
    expect(auto.h).toEqual(cpu.h);
    const options: GPTQOptions = { bits: 3, groupSize: 16, sym: false, actOrder: true, dequantize: true };
    const a = solveGPTQSync(w, [rows, cols], auto, { ...options, device: 'auto' });
    const c = solveGPTQSync(w, [rows, cols], cpu, { ...options, device: 'cpu' });
    expect(a.codes).toEqual(c.codes);
    expect(a.groupScales).toEqual(c.groupScales);
    expect(a.dequantized).toEqual(c.dequantized);
    expect(a.loss).toBe(c.loss);
    expect(a.error).toBe(c.error);
  });

  it('rejects an unknown device', () => {
    const h = new GPTQHessian(cols);
    expectKquantError(() => h.addSync(x, 96, { device: 'gpu' as 'cpu' }), 'KQ_INVALID_ARGUMENT', /options\.device/);
    expectKquantError(() => solveGPTQSync(w, [rows, cols], hessianOn('cpu', x, cols), { device: 'gpu' as 'cpu' }), 'KQ_INVALID_ARGUMENT', /options\.device/);
  });
});

describe.skipIf(!info.cuda.available)(`GPTQ on CUDA (${info.cuda.available ? info.cuda.devices[0]?.name : info.cuda.reason})`, () => {
  it.each([37, 200, 300])('the Hessian matches the CPU (cols %i, f32/f16/bf16)', (cols) => {
    const x = activations(130, cols, cols);
    const inputs = [
      { data: x, dtype: 'float32' as const },
      { data: toFloat16Sync(x, { device: 'cpu' }), dtype: 'float16' as const },
      { data: toBFloat16Sync(x, { device: 'cpu' }), dtype: 'bfloat16' as const },
    ];
    for (const { data, dtype } of inputs) {
      const cpu = new GPTQHessian(cols);
      const gpu = new GPTQHessian(cols);
      cpu.addSync(data, 130, { dtype, device: 'cpu' });
      gpu.addSync(data, 130, { dtype, device: 'cuda' });
      let worst = 0;
      for (let i = 0; i < cols; i++)
        for (let j = 0; j < cols; j++) {
          const bound = Math.sqrt(cpu.h[i * cols + i]! * cpu.h[j * cols + j]!);
          if (bound > 0) worst = Math.max(worst, Math.abs(gpu.h[i * cols + j]! - cpu.h[i * cols + j]!) / bound);
          expect(gpu.h[i * cols + j]).toBe(gpu.h[j * cols + i]);
        }
      expect(worst).toBeLessThanOrEqual(HESSIAN_TOLERANCE);
    }
  });

  const configs: GPTQOptions[] = [
    { bits: 4, groupSize: 128 },
    { bits: 3, groupSize: 64, sym: false, actOrder: true },
    { bits: 4, groupSize: -1 },
    { bits: 8, groupSize: 32, sym: false, actOrder: true, staticGroups: true, mse: true },
    { bits: 2, groupSize: 50, sym: false, blockSize: 100 },
  ];
  it.each(configs)('the solve matches the CPU %j', async (options) => {
    const rows = 67;
    const cols = 300;
    const h = hessianOn('cpu', activations(600, cols, 5), cols);
    const w = weight(rows, cols, 6);
    const cpu = solveGPTQSync(w, [rows, cols], h, { ...options, device: 'cpu' });
    const gpu = await solveGPTQ(w, [rows, cols], h, { ...options, device: 'cuda' });
    let equal = 0;
    for (let i = 0; i < cpu.codes.length; i++) equal += cpu.codes[i] === gpu.codes[i] ? 1 : 0;
    expect(equal / cpu.codes.length).toBeGreaterThanOrEqual(CODES_EQUAL);
    expect(gpu.gIdx).toEqual(cpu.gIdx);
    expect(gpu.perm).toEqual(cpu.perm);
    for (let i = 0; i < cpu.groupScales.length; i++) {
      expect(relative(gpu.groupScales[i]!, cpu.groupScales[i]!)).toBeLessThanOrEqual(ERROR_TOLERANCE);
      expect(Math.abs(gpu.groupZeros[i]! - cpu.groupZeros[i]!)).toBeLessThanOrEqual(1);
    }
    expect(relative(gpu.loss, cpu.loss)).toBeLessThanOrEqual(ERROR_TOLERANCE);
    expect(relative(gpu.error!, cpu.error!)).toBeLessThanOrEqual(ERROR_TOLERANCE);
  });
});
