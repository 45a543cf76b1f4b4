// Calibration observers for static activation quantization: feed representative batches, then read
// parameters for quantizeStatic. MinMaxObserver keeps the running range (per tensor or per channel);
// HistogramObserver keeps a histogram of |x| and clips at a percentile or where the expected squared
// error is smallest (outliers otherwise stretch the grid for every other value).
import { native, Scheme } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { groupLayout, type GroupLayout } from './layout.js';
import type { QuantDType, QuantParams } from './linear.js';
import { expectFloat32Array, expectInteger, expectNonEmpty, expectObject, expectOneOf, expectShape, fail } from '../validate.js';

export interface ParamsOptions {
  scheme?: 'absmax' | 'zeroPoint';
  dtype?: QuantDType;
}

interface Range {
  mins: Float32Array;
  maxs: Float32Array;
}

function paramsFromRange(range: Range, optionsArg: unknown, granularity: 'tensor' | 'channel', axis?: number): QuantParams {
  const options = expectObject(optionsArg, 'options');
  const scheme = expectOneOf(options.scheme ?? 'absmax', 'options.scheme', ['absmax', 'zeroPoint'] as const);
  const dtype = scheme === 'absmax' ? 'int8' : expectOneOf(options.dtype ?? 'int8', 'options.dtype', ['int8', 'uint8'] as const);
  const count = range.mins.length;
  const scales = new Float32Array(count);
  const zeroPoints = new Int32Array(count);
  native.linearParams(scheme === 'absmax' ? Scheme.absmax : Scheme.zeroPoint, dtype === 'int8', range.mins, range.maxs, scales, zeroPoints);
  const base = { scheme, dtype, granularity } as const;
  if (granularity === 'tensor') return scheme === 'absmax' ? { ...base, scale: scales[0]! } : { ...base, scale: scales[0]!, zeroPoint: zeroPoints[0]! };
  return scheme === 'absmax' ? { ...base, axis: axis!, scales } : { ...base, axis: axis!, scales, zeroPoints };
}

function noDataYet(): never {
  return fail('KQ_INVALID_ARGUMENT', 'The observer has seen no data: call observe() with a calibration batch first');
}

export interface MinMaxObserverOptions {
  /** Track one range per index along this axis of each batch's shape (per channel). */
  axis?: number;
  device?: Device;
}

export interface ObserveOptions {
  shape?: readonly number[];
}

/** Running min/max over every batch observed. */
export class MinMaxObserver {
  readonly axis?: number;
  private readonly device: Device | undefined;
  private range?: Range;

  constructor(options?: MinMaxObserverOptions) {
    const o = expectObject(options, 'options');
    if (o.axis !== undefined) this.axis = expectInteger(o.axis, 'options.axis', -8, 7);
    this.device = o.device as Device | undefined;
  }

  get min(): Float32Array | undefined {
    return this.range?.mins;
  }

  get max(): Float32Array | undefined {
    return this.range?.maxs;
  }

  async observe(x: Float32Array, options?: ObserveOptions): Promise<void> {
    const batch = this.plan(x, options);
    await callAsync(() => native.linearMinmax(batch.x, batch.layout.outer, batch.layout.channels, batch.layout.inner, batch.mins, batch.maxs, batch.device, true));
    this.merge(batch);
  }

  observeSync(x: Float32Array, options?: ObserveOptions): void {
    const batch = this.plan(x, options);
    callSync(() => native.linearMinmax(batch.x, batch.layout.outer, batch.layout.channels, batch.layout.inner, batch.mins, batch.maxs, batch.device, false));
    this.merge(batch);
  }

  params(options?: ParamsOptions): QuantParams {
    if (!this.range) noDataYet();
    return paramsFromRange(this.range, options, this.axis === undefined ? 'tensor' : 'channel', this.axis);
  }

  private plan(xArg: unknown, optionsArg: unknown) {
    const x = expectFloat32Array(xArg, 'x');
    expectNonEmpty(x, 'x');
    const shape = expectShape(expectObject(optionsArg, 'options').shape ?? [x.length], 'options.shape', x.length);
    const layout: GroupLayout = groupLayout(shape, this.axis, undefined);
    if (this.range && this.range.mins.length !== layout.channels) {
      fail('KQ_SHAPE', `Expected ${this.range.mins.length} channels along axis ${this.axis} (as in earlier batches) but received ${layout.channels}`);
    }
    return { x, layout, mins: new Float32Array(layout.channels), maxs: new Float32Array(layout.channels), device: resolveDevice(this.device) };
  }

  private merge(batch: { mins: Float32Array; maxs: Float32Array }): void {
    if (!this.range) {
      this.range = { mins: batch.mins, maxs: batch.maxs };
      return;
    }
    for (let c = 0; c < batch.mins.length; c++) {
      this.range.mins[c] = Math.min(this.range.mins[c]!, batch.mins[c]!);
      this.range.maxs[c] = Math.max(this.range.maxs[c]!, batch.maxs[c]!);
    }
  }
}

export interface HistogramObserverOptions {
  /** Bins over [0, range); more bins resolve the clip point more finely. Default 2048. */
  bins?: number;
  device?: Device;
}

export type ClipMethod = { method: 'percentile'; percentile?: number } | { method: 'mse' };

/**
 * Per-tensor histogram of |x|. The range starts at the first batch's max |x| rounded up to a power of
 * two and doubles when a later batch exceeds it, merging bin pairs, so counts are never re-estimated.
 */
export class HistogramObserver {
  readonly bins: number;
  private readonly device: Device | undefined;
  private counts: Float64Array;
  private histRange = 0;
  private readonly minmax: MinMaxObserver;

  constructor(options?: HistogramObserverOptions) {
    const o = expectObject(options, 'options');
    this.bins = expectInteger(o.bins ?? 2048, 'options.bins', 16, 1 << 20);
    if (this.bins % 2 !== 0) fail('KQ_INVALID_ARGUMENT', `Expected an even number for options.bins but received ${this.bins}`);
    this.device = o.device as Device | undefined;
    this.minmax = new MinMaxObserver({ device: this.device });
    this.counts = new Float64Array(this.bins);
  }

  /** [0, range) is what the histogram covers now. */
  get range(): number {
    return this.histRange;
  }

  get histogram(): Float64Array {
    return this.counts;
  }

  async observe(x: Float32Array): Promise<void> {
    await this.minmax.observe(x);
    this.grow();
    await callAsync(() => native.histogramAbs(x, this.histRange, this.counts, true));
  }

  observeSync(x: Float32Array): void {
    this.minmax.observeSync(x);
    this.grow();
    callSync(() => native.histogramAbs(x, this.histRange, this.counts, false));
  }

  /** The |x| at which to clip: a percentile of |x|, or the MSE-optimal clip for the target grid. */
  clip(method: ClipMethod, options?: ParamsOptions): number {
    if (this.histRange === 0) noDataYet();
    const m = expectObject(method, 'method');
    const kind = expectOneOf(m.method, 'method.method', ['percentile', 'mse'] as const);
    const absmax = Math.max(-this.minmax.min![0]!, this.minmax.max![0]!);
    if (kind === 'percentile') {
      const p = m.percentile ?? 99.99;
      if (typeof p !== 'number' || !(p > 0 && p <= 100)) fail('KQ_INVALID_ARGUMENT', `Expected a number in (0, 100] for method.percentile but received ${String(p)}`);
      return Math.min(absmax, this.percentileClip(p));
    }
    const scheme = expectObject(options, 'options').scheme ?? 'absmax';
    return Math.min(absmax, this.mseClip(scheme === 'absmax' ? 127 : 127.5));
  }

  params(method: ClipMethod, options?: ParamsOptions): QuantParams {
    const c = this.clip(method, options);
    const mins = new Float32Array([Math.max(this.minmax.min![0]!, -c)]);
    const maxs = new Float32Array([Math.min(this.minmax.max![0]!, c)]);
    return paramsFromRange({ mins, maxs }, options, 'tensor');
  }

  private grow(): void {
    const absmax = Math.max(-this.minmax.min![0]!, this.minmax.max![0]!);
    if (this.histRange === 0) {
      this.histRange = absmax > 0 ? 2 ** Math.ceil(Math.log2(absmax * (1 + 2 ** -20))) : 1;
      return;
    }
    while (absmax >= this.histRange) {
      const merged = new Float64Array(this.bins);
      for (let b = 0; b < this.bins; b++) merged[b >> 1]! += this.counts[b]!;
      this.counts = merged;
      this.histRange *= 2;
    }
  }

  private percentileClip(percentile: number): number {
    const total = this.counts.reduce((a, b) => a + b, 0);
    const target = (percentile / 100) * total;
    const width = this.histRange / this.bins;
    let cumulative = 0;
    for (let b = 0; b < this.bins; b++) {
      cumulative += this.counts[b]!;
      if (cumulative >= target) return (b + 1) * width;
    }
    return this.histRange;
  }

  // Expected squared error of clipping at c with `levels` steps per side: values inside the clip see
  // uniform rounding noise step²/12, values outside lose their distance to c. Candidates are bin edges.
  private mseClip(levels: number): number {
    const width = this.histRange / this.bins;
    let best = this.histRange;
    let bestError = Infinity;
    for (let k = 1; k <= this.bins; k++) {
      const c = k * width;
      const step = c / levels;
      let err = 0;
      for (let b = 0; b < this.bins; b++) {
        const n = this.counts[b]!;
        if (n === 0) continue;
        const v = (b + 0.5) * width;
        err += v <= c ? (n * step * step) / 12 : n * (v - c) * (v - c);
      }
      if (err < bestError) {
        bestError = err;
        best = c;
      }
    }
    return best;
  }
}
