// BitNet weights: ternary {−1, 0, +1} (b1.58) and binary {−1, +1}, their packed storage, ggml's TQ1_0/TQ2_0
// blocks for GGUF, and the ternary GEMV with int8 per-token activations (native/ops/ternary/ternary.h).
//
// quantizeTernary — "The Era of 1-bit LLMs: All Large Language Models are in 1.58 Bits" (Ma et al. 2024),
// eq. 1–3, absmean quantization:
//   γ = (1/nm) Σ_ij |W_ij|,   W̃ = RoundClip(W / (γ + ε), −1, 1),   RoundClip(x, a, b) = max(a, min(b, round(x)))
// with ε = 1e-5 and the dequantized weight γ·W̃. Here γ is summed in f64 and stored as f32; W / (γ + ε) is
// evaluated in f64 (γ + ε too) and rounded half to even (PyTorch's round). 'per-row' takes γ over each row.
// The sums' order is fixed natively (native/ops/ternary/quantize.h: 8 f64 lanes per row, rows in order), so
// every SIMD level and CUDA give the same γ, α, β and trits; this module validates and calls native.
//
// quantizeBinary — "BitNet: Scaling 1-bit Transformers for Large Language Models" (Wang et al. 2023), eq. 1–4:
//   α = (1/nm) Σ_ij W_ij,   W̃ = Sign(W − α) with Sign(x) = +1 if x > 0 else −1,   β = (1/nm) ‖W‖₁
// and the dequantized weight β·W̃ (the paper rescales the output by β). α and β in f64, β stored as f32;
// 'per-row' takes α and β over each row. Binary results are trits too (no zeros), so they run on the same GEMV.
//
// Storage: '2bit' packs 4 trits per byte (trit 4j + i in bits 2i..2i+1 as t + 1); 'base3' packs 5 per byte
// as TQ1_0 does (1.6 bits/trit): q = Σ_i (t_{5j+i} + 1)·3^(4−i), stored as ⌈q·256 / 243⌉, and trit i read
// back as ((byte·3^i mod 256)·3) >> 8. ternaryToGGML writes TQ1_0 / TQ2_0 blocks through quantizeGGML:
// trit·γ has block absmax γ, so ggml's quantizer reproduces the trits exactly, with d = f16(γ).
//
// ternaryMatmul: y [m, n] = x [m, k] · (γ·W̃)ᵀ with x quantized per token as quantizePerToken does it:
// s = 127 / max|x|, q = rint(x·s) clamped to ±127 — BitLinear's absmax with Q_b = 127, x̃ = Clip(x·Q_b/γ_x,
// −Q_b + ε, Q_b − ε), rounded half to even as torch.round does (BitNet's reference code also floors max|x| at
// 1e-5, which only changes rows whose largest |x| is below 1e-5). Then y = (Σ t·q) · γ / s: an exact integer
// sum made only of additions and subtractions of the int8 activations, then two f32 roundings. The weight is
// held as plus/minus bit planes (2 bits per weight); AVX-512 and AVX2 look up per-group sums of activations by
// the bits (T-MAC style tables), the scalar reference and CUDA select activations by the bits (ternary.h).
// Every SIMD level gives the scalar reference's bits. CUDA (m = 1…16 per launch) is compiled but not yet run on a GPU.
import { DeviceCode, native, TernaryScheme, TritPackingCode } from '../binding.js';
import type { Device } from '../backend.js';
import { resolveDevice } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectFloat32Array, expectInteger, expectObject, expectOneOf, expectShape, fail } from '../validate.js';
import { dequantizeGGMLSync, quantizeGGMLSync } from './ggml.js';

/** ε of BitNet b1.58's RoundClip(W / (γ + ε)). */
export const TERNARY_EPSILON = 1e-5;
/** Elements per TQ1_0 / TQ2_0 block (ggml's QK_K). */
const TQ_BLOCK = 256;
const F16_MAX = 65504;
const F16_MIN_SUBNORMAL = 2 ** -24;

export type TernaryGranularity = 'per-tensor' | 'per-row';
export type TritPacking = '2bit' | 'base3';

/** Trits [n, k] and their scales: dequantized w[o, c] = trits[o·k + c] · scales[per-row ? o : 0]. */
export interface TernaryQuantized {
  /** Int8Array [n·k], row-major, values −1, 0, 1 (binary: −1, 1). */
  trits: Int8Array;
  /** γ (ternary, absmean) or β (binary, mean |W|): 1 value per tensor or n per row. */
  scales: Float32Array;
  shape: [number, number];
  granularity: TernaryGranularity;
  scheme: 'ternary' | 'binary';
  /** The per-tensor scale (scales[0]) when granularity is 'per-tensor'. */
  scale?: number;
}

export interface QuantizeTernaryOptions {
  /** 'absmean' (BitNet b1.58's, the only one). */
  scale?: 'absmean';
  /** 'per-tensor' (the paper's, default) or 'per-row'. */
  granularity?: TernaryGranularity;
  /** 'cpu' (default while the CUDA kernel awaits a GPU run), 'cuda' (KQ_CUDA_UNAVAILABLE without a GPU) or 'auto'. */
  device?: Device;
}

export interface QuantizeBinaryOptions {
  /** Where α and β are taken: 'per-tensor' (default) or 'per-row'. */
  scale?: TernaryGranularity;
  /** As QuantizeTernaryOptions.device. */
  device?: Device;
}

export interface DequantizeTernaryOptions {
  /** As QuantizeTernaryOptions.device. */
  device?: Device;
}

function weightAndShape(weightArg: unknown, shapeArg: unknown): { w: Float32Array; n: number; k: number } {
  const w = expectFloat32Array(weightArg, 'weight');
  const [n, k] = expectShape(shapeArg, 'shape', w.length) as [number, number];
  if ((shapeArg as unknown[]).length !== 2) fail('KQ_SHAPE', `Expected shape [n, k] but received ${describe(shapeArg)}`);
  if (n < 1 || k < 1) fail('KQ_SHAPE', `Expected n >= 1 and k >= 1 but received [${n}, ${k}]`);
  return { w, n, k };
}

function result(trits: Int8Array, scales: Float32Array, n: number, k: number, granularity: TernaryGranularity, scheme: TernaryQuantized['scheme']): TernaryQuantized {
  return { trits, scales, shape: [n, k], granularity, scheme, ...(granularity === 'per-tensor' ? { scale: scales[0]! } : {}) };
}

// The native call's arguments and the result it fills; non-finite weights come back as KQ_NON_FINITE
// naming the first one ("weight[i] is NaN"), found natively during the row sums.
function planQuantize(weightArg: unknown, shapeArg: unknown, scheme: TernaryQuantized['scheme'], granularity: TernaryGranularity, device: unknown) {
  const { w, n, k } = weightAndShape(weightArg, shapeArg);
  const perRow = granularity === 'per-row';
  const trits = new Int8Array(n * k);
  const scales = new Float32Array(perRow ? n : 1);
  const run = <A extends boolean>(async: A) => native.ternaryQuantize(w, n, k, TernaryScheme[scheme], perRow, trits, scales, resolveDevice(device ?? 'cpu'), async);
  const done = () => result(trits, scales, n, k, granularity, scheme);
  return { run, done };
}

function planTernary(weight: unknown, shape: unknown, optionsArg: unknown) {
  const opts = expectObject(optionsArg, 'options');
  expectOneOf(opts.scale ?? 'absmean', 'options.scale', ['absmean'] as const);
  const granularity = expectOneOf(opts.granularity ?? 'per-tensor', 'options.granularity', ['per-tensor', 'per-row'] as const);
  return planQuantize(weight, shape, 'ternary', granularity, opts.device);
}

/** BitNet b1.58 absmean ternarization of weight [n, k] (formula in this file's header), off the event loop. */
export async function quantizeTernary(weight: Float32Array, shape: readonly [number, number], options?: QuantizeTernaryOptions): Promise<TernaryQuantized> {
  const p = planTernary(weight, shape, options);
  await callAsync(() => p.run(true));
  return p.done();
}

export function quantizeTernarySync(weight: Float32Array, shape: readonly [number, number], options?: QuantizeTernaryOptions): TernaryQuantized {
  const p = planTernary(weight, shape, options);
  callSync(() => p.run(false));
  return p.done();
}

function planBinary(weight: unknown, shape: unknown, optionsArg: unknown) {
  const opts = expectObject(optionsArg, 'options');
  const granularity = expectOneOf(opts.scale ?? 'per-tensor', 'options.scale', ['per-tensor', 'per-row'] as const);
  return planQuantize(weight, shape, 'binary', granularity, opts.device);
}

/** BitNet (2023) binarization of weight [n, k]: sign(W − α), scale β = mean |W| (formula in this file's header), off the event loop. */
export async function quantizeBinary(weight: Float32Array, shape: readonly [number, number], options?: QuantizeBinaryOptions): Promise<TernaryQuantized> {
  const p = planBinary(weight, shape, options);
  await callAsync(() => p.run(true));
  return p.done();
}

export function quantizeBinarySync(weight: Float32Array, shape: readonly [number, number], options?: QuantizeBinaryOptions): TernaryQuantized {
  const p = planBinary(weight, shape, options);
  callSync(() => p.run(false));
  return p.done();
}

function expectQuantized(qArg: unknown, name: string): { trits: Int8Array; scales: Float32Array; n: number; k: number } {
  const q = expectObject(qArg, name);
  if (qArg === undefined) fail('KQ_INVALID_ARGUMENT', `Expected ${name} (quantizeTernary's result) but received undefined`);
  if (!(q.trits instanceof Int8Array)) fail('KQ_DTYPE', `Expected an Int8Array for ${name}.trits but received ${describe(q.trits)}`);
  const scales = expectFloat32Array(q.scales, `${name}.scales`);
  const [n, k] = expectShape(q.shape, `${name}.shape`, q.trits.length) as [number, number];
  if ((q.shape as unknown[]).length !== 2 || n < 1 || k < 1) fail('KQ_SHAPE', `Expected ${name}.shape [n, k] with n, k >= 1 but received ${describe(q.shape)}`);
  if (scales.length !== 1 && scales.length !== n) fail('KQ_LENGTH', `Expected ${name}.scales to hold 1 or n = ${n} values but received ${scales.length}`);
  return { trits: q.trits, scales, n, k };
}

function planDequantize(qArg: unknown, optionsArg: unknown) {
  const { trits, scales, n, k } = expectQuantized(qArg, 'q');
  const device = resolveDevice(expectObject(optionsArg, 'options').device ?? 'cpu');
  const out = new Float32Array(n * k);
  return { out, run: <A extends boolean>(async: A) => native.ternaryDequantize(trits, scales, n, k, out, device, async) };
}

/** trits · scale as f32 [n·k] (exact: each value is ±scale or 0), off the event loop. */
export async function dequantizeTernary(q: TernaryQuantized, options?: DequantizeTernaryOptions): Promise<Float32Array> {
  const p = planDequantize(q, options);
  await callAsync(() => p.run(true));
  return p.out;
}

export function dequantizeTernarySync(q: TernaryQuantized, options?: DequantizeTernaryOptions): Float32Array {
  const p = planDequantize(q, options);
  callSync(() => p.run(false));
  return p.out;
}

// ---- packed storage ----

const TRITS_PER_BYTE = { '2bit': 4, base3: 5 } as const;

/** Trits (−1, 0, 1) packed 4 per byte ('2bit') or 5 per byte ('base3', TQ1_0's encoding); the tail padded with 0. */
export function packTrits(trits: Int8Array, packing: TritPacking): Uint8Array {
  if (!(trits instanceof Int8Array)) fail('KQ_DTYPE', `Expected an Int8Array for trits but received ${describe(trits)}`);
  const format = expectOneOf(packing, 'packing', ['2bit', 'base3'] as const);
  const out = new Uint8Array(Math.ceil(trits.length / TRITS_PER_BYTE[format]));
  // KQ_INVALID_ARGUMENT "Expected trits in {-1, 0, 1} but trits[i] is v" for the first bad trit.
  callSync(() => native.ternaryPack(trits, TritPackingCode[format], out));
  return out;
}

/** The first `count` trits of packTrits' bytes. */
export function unpackTrits(bytes: Uint8Array, count: number, packing: TritPacking): Int8Array {
  if (!(bytes instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for bytes but received ${describe(bytes)}`);
  const format = expectOneOf(packing, 'packing', ['2bit', 'base3'] as const);
  const per = TRITS_PER_BYTE[format];
  expectInteger(count, 'count', 0);
  if (bytes.length !== Math.ceil(count / per)) fail('KQ_LENGTH', `Expected ${Math.ceil(count / per)} bytes for ${count} trits (${format}) but received ${bytes.length}`);
  const out = new Int8Array(count);
  // KQ_INVALID_ARGUMENT "Expected 2-bit codes 0..2 but byte j holds code 3" for the first bad code.
  callSync(() => native.ternaryUnpack(bytes, count, TritPackingCode[format], out));
  return out;
}

// ---- GGUF: ggml's TQ1_0 / TQ2_0 ----

/**
 * The trits as ggml TQ1_0 / TQ2_0 rows (k a multiple of 256), through quantizeGGML on trit·scale: each block's
 * d is f16(scale) (0 for an all-zero block), so a scale must be 0 or within [2^-24, 65504].
 */
export function ternaryToGGML(q: TernaryQuantized, type: 'tq1_0' | 'tq2_0'): Uint8Array {
  const { scales, k } = expectQuantized(q, 'q');
  expectOneOf(type, 'type', ['tq1_0', 'tq2_0'] as const);
  if (k % TQ_BLOCK !== 0) fail('KQ_SHAPE', `Expected k to be a multiple of ${TQ_BLOCK} (the ${type} block) but received ${k}`);
  scales.forEach((s, i) => {
    const a = Math.abs(s);
    if (a !== 0 && (a < F16_MIN_SUBNORMAL || a > F16_MAX)) fail('KQ_INVALID_ARGUMENT', `Expected scales[${i}] to be 0 or within f16's range [2^-24, 65504] but received ${s}`);
  });
  return quantizeGGMLSync(type, dequantizeTernarySync(q));
}

/**
 * TQ1_0 / TQ2_0 rows [n, k] (as read from GGUF) back to trits with one scale per row: every block of a row
 * must carry the same d or be all zero (what ternaryToGGML and BitNet converters write), else KQ_INVALID_ARGUMENT.
 */
export function ternaryFromGGML(type: 'tq1_0' | 'tq2_0', bytes: Uint8Array, shape: readonly [number, number]): TernaryQuantized {
  expectOneOf(type, 'type', ['tq1_0', 'tq2_0'] as const);
  if (!Array.isArray(shape) || shape.length !== 2) fail('KQ_SHAPE', `Expected shape [n, k] but received ${describe(shape)}`);
  const n = expectInteger(shape[0], 'shape[0]', 1);
  const k = expectInteger(shape[1], 'shape[1]', 1);
  const values = dequantizeGGMLSync(type, bytes, n * k);
  const trits = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let o = 0; o < n; o++) {
    let s = 0;
    for (let c = 0; c < k; c++) s = Math.max(s, Math.abs(values[o * k + c]!));
    for (let c = 0; c < k; c++) {
      const v = values[o * k + c]!;
      if (v !== 0 && Math.abs(v) !== s) fail('KQ_INVALID_ARGUMENT', `Expected one scale per row but row ${o} holds ${s} and ${Math.abs(v)}`);
      trits[o * k + c] = v === 0 ? 0 : Math.sign(v);
    }
    scales[o] = s;
  }
  return result(trits, scales, n, k, 'per-row', 'ternary');
}

// ---- the GEMV ----

export interface PrepareTernaryOptions {
  /** 'cpu' (default while the CUDA kernel awaits a GPU run), 'cuda' (uploads once; KQ_CUDA_UNAVAILABLE without a GPU) or 'auto'. */
  device?: Device;
}

export interface TernaryMatmulOptions {
  /** Float32Array [m, n] to write into instead of a new array. */
  out?: Float32Array;
}

/** A prepared ternary weight [n, k] (plus/minus bit planes, 2 bits per weight) owned natively until dispose(). */
export class TernaryWeights {
  readonly n: number;
  readonly k: number;
  readonly device: 'cpu' | 'cuda';
  /** @internal the native handle */
  readonly handle: unknown;

  /** @internal use prepareTernaryWeights */
  constructor(handle: unknown, n: number, k: number, device: DeviceCode) {
    this.handle = handle;
    this.n = n;
    this.k = k;
    this.device = device === DeviceCode.cuda ? 'cuda' : 'cpu';
  }

  /** Bytes of prepared weights held (0 once disposed). */
  get bytes(): number {
    return callSync(() => native.weightsInfo(this.handle)).bytes;
  }

  get disposed(): boolean {
    return callSync(() => native.weightsInfo(this.handle)).disposed;
  }

  /** Frees the buffers (after any call still using them); later calls with this handle throw. */
  dispose(): void {
    callSync(() => native.weightsDispose(this.handle));
  }
}

function planPrepare(qArg: unknown, optionsArg: unknown) {
  const q = expectQuantized(qArg, 'q');
  const device = resolveDevice(expectObject(optionsArg, 'options').device ?? 'cpu');
  return { ...q, device, handle: native.weightsNew('ternary', device) };
}

/** Builds the GEMV's bit planes from quantizeTernary / quantizeBinary / ternaryFromGGML output (off the event loop). */
export async function prepareTernaryWeights(q: TernaryQuantized, options?: PrepareTernaryOptions): Promise<TernaryWeights> {
  const p = planPrepare(q, options);
  await callAsync(() => native.ternaryPrepare(p.handle, p.trits, p.scales, p.n, p.k, true));
  return new TernaryWeights(p.handle, p.n, p.k, p.device);
}

export function prepareTernaryWeightsSync(q: TernaryQuantized, options?: PrepareTernaryOptions): TernaryWeights {
  const p = planPrepare(q, options);
  callSync(() => native.ternaryPrepare(p.handle, p.trits, p.scales, p.n, p.k, false));
  return new TernaryWeights(p.handle, p.n, p.k, p.device);
}

function planMatmul(xArg: unknown, mArg: unknown, wArg: unknown, optionsArg: unknown) {
  const options = expectObject(optionsArg, 'options');
  if (!(wArg instanceof TernaryWeights)) fail('KQ_INVALID_ARGUMENT', `Expected TernaryWeights (from prepareTernaryWeights) for weights but received ${describe(wArg)}`);
  if (wArg.disposed) fail('KQ_INVALID_ARGUMENT', 'The ternary weights were disposed');
  const m = expectInteger(mArg, 'm', 1);
  const x = expectFloat32Array(xArg, 'x');
  if (x.length !== m * wArg.k) fail('KQ_LENGTH', `Expected x to hold [m = ${m}, k = ${wArg.k}] = ${m * wArg.k} elements but received ${x.length}`);
  const out = options.out === undefined ? new Float32Array(m * wArg.n) : expectFloat32Array(options.out, 'options.out');
  if (out.length !== m * wArg.n) fail('KQ_LENGTH', `Expected options.out to hold [m = ${m}, n = ${wArg.n}] = ${m * wArg.n} elements but received ${out.length}`);
  return { w: wArg, x, m, out };
}

/** y [m, n] = x [m, k] · (scale·trits)ᵀ with x quantized per token to int8 (off the event loop). */
export async function ternaryMatmul(x: Float32Array, m: number, weights: TernaryWeights, options?: TernaryMatmulOptions): Promise<Float32Array> {
  const p = planMatmul(x, m, weights, options);
  await callAsync(() => native.ternaryMatmul(p.w.handle, p.x, p.m, p.out, true));
  return p.out;
}

export function ternaryMatmulSync(x: Float32Array, m: number, weights: TernaryWeights, options?: TernaryMatmulOptions): Float32Array {
  const p = planMatmul(x, m, weights, options);
  callSync(() => native.ternaryMatmul(p.w.handle, p.x, p.m, p.out, false));
  return p.out;
}
