// Static activation quantization: observers across batches, clipping choices, and dynamic per-token
// quantization.
import { describe, expect, it } from 'vitest';
import {
  HistogramObserver,
  KquantError,
  MinMaxObserver,
  dequantizeAbsmaxSync,
  dequantizeZeroPointSync,
  quantizeAbsmaxSync,
  quantizePerToken,
  quantizePerTokenSync,
  quantizeStaticSync,
  quantizeZeroPointSync,
  type AbsmaxQuantized,
  type ZeroPointQuantized,
} from '../lib/index.js';
import { randomFloats } from './helpers/random.js';

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe('MinMaxObserver', () => {
  it('tracks the range over batches and reproduces dynamic quantization of their union', async () => {
    const batches = [randomFloats(5000, 1), randomFloats(7000, 2, 3), randomFloats(3000, 3, 0.5)];
    const observer = new MinMaxObserver();
    observer.observeSync(batches[0]!);
    await observer.observe(batches[1]!);
    observer.observeSync(batches[2]!);
    const all = new Float32Array(15000);
    all.set(batches[0]!, 0);
    all.set(batches[1]!, 5000);
    all.set(batches[2]!, 12000);
    expect(observer.min![0]).toBe(Math.min(...all));
    expect(observer.max![0]).toBe(Math.max(...all));
    // Parameters from the observed range equal what dynamic quantization derives for the same data.
    for (const dtype of ['int8', 'uint8'] as const) {
      const params = observer.params({ scheme: 'zeroPoint', dtype });
      const dynamic = quantizeZeroPointSync(all, { dtype });
      expect(params.scale).toBe(dynamic.scale);
      expect(params.zeroPoint).toBe(dynamic.zeroPoint);
      expect(quantizeStaticSync(all, params).values).toEqual(dynamic.values);
    }
    const absmax = observer.params();
    expect(quantizeStaticSync(all, absmax).values).toEqual(quantizeAbsmaxSync(all).values);
  });

  it('observes per channel', () => {
    const observer = new MinMaxObserver({ axis: 1 });
    const a = randomFloats(8 * 16, 4);
    const b = randomFloats(4 * 16, 5, 2);
    observer.observeSync(a, { shape: [8, 16] });
    observer.observeSync(b, { shape: [4, 16] });
    expect(observer.min!.length).toBe(16);
    for (let c = 0; c < 16; c++) {
      let lo = Infinity;
      for (let r = 0; r < 8; r++) lo = Math.min(lo, a[r * 16 + c]!);
      for (let r = 0; r < 4; r++) lo = Math.min(lo, b[r * 16 + c]!);
      expect(observer.min![c]).toBe(lo);
    }
    const params = observer.params();
    expect(params.granularity).toBe('channel');
    const q = quantizeStaticSync(b, params, { shape: [4, 16] });
    expect((q as AbsmaxQuantized).scales!.length).toBe(16);
    expect(() => observer.observeSync(randomFloats(10, 6), { shape: [2, 5] })).toThrow(KquantError);
  });

  it('values past the calibrated range saturate', () => {
    const observer = new MinMaxObserver();
    observer.observeSync(Float32Array.from([-1, 1]));
    const q = quantizeStaticSync(Float32Array.from([5, -5, 0.5]), observer.params());
    expect(Array.from(q.values)).toEqual([127, -127, 64]);
  });

  it('refuses params before any data', () => {
    expect(() => new MinMaxObserver().params()).toThrow(/seen no data/);
  });
});

describe('HistogramObserver', () => {
  // Gaussian activations with a few huge outliers: min/max wastes the grid on the outliers.
  function activations(seed: number): Float32Array {
    const x = randomFloats(50_000, seed);
    for (let i = 0; i < 10; i++) x[i * 4999] = (i % 2 ? -1 : 1) * 80;
    return x;
  }

  it('keeps exact counts while its range grows', () => {
    const observer = new HistogramObserver({ bins: 256 });
    observer.observeSync(randomFloats(10_000, 8, 0.1));
    const firstRange = observer.range;
    observer.observeSync(randomFloats(10_000, 9, 10));
    expect(observer.range).toBeGreaterThan(firstRange);
    expect(observer.histogram.reduce((a, b) => a + b, 0)).toBe(20_000);
  });

  it('clips at the empirical percentile of |x|, to one bin width', () => {
    const calib = [activations(11), activations(12)];
    const hist = new HistogramObserver();
    for (const batch of calib) hist.observeSync(batch);
    const sorted = Float64Array.from([...calib[0]!, ...calib[1]!].map(Math.abs)).sort();
    const width = hist.range / hist.bins;
    for (const p of [50, 99, 99.9, 99.99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      const clip = hist.clip({ method: 'percentile', percentile: p });
      expect(Math.abs(clip - exact), `p=${p}`).toBeLessThanOrEqual(width);
    }
    expect(hist.clip({ method: 'percentile', percentile: 100 })).toBe(80);
  });

  it('MSE clipping beats min/max on heavy-tailed activations', async () => {
    // Laplace-distributed values: long tails where a tighter grid pays for the clipped few.
    const laplace = (seed: number) => randomFloats(50_000, seed).map((u) => Math.sign(u) * -Math.log(1 - Math.min(Math.abs(u) / 4, 0.999999)) * 2);
    const calib = [laplace(11), laplace(12)];
    const test = laplace(13);
    const hist = new HistogramObserver();
    const minmax = new MinMaxObserver();
    for (const batch of calib) {
      await hist.observe(batch);
      minmax.observeSync(batch);
    }
    const absmax = Math.max(-minmax.min![0]!, minmax.max![0]!);
    expect(hist.clip({ method: 'mse' })).toBeLessThan(absmax);
    const error = (p: Parameters<typeof quantizeStaticSync>[1]) => mse(test, dequantizeAbsmaxSync(quantizeStaticSync(test, p) as AbsmaxQuantized));
    expect(error(hist.params({ method: 'mse' }))).toBeLessThan(error(minmax.params()));
    const zq = quantizeStaticSync(test, hist.params({ method: 'mse' }, { scheme: 'zeroPoint', dtype: 'uint8' })) as ZeroPointQuantized;
    expect(mse(test, dequantizeZeroPointSync(zq))).toBeLessThan(error(minmax.params()));
  });

  it('rejects bad settings', () => {
    expect(() => new HistogramObserver({ bins: 7 })).toThrow(KquantError);
    const h = new HistogramObserver();
    expect(() => h.clip({ method: 'mse' })).toThrow(/seen no data/);
    h.observeSync(randomFloats(100, 1));
    expect(() => h.clip({ method: 'percentile', percentile: 0 })).toThrow(/method.percentile/);
  });
});

describe('dynamic per-token quantization', () => {
  it('scales each token (row) by its own absmax', async () => {
    const tokens = 9;
    const hidden = 33;
    const x = randomFloats(tokens * hidden, 21);
    for (let i = 0; i < hidden; i++) x[4 * hidden + i] = x[4 * hidden + i]! * 100;
    const q = quantizePerTokenSync(x, [tokens, hidden]) as AbsmaxQuantized;
    expect(q.scales!.length).toBe(tokens);
    for (let t = 0; t < tokens; t++) {
      const row = x.subarray(t * hidden, (t + 1) * hidden);
      expect(q.scales![t]).toBe(Math.fround(127 / Math.max(...row.map(Math.abs))));
    }
    const z = (await quantizePerToken(x, [tokens, hidden], { scheme: 'zeroPoint', dtype: 'uint8' })) as ZeroPointQuantized;
    expect(z.zeroPoints!.length).toBe(tokens);
    expect(() => quantizePerTokenSync(x, [tokens * hidden] as unknown as [number, number])).toThrow(/\[tokens, hidden\]/);
  });
});
