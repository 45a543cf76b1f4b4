// LLM.int8() (bitsandbytes `int8_vectorwise_quant`, `int8_vectorwise_dequant`, `int8_linear_matmul`,
// `int8_mm_dequant` and Linear8bitLt's mixed decomposition), specified in test/fixtures/bnb/README.md
// section 4.8. The int32 GEMM (int8MatmulInt32 and the int8 part of int8Matmul) runs on options.device
// ('cpu' | 'cuda' | 'auto', default 'auto'); it is exact in integers, so every device gives the same bits.
// Quantization, dequantization and the outlier part run on the CPU.
//
// Vector-wise quantization of a matrix [rows, cols]: with threshold t > 0 the elements with |a| >= t are
// outliers and their columns `outlierCols`; rowStats[r] = max |a| over the row's other elements; q =
// round_half_even(a · (127 · (1 / rowStats[r]))) in f32, outlier columns zeroed in every row (rows > 1; a single
// row zeroes only its outlier elements), a zero row gives 0. Dequantization: (q · rowStats) · f32(1/127).
// The int8 matmul accumulates A_i8 · B_i8ᵀ exactly in int32 and dequantizes with
// acc · rowStatsA[i] · rowStatsB[j] · 6.200012e-05 (bnb's CUDA constant; its torch backend uses 6.200124e-05).
//
// Input is f32, or f16 bits in a Uint16Array with dtype 'float16' (widened to f32 exactly); the threshold is
// rounded to f32. NaN or ±Infinity in the input is rejected (KQ_NON_FINITE).
import { resolveDevice, type Device } from '../backend.js';
import { native, type DeviceCode } from '../binding.js';
import { callAsync, callSync } from '../errors.js';
import { fromFloat16, fromFloat16Sync, toFloat16Sync } from './convert.js';
import { describe, expectFiniteNumber, expectObject, expectOneOf, fail } from '../validate.js';

export type Int8InputDType = 'float32' | 'float16';

/** f32 of 1/127 (bits 0x3c010204), the factor of vector-wise dequantization. */
export const INT8_DEQUANT_SCALE = Math.fround(0.007874015718698502);
/** bnb's CUDA int8_mm_dequant constant (the torch `default` backend uses 6.200124e-05). */
export const INT8_MATMUL_DEQUANT_SCALE = Math.fround(6.200012e-5);
/** Longest inner dimension whose int32 accumulators cannot overflow. */
export const INT8_MAX_INNER = 131071;

export interface Int8VectorwiseOptions {
  /** Outlier threshold: |a| >= threshold is an outlier when > 0; 0 (default) turns outliers off. */
  threshold?: number;
  /** 'float32' for a Float32Array (default); 'float16' for a Uint16Array of bits. */
  dtype?: Int8InputDType;
}

export interface Int8Vectorwise {
  /** int8 codes, row-major [rows, cols]. */
  values: Int8Array;
  /** f32 max |a| over each row's non-outlier elements (bnb's row_stats / SCB). */
  rowStats: Float32Array;
  /** Ascending indices of the outlier columns; null when the threshold is 0. */
  outlierCols: Int32Array | null;
}

/** A Linear8bitLt weight: int8 [n, k] row-major with one f32 scale per row (SCB). */
export interface Int8Weight {
  values: Int8Array;
  rowStats: Float32Array;
  shape: readonly [number, number];
}

export interface Int8MatmulOptions {
  /** Outlier threshold of the activations (default 6.0, LLM.int8's); 0 disables the decomposition. */
  threshold?: number;
  /** dtype of x: 'float32' (default) or 'float16' (Uint16Array bits). */
  dtype?: Int8InputDType;
  /** dtype of float weights; defaults to options.dtype. */
  weightDtype?: Int8InputDType;
  /** Where the int8 GEMM runs: 'cpu', 'cuda' or 'auto' (default: CUDA when usable). */
  device?: Device;
}

export interface Int8MatmulInt32Options {
  /** Where the GEMM runs: 'cpu', 'cuda' or 'auto' (default: CUDA when usable). Results are identical. */
  device?: Device;
}

const DTYPES = ['float32', 'float16'] as const;

// ---- argument checks ----

function expectMatrixShape(value: unknown, name: string, length: number, dataName: string): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail('KQ_SHAPE', `Expected [rows, cols] for ${name} but received ${describe(value)}`);
  value.forEach((dim, i) => {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 1) {
      fail('KQ_SHAPE', `Expected a positive integer for ${name}[${i}] but received ${describe(dim)}`);
    }
  });
  const [rows, cols] = value as [number, number];
  if (rows * cols !== length) fail('KQ_LENGTH', `${name} [${rows}, ${cols}] holds ${rows * cols} elements but ${dataName} has ${length}`);
  return [rows, cols];
}

function expectThreshold(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const t = expectFiniteNumber(value, name);
  if (t < 0) fail('KQ_INVALID_ARGUMENT', `Expected ${name} >= 0 but received ${t}`);
  return t;
}

interface Input {
  src: Float32Array | Uint16Array;
  dtype: Int8InputDType;
}

function planInput(srcArg: unknown, dtypeArg: unknown, name: string, dtypeName: string): Input {
  if (dtypeArg === undefined && srcArg instanceof Uint16Array) {
    fail('KQ_DTYPE', `Expected ${dtypeName} 'float16' for a Uint16Array ${name} but received undefined`);
  }
  const dtype = expectOneOf(dtypeArg ?? 'float32', dtypeName, DTYPES);
  if (dtype === 'float32' && !(srcArg instanceof Float32Array)) {
    fail('KQ_DTYPE', `Expected a Float32Array for ${name} (${dtypeName} 'float32') but received ${describe(srcArg)}`);
  }
  if (dtype === 'float16' && !(srcArg instanceof Uint16Array)) {
    fail('KQ_DTYPE', `Expected a Uint16Array of float16 bits for ${name} (${dtypeName} 'float16') but received ${describe(srcArg)}`);
  }
  return { src: srcArg as Float32Array | Uint16Array, dtype };
}

function widenSync(input: Input): Float32Array {
  return input.dtype === 'float32' ? (input.src as Float32Array) : fromFloat16Sync(input.src as Uint16Array, { device: 'cpu' });
}

async function widenAsync(input: Input): Promise<Float32Array> {
  return input.dtype === 'float32' ? (input.src as Float32Array) : fromFloat16(input.src as Uint16Array, { device: 'cpu' });
}

// ---- vector-wise quantization ----

interface QuantizePlan {
  rows: number;
  cols: number;
  threshold: number;
  values: Int8Array;
  rowStats: Float32Array;
  mask: Uint8Array | null;
}

function newQuantizePlan(rows: number, cols: number, threshold: number): QuantizePlan {
  return { rows, cols, threshold, values: new Int8Array(rows * cols), rowStats: new Float32Array(rows), mask: threshold > 0 ? new Uint8Array(cols) : null };
}

function runQuantize<A extends boolean>(p: QuantizePlan, src: Float32Array, async: A) {
  return native.int8VectorwiseQuantize(src, p.rows, p.cols, p.threshold, p.values, p.rowStats, p.mask, async);
}

function outlierCols(mask: Uint8Array | null): Int32Array | null {
  if (!mask) return null;
  const cols: number[] = [];
  for (let c = 0; c < mask.length; c++) if (mask[c]) cols.push(c);
  return Int32Array.from(cols);
}

function quantizeResult(p: QuantizePlan): Int8Vectorwise {
  return { values: p.values, rowStats: p.rowStats, outlierCols: outlierCols(p.mask) };
}

function planVectorwise(xArg: unknown, shapeArg: unknown, optionsArg: unknown): { input: Input; plan: QuantizePlan } {
  const options = expectObject(optionsArg, 'options');
  const input = planInput(xArg, options.dtype, 'x', 'options.dtype');
  const [rows, cols] = expectMatrixShape(shapeArg, 'shape', input.src.length, 'x');
  const threshold = expectThreshold(options.threshold, 'options.threshold', 0);
  return { input, plan: newQuantizePlan(rows, cols, threshold) };
}

/** bnb `int8_vectorwise_quant`: int8 codes, f32 row statistics and (threshold > 0) the outlier columns. */
export async function int8VectorwiseQuantize(x: Float32Array | Uint16Array, shape: readonly [number, number], options?: Int8VectorwiseOptions): Promise<Int8Vectorwise> {
  const { input, plan } = planVectorwise(x, shape, options);
  const src = await widenAsync(input);
  await callAsync(() => runQuantize(plan, src, true));
  return quantizeResult(plan);
}

export function int8VectorwiseQuantizeSync(x: Float32Array | Uint16Array, shape: readonly [number, number], options?: Int8VectorwiseOptions): Int8Vectorwise {
  const { input, plan } = planVectorwise(x, shape, options);
  callSync(() => runQuantize(plan, widenSync(input), false));
  return quantizeResult(plan);
}

// ---- vector-wise dequantization ----

function expectRowStats(value: unknown, name: string, length: number): Float32Array {
  if (!(value instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for ${name} but received ${describe(value)}`);
  if (value.length !== length) fail('KQ_LENGTH', `Expected ${name} to have ${length} entries (one per row) but received ${value.length}`);
  for (let i = 0; i < value.length; i++) {
    const v = value[i]!;
    if (v - v !== 0) fail('KQ_NON_FINITE', `Expected finite values in ${name} but ${name}[${i}] is ${v}`);
    if (v < 0) fail('KQ_INVALID_ARGUMENT', `Expected ${name} >= 0 but ${name}[${i}] is ${v}`);
  }
  return value;
}

function expectInt8(value: unknown, name: string): Int8Array {
  if (!(value instanceof Int8Array)) fail('KQ_DTYPE', `Expected an Int8Array for ${name} but received ${describe(value)}`);
  return value;
}

function planDequantize(qArg: unknown, shapeArg: unknown) {
  const q = expectObject(qArg, 'q');
  const values = expectInt8(q.values, 'q.values');
  const [rows, cols] = expectMatrixShape(shapeArg, 'shape', values.length, 'q.values');
  const rowStats = expectRowStats(q.rowStats, 'q.rowStats', rows);
  return { values, rows, cols, rowStats, out: new Float32Array(values.length) };
}

/** bnb `int8_vectorwise_dequant`: (q · rowStats) · f32(1/127), two f32 roundings. */
export async function int8VectorwiseDequantize(q: Pick<Int8Vectorwise, 'values' | 'rowStats'>, shape: readonly [number, number]): Promise<Float32Array> {
  const p = planDequantize(q, shape);
  await callAsync(() => native.int8VectorwiseDequantize(p.values, p.rows, p.cols, p.rowStats, p.out, true));
  return p.out;
}

export function int8VectorwiseDequantizeSync(q: Pick<Int8Vectorwise, 'values' | 'rowStats'>, shape: readonly [number, number]): Float32Array {
  const p = planDequantize(q, shape);
  callSync(() => native.int8VectorwiseDequantize(p.values, p.rows, p.cols, p.rowStats, p.out, false));
  return p.out;
}

// ---- weights and the raw int8 GEMM ----

/** Linear8bitLt's weight format: vector-wise quantization with threshold 0 of float weights [n, k]. */
export async function int8PrepareWeight(w: Float32Array | Uint16Array, shape: readonly [number, number], options?: { dtype?: Int8InputDType }): Promise<Int8Weight> {
  const dtype = expectObject(options, 'options').dtype;
  const q = await int8VectorwiseQuantize(w, shape, { dtype: dtype as Int8InputDType | undefined });
  return { values: q.values, rowStats: q.rowStats, shape: [shape[0], shape[1]] };
}

export function int8PrepareWeightSync(w: Float32Array | Uint16Array, shape: readonly [number, number], options?: { dtype?: Int8InputDType }): Int8Weight {
  const dtype = expectObject(options, 'options').dtype;
  const q = int8VectorwiseQuantizeSync(w, shape, { dtype: dtype as Int8InputDType | undefined });
  return { values: q.values, rowStats: q.rowStats, shape: [shape[0], shape[1]] };
}

function planMatmulI32(aArg: unknown, aShape: unknown, bArg: unknown, bShape: unknown, optionsArg: unknown) {
  const options = expectObject(optionsArg, 'options');
  const a = expectInt8(aArg, 'a');
  const b = expectInt8(bArg, 'b');
  const [m, k] = expectMatrixShape(aShape, 'aShape', a.length, 'a');
  const [n, kb] = expectMatrixShape(bShape, 'bShape', b.length, 'b');
  if (kb !== k) fail('KQ_SHAPE', `Expected bShape[1] to equal aShape[1] (${k}) but received ${kb}`);
  if (k > INT8_MAX_INNER) fail('KQ_TOO_LARGE', `k = ${k} could overflow the int32 accumulators; at most ${INT8_MAX_INNER}`);
  return { a, b, m, n, k, c: new Int32Array(m * n), device: resolveDevice(options.device) };
}

/** bnb `int8_linear_matmul`: C_i32 [m, n] = A_i8 [m, k] · B_i8 [n, k]ᵀ, exact. */
export async function int8MatmulInt32(a: Int8Array, aShape: readonly [number, number], b: Int8Array, bShape: readonly [number, number], options?: Int8MatmulInt32Options): Promise<Int32Array> {
  const p = planMatmulI32(a, aShape, b, bShape, options);
  await callAsync(() => native.int8MatmulI32(p.a, p.b, p.m, p.n, p.k, p.c, p.device, true));
  return p.c;
}

export function int8MatmulInt32Sync(a: Int8Array, aShape: readonly [number, number], b: Int8Array, bShape: readonly [number, number], options?: Int8MatmulInt32Options): Int32Array {
  const p = planMatmulI32(a, aShape, b, bShape, options);
  callSync(() => native.int8MatmulI32(p.a, p.b, p.m, p.n, p.k, p.c, p.device, false));
  return p.c;
}

function planMmDequant(accArg: unknown, shape: unknown, raArg: unknown, rbArg: unknown) {
  if (!(accArg instanceof Int32Array)) fail('KQ_DTYPE', `Expected an Int32Array for acc but received ${describe(accArg)}`);
  const [m, n] = expectMatrixShape(shape, 'shape', accArg.length, 'acc');
  return { acc: accArg, m, n, ra: expectRowStats(raArg, 'rowStatsA', m), rb: expectRowStats(rbArg, 'rowStatsB', n), out: new Float32Array(m * n) };
}

/** bnb `int8_mm_dequant` (CUDA): ((acc · rowStatsA[i]) · rowStatsB[j]) · 6.200012e-05 in f32. */
export async function int8MatmulDequantize(acc: Int32Array, shape: readonly [number, number], rowStatsA: Float32Array, rowStatsB: Float32Array): Promise<Float32Array> {
  const p = planMmDequant(acc, shape, rowStatsA, rowStatsB);
  await callAsync(() => native.int8MatmulDequantize(p.acc, p.m, p.n, p.ra, p.rb, p.out, true));
  return p.out;
}

export function int8MatmulDequantizeSync(acc: Int32Array, shape: readonly [number, number], rowStatsA: Float32Array, rowStatsB: Float32Array): Float32Array {
  const p = planMmDequant(acc, shape, rowStatsA, rowStatsB);
  callSync(() => native.int8MatmulDequantize(p.acc, p.m, p.n, p.ra, p.rb, p.out, false));
  return p.out;
}

// ---- LLM.int8 matmul ----

interface MatmulPlan {
  x: Input;
  m: number;
  k: number;
  n: number;
  threshold: number;
  /** Float weights to quantize, or a prepared weight. */
  wFloat: Input | null;
  wPrepared: Int8Weight | null;
  device: DeviceCode;
}

function planMatmul(xArg: unknown, xShape: unknown, wArg: unknown, optionsArg: unknown): MatmulPlan {
  const options = expectObject(optionsArg, 'options');
  const x = planInput(xArg, options.dtype, 'x', 'options.dtype');
  const [m, k] = expectMatrixShape(xShape, 'xShape', x.src.length, 'x');
  const threshold = expectThreshold(options.threshold, 'options.threshold', 6.0);
  const device = resolveDevice(options.device);
  if (k > INT8_MAX_INNER) fail('KQ_TOO_LARGE', `k = ${k} could overflow the int32 accumulators; at most ${INT8_MAX_INNER}`);
  if (wArg instanceof Float32Array || wArg instanceof Uint16Array) {
    const w = planInput(wArg, options.weightDtype ?? (wArg instanceof Uint16Array ? options.dtype : undefined), 'w', 'options.weightDtype');
    if (w.src.length === 0 || w.src.length % k !== 0) {
      fail('KQ_LENGTH', `Expected w to hold [n, ${k}] elements (a positive multiple of k = ${k}) but received ${w.src.length}`);
    }
    return { x, m, k, n: w.src.length / k, threshold, wFloat: w, wPrepared: null, device };
  }
  if (wArg === null || typeof wArg !== 'object' || Array.isArray(wArg) || ArrayBuffer.isView(wArg)) {
    fail('KQ_DTYPE', `Expected float weights (Float32Array or Uint16Array) or a prepared { values, rowStats, shape } for w but received ${describe(wArg)}`);
  }
  const wo = wArg as Record<string, unknown>;
  const values = expectInt8(wo.values, 'w.values');
  const [n, kw] = expectMatrixShape(wo.shape, 'w.shape', values.length, 'w.values');
  if (kw !== k) fail('KQ_SHAPE', `Expected w.shape[1] to equal xShape[1] (${k}) but received ${kw}`);
  const rowStats = expectRowStats(wo.rowStats, 'w.rowStats', n);
  return { x, m, k, n, threshold, wFloat: null, wPrepared: { values, rowStats, shape: [n, k] }, device };
}

// The outlier columns of x and of the dequantized weight, gathered [rows, o]. The weight columns are
// int8_vectorwise_dequant of the int8 weight, cast to x's dtype as bnb's Linear8bitLt does (subB).
function gatherOutliers(p: MatmulPlan, x32: Float32Array, w: Int8Weight, cols: Int32Array) {
  const o = cols.length;
  const xo = new Float32Array(p.m * o);
  const wo = new Float32Array(p.n * o);
  for (let i = 0; i < p.m; i++) for (let c = 0; c < o; c++) xo[i * o + c] = x32[i * p.k + cols[c]!]!;
  for (let j = 0; j < p.n; j++) {
    const s = w.rowStats[j]!;
    for (let c = 0; c < o; c++) wo[j * o + c] = Math.fround(Math.fround(w.values[j * p.k + cols[c]!]! * s) * INT8_DEQUANT_SCALE);
  }
  const woCast = p.x.dtype === 'float16' && o > 0 ? fromFloat16Sync(toFloat16Sync(wo, { device: 'cpu' }), { device: 'cpu' }) : wo;
  return { xo, wo: woCast, o };
}

function runLinear<A extends boolean>(p: MatmulPlan, qx: QuantizePlan, w: Int8Weight, g: ReturnType<typeof gatherOutliers>, out: Float32Array, async: A) {
  return native.int8Linear(qx.values, qx.rowStats, w.values, w.rowStats, p.m, p.n, p.k, g.xo, g.wo, g.o, out, p.device, async);
}

/**
 * LLM.int8() matmul (Linear8bitLt inference): x [m, k] times w [n, k]ᵀ -> Float32Array [m, n]. x is quantized
 * vector-wise with options.threshold (default 6.0); w is either float weights (quantized with threshold 0,
 * as Linear8bitLt stores them) or a prepared Int8Weight. The result is the dequantized int8 product plus the
 * outlier part x[:, outlierCols] · w'[:, outlierCols]ᵀ accumulated in f64, where w' is the dequantized int8
 * weight cast to x's dtype (bnb's subB), rounded once to f32.
 */
export async function int8Matmul(x: Float32Array | Uint16Array, xShape: readonly [number, number], w: Float32Array | Uint16Array | Int8Weight, options?: Int8MatmulOptions): Promise<Float32Array> {
  const p = planMatmul(x, xShape, w, options);
  const x32 = await widenAsync(p.x);
  let weight = p.wPrepared;
  if (!weight) {
    const wq = newQuantizePlan(p.n, p.k, 0);
    const w32 = await widenAsync(p.wFloat!);
    await callAsync(() => runQuantize(wq, w32, true));
    weight = { values: wq.values, rowStats: wq.rowStats, shape: [p.n, p.k] };
  }
  const qx = newQuantizePlan(p.m, p.k, p.threshold);
  await callAsync(() => runQuantize(qx, x32, true));
  const g = gatherOutliers(p, x32, weight, outlierCols(qx.mask) ?? new Int32Array(0));
  const out = new Float32Array(p.m * p.n);
  const wfinal = weight;
  await callAsync(() => runLinear(p, qx, wfinal, g, out, true));
  return out;
}

export function int8MatmulSync(x: Float32Array | Uint16Array, xShape: readonly [number, number], w: Float32Array | Uint16Array | Int8Weight, options?: Int8MatmulOptions): Float32Array {
  const p = planMatmul(x, xShape, w, options);
  const x32 = widenSync(p.x);
  let weight = p.wPrepared;
  if (!weight) {
    const wq = newQuantizePlan(p.n, p.k, 0);
    callSync(() => runQuantize(wq, widenSync(p.wFloat!), false));
    weight = { values: wq.values, rowStats: wq.rowStats, shape: [p.n, p.k] };
  }
  const qx = newQuantizePlan(p.m, p.k, p.threshold);
  callSync(() => runQuantize(qx, x32, false));
  const g = gatherOutliers(p, x32, weight, outlierCols(qx.mask) ?? new Int32Array(0));
  const out = new Float32Array(p.m * p.n);
  const wfinal = weight;
  callSync(() => runLinear(p, qx, wfinal, g, out, false));
  return out;
}
