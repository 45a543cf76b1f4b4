// Fused int4 dequant GEMV / small-m GEMM over GPTQ checkpoint tensors (native/ops/int4/int4.h):
// y [m, n] = x [m, k] · dequant(W)ᵀ (+ bias), w[o, i] = scales[g_idx[i], o] · (q[o, i] − zero[g_idx[i], o]).
//
// prepareInt4Weights re-lays qweight/qzeros/scales/g_idx once (columns sorted by group, so act-order costs
// nothing per call; rows in tiles of 16; f16 scales kept exactly) into a handle that owns the buffers on its
// device; int4Matmul then moves only activations. The handle is the pattern for every prepared weight: its
// native holder records the device and keeps the uploaded buffers of a CUDA weight (native/ops/int4/cuda.cu:
// a GEMV for m <= 4 in f32, an mma.sync f16 tensor-core GEMM beyond with |Δy| <~ 1e-3 · Σ|w·x|; compiled,
// not yet run on a GPU, hence the 'cpu' default).
//
// Activations ('int8', the default, or 'float32'):
//  * 'int8' (as ggml's Q4_0 × Q8_0): x is quantized per block of 32 (in the prepared column order) to int8 with
//    d = absmax / 127 and the dot products run in integers (AVX-512 VNNI / AVX2 vpmaddubsw). Error beyond f32
//    accumulation: each x element moves by at most d/2 = (block absmax)/254, i.e. |Δy[o]| ≤ Σ_i |w[o, i]| ·
//    absmax(block of i) / 254; on Gaussian x and random asymmetric 4-bit layers the measured relative RMS error (‖Δy‖/‖y‖) is about 5e-3.
//  * 'float32': weights dequantized in registers against f32 x; only f32 rounding (relative ~1e-6 of Σ|x||w|).
//    About 3× slower at m = 1 on one thread.
// Both accumulate in f32 and every SIMD variant gives the same bits as the scalar reference.
// ggml Q4_0 rows are the same format with group 32 and zero point 8: int4TensorsFromQ4_0 converts them.
import { DeviceCode, native } from '../binding.js';
import type { Device } from '../backend.js';
import { resolveDevice } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectInteger, expectObject, expectOneOf, fail } from '../validate.js';

export type Int4Format = 'gptq' | 'gptq_v2';
export type Int4XDType = 'float32' | 'float16' | 'bfloat16';
export type Int4Activations = 'int8' | 'float32';
/** What a prepared weight came from: GPTQ tensors (or Q4_0 through them), bnb NF4 / FP4, or ggml Q4_K. */
export type Int4WeightKind = 'gptq' | 'nf4' | 'fp4' | 'q4_k';

/** GPTQ checkpoint tensors of one linear layer (packGPTQ's result, or tensors read from a checkpoint). */
export interface Int4Tensors {
  /** int32 [k/8, n]: 8 consecutive input columns per word, little end first. */
  qweight: Int32Array;
  /** int32 [G, n/8]; absent: symmetric, every zero point 8. */
  qzeros?: Int32Array | null;
  /** f16 bits [G, n]. */
  scales: Uint16Array;
  /** int32 [k]: group of each input column, any order (act-order); absent: column / groupSize. */
  gIdx?: Int32Array | null;
  /** Must be 4 (packGPTQ results of other widths are refused with KQ_INVALID_ARGUMENT). */
  bits: number;
  /** Input columns per group (32, 64, 128, …) or -1 (one group per row). */
  groupSize: number;
  /** 'gptq': v1 zero points (stored minus one); 'gptq_v2': as computed. */
  format: Int4Format;
  /** Output features (packGPTQ calls them rows). */
  n?: number;
  /** Input features (packGPTQ: cols). */
  k?: number;
  rows?: number;
  cols?: number;
}

export interface PrepareInt4Options {
  /**
   * 'cpu' (the default while the CUDA kernels await verification on a GPU), 'cuda' (uploads the weight once;
   * KQ_CUDA_UNAVAILABLE without a GPU of compute capability 8.0+) or 'auto' (CUDA when backend().cuda.available).
   */
  device?: Device;
}

export interface Int4MatmulOptions {
  /** f32 [n], added to every output row. */
  bias?: Float32Array;
  /** [m, n] to write into instead of a new array: a Float32Array, or a Uint16Array for outDtype f16/bf16. */
  out?: Float32Array | Uint16Array;
  /** dtype of the result: 'float32' (default), or 'float16' / 'bfloat16' bits (f32 result rounded to nearest even). */
  outDtype?: Int4XDType;
  /** dtype of x: 'float32' for a Float32Array (default); 'float16' or 'bfloat16' for a Uint16Array of bits. */
  dtype?: Int4XDType;
  /**
   * CPU weights: 'int8' (default for GPTQ and Q4_K, faster) or 'float32' (no activation rounding; the only
   * path for NF4 / FP4, whose code values are not integers). CUDA weights ignore it.
   */
  activations?: Int4Activations;
}

const FORMAT_CODES: Record<Int4Format, number> = { gptq: 0, gptq_v2: 1 };
const XTYPE_CODES: Record<Int4XDType, number> = { float32: 0, float16: 1, bfloat16: 2 };
const ACTIVATION_CODES: Record<Int4Activations, number> = { int8: 0, float32: 1 };

/** @internal what a prepare function hands the Int4Weights constructor. */
export interface Int4WeightsInfo {
  n: number;
  k: number;
  groupSize: number;
  groups: number;
  device: DeviceCode;
  actOrder: boolean;
  kind?: Int4WeightKind;
}

/** A prepared int4 weight [n, k]: buffers owned natively on `device` until dispose(). */
export class Int4Weights {
  readonly kind: Int4WeightKind;
  readonly n: number;
  readonly k: number;
  readonly groupSize: number;
  readonly groups: number;
  readonly device: 'cpu' | 'cuda';
  /** True when g_idx is not column / groupSize (columns are gathered per call); act-order with one group is not. */
  readonly actOrder: boolean;
  /** @internal the native handle */
  readonly handle: unknown;

  /** @internal use prepareInt4Weights */
  constructor(handle: unknown, plan: Int4WeightsInfo) {
    this.handle = handle;
    this.kind = plan.kind ?? 'gptq';
    this.n = plan.n;
    this.k = plan.k;
    this.groupSize = plan.groupSize;
    this.groups = plan.groups;
    this.device = plan.device === DeviceCode.cuda ? 'cuda' : 'cpu';
    this.actOrder = plan.actOrder;
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

// ---- preparation ----

interface PreparePlan {
  qweight: Int32Array;
  qzeros: Int32Array | null;
  scales: Uint16Array;
  gIdx: Int32Array | null;
  n: number;
  k: number;
  groups: number;
  groupSize: number;
  format: number;
  device: DeviceCode;
  actOrder: boolean;
}

function dim(t: Record<string, unknown>, name: 'n' | 'k', alias: 'rows' | 'cols'): number {
  const value = t[name] ?? t[alias];
  if (value === undefined) fail('KQ_SHAPE', `Expected tensors.${name} (or tensors.${alias}) but received undefined`);
  return expectInteger(value, `tensors.${name}`, 1, 2 ** 31 - 1);
}

function expectArray<T>(value: unknown, name: string, ctor: { new (n: number): T; name: string }, length: number): T {
  if (!(value instanceof (ctor as unknown as new () => object))) fail('KQ_DTYPE', `Expected ${ctor.name} for ${name} but received ${describe(value)}`);
  const got = (value as unknown as { length: number }).length;
  if (got !== length) fail('KQ_LENGTH', `Expected ${name} to have ${length} elements but received ${got}`);
  return value as T;
}

function planPrepare(tensorsArg: unknown, optionsArg: unknown): PreparePlan {
  const t = expectObject(tensorsArg, 'tensors');
  if (tensorsArg === undefined) fail('KQ_INVALID_ARGUMENT', 'Expected the int4 tensors but received undefined');
  const options = expectObject(optionsArg, 'options');
  if (t.bits !== 4) fail('KQ_INVALID_ARGUMENT', `Expected tensors.bits 4 but received ${describe(t.bits)}`);
  const format = expectOneOf(t.format, 'tensors.format', ['gptq', 'gptq_v2'] as const);
  const n = dim(t, 'n', 'rows');
  const k = dim(t, 'k', 'cols');
  if (k % 8 !== 0) fail('KQ_SHAPE', `Expected k to be a multiple of 8 (8 codes per qweight word) but received ${k}`);
  const groupSize = expectInteger(t.groupSize, 'tensors.groupSize', -1, 2 ** 31 - 1);
  if (groupSize === 0) fail('KQ_INVALID_ARGUMENT', 'Expected tensors.groupSize >= 1 or -1 but received 0');
  if (!(t.scales instanceof Uint16Array)) fail('KQ_DTYPE', `Expected a Uint16Array of f16 bits for tensors.scales but received ${describe(t.scales)}`);
  if (t.scales.length === 0 || t.scales.length % n !== 0) {
    fail('KQ_LENGTH', `Expected tensors.scales to hold [G, n = ${n}] elements but received ${t.scales.length}`);
  }
  const groups = t.scales.length / n;
  const qweight = expectArray(t.qweight, 'tensors.qweight', Int32Array, (k / 8) * n);
  let qzeros: Int32Array | null = null;
  if (t.qzeros !== undefined && t.qzeros !== null) {
    if (n % 8 !== 0) fail('KQ_SHAPE', `Expected n to be a multiple of 8 with tensors.qzeros (8 zeros per word) but received ${n}`);
    qzeros = expectArray(t.qzeros, 'tensors.qzeros', Int32Array, groups * (n / 8));
  }
  let gIdx: Int32Array | null = null;
  let actOrder = false;
  if (t.gIdx !== undefined && t.gIdx !== null) {
    gIdx = expectArray(t.gIdx, 'tensors.gIdx', Int32Array, k);
    for (let c = 0; c < k; c++) {
      const g = gIdx[c]!;
      if (g < 0 || g >= groups) fail('KQ_INVALID_ARGUMENT', `Expected tensors.gIdx values in [0, ${groups}) but gIdx[${c}] is ${g}`);
      if (g !== (groupSize === -1 ? 0 : Math.floor(c / groupSize))) actOrder = true;
    }
  } else {
    const want = groupSize === -1 ? 1 : Math.ceil(k / groupSize);
    if (groups !== want) fail('KQ_SHAPE', `Expected ${want} groups of scales for groupSize ${groupSize} and k = ${k} but tensors.scales has ${groups}`);
  }
  // 'auto' picks CUDA when it is usable; an explicit 'cuda' without it fails natively with the reason.
  const device = resolveDevice(options.device ?? 'cpu');
  return { qweight, qzeros, scales: t.scales, gIdx, n, k, groups, groupSize, format: FORMAT_CODES[format], device, actOrder };
}

function runPrepare<A extends boolean>(p: PreparePlan, handle: unknown, async: A) {
  return native.int4Prepare(handle, p.qweight, p.qzeros, p.scales, p.gIdx, p.n, p.k, p.groups, p.groupSize, p.format, async);
}

/** Re-lays GPTQ tensors once into a weight handle (off the event loop). */
export async function prepareInt4Weights(tensors: Int4Tensors, options?: PrepareInt4Options): Promise<Int4Weights> {
  const p = planPrepare(tensors, options);
  const handle = native.weightsNew('int4', p.device);
  await callAsync(() => runPrepare(p, handle, true));
  return new Int4Weights(handle, p);
}

export function prepareInt4WeightsSync(tensors: Int4Tensors, options?: PrepareInt4Options): Int4Weights {
  const p = planPrepare(tensors, options);
  const handle = native.weightsNew('int4', p.device);
  callSync(() => runPrepare(p, handle, false));
  return new Int4Weights(handle, p);
}

// ---- ggml Q4_0 ----

const Q4_0_BLOCK = 32;
const Q4_0_BYTES = 18;

/**
 * ggml Q4_0 rows [n, k] (k / 32 blocks of 18 bytes per row: f16 d, then 16 bytes whose low nibbles are
 * elements 0..15 and high nibbles 16..31; value (q − 8) · d, ggml-common.h block_q4_0) as int4 tensors:
 * group 32, scales = d (exact, negative ones too), zero point 8 — the same weights, for prepareInt4Weights.
 */
export function int4TensorsFromQ4_0(bytes: Uint8Array, n: number, k: number): Int4Tensors {
  expectInteger(n, 'n', 1, 2 ** 31 - 1);
  expectInteger(k, 'k', 1, 2 ** 31 - 1);
  if (!(bytes instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array of Q4_0 blocks for bytes but received ${describe(bytes)}`);
  if (k % Q4_0_BLOCK !== 0) fail('KQ_SHAPE', `Expected k to be a multiple of ${Q4_0_BLOCK} (the Q4_0 block) but received ${k}`);
  const blocks = k / Q4_0_BLOCK;
  if (bytes.length !== n * blocks * Q4_0_BYTES) {
    fail('KQ_LENGTH', `Expected ${n * blocks * Q4_0_BYTES} bytes (${n} rows of ${blocks} Q4_0 blocks) but received ${bytes.length}`);
  }
  const qweight = new Int32Array((k / 8) * n);
  const scales = new Uint16Array(blocks * n);
  for (let o = 0; o < n; o++) {
    for (let b = 0; b < blocks; b++) {
      const at = (o * blocks + b) * Q4_0_BYTES;
      scales[b * n + o] = bytes[at]! | (bytes[at + 1]! << 8);
      for (let j = 0; j < 16; j++) {
        const byte = bytes[at + 2 + j]!;
        for (const [col, q] of [
          [b * Q4_0_BLOCK + j, byte & 0xf],
          [b * Q4_0_BLOCK + 16 + j, byte >> 4],
        ] as const) {
          const word = (col >> 3) * n + o;
          qweight[word] = qweight[word]! | (q << (4 * (col & 7)));
        }
      }
    }
  }
  return { qweight, scales, bits: 4, groupSize: Q4_0_BLOCK, format: 'gptq_v2', n, k };
}

// ---- matmul ----

interface MatmulPlan {
  w: Int4Weights;
  x: Float32Array | Uint16Array;
  xType: number;
  m: number;
  bias: Float32Array | null;
  out: Float32Array | Uint16Array;
  outType: number;
  activations: number;
}

function planMatmul(xArg: unknown, mArg: unknown, wArg: unknown, optionsArg: unknown): MatmulPlan {
  const options = expectObject(optionsArg, 'options');
  if (!(wArg instanceof Int4Weights)) fail('KQ_INVALID_ARGUMENT', `Expected Int4Weights (from prepareInt4Weights) for weights but received ${describe(wArg)}`);
  if (wArg.disposed) fail('KQ_INVALID_ARGUMENT', 'The int4 weights were disposed');
  const m = expectInteger(mArg, 'm', 1);
  if (xArg instanceof Uint16Array && options.dtype === undefined) {
    fail('KQ_DTYPE', "Expected options.dtype 'float16' or 'bfloat16' for a Uint16Array x but received undefined");
  }
  const dtype = expectOneOf(options.dtype ?? 'float32', 'options.dtype', ['float32', 'float16', 'bfloat16'] as const);
  const ctor = dtype === 'float32' ? Float32Array : Uint16Array;
  if (!(xArg instanceof ctor)) fail('KQ_DTYPE', `Expected a ${ctor.name} for x (options.dtype '${dtype}') but received ${describe(xArg)}`);
  const x = xArg as Float32Array | Uint16Array;
  if (x.length !== m * wArg.k) fail('KQ_LENGTH', `Expected x to hold [m = ${m}, k = ${wArg.k}] = ${m * wArg.k} elements but received ${x.length}`);
  const bias = options.bias === undefined ? null : expectArray(options.bias, 'options.bias', Float32Array, wArg.n);
  const outDtype = expectOneOf(options.outDtype ?? 'float32', 'options.outDtype', ['float32', 'float16', 'bfloat16'] as const);
  const outCtor = outDtype === 'float32' ? Float32Array : Uint16Array;
  const out = options.out === undefined ? new outCtor(m * wArg.n) : expectArray<Float32Array | Uint16Array>(options.out, 'options.out', outCtor, m * wArg.n);
  const activations = expectOneOf(options.activations ?? (wArg.kind === 'nf4' || wArg.kind === 'fp4' ? 'float32' : 'int8'), 'options.activations', ['int8', 'float32'] as const);
  if (activations === 'int8' && (wArg.kind === 'nf4' || wArg.kind === 'fp4')) {
    fail('KQ_INVALID_ARGUMENT', `Expected options.activations 'float32' for ${wArg.kind} weights (code values are not integers) but received 'int8'`);
  }
  return { w: wArg, x, xType: XTYPE_CODES[dtype], m, bias, out, outType: XTYPE_CODES[outDtype], activations: ACTIVATION_CODES[activations] };
}

function runMatmul<A extends boolean>(p: MatmulPlan, async: A) {
  if (p.w.kind !== 'gptq') return native.int4CodebookMatmul(p.w.handle, p.x, p.xType, p.m, p.bias, p.out, p.outType, p.activations, async);
  return native.int4Matmul(p.w.handle, p.x, p.xType, p.m, p.bias, p.out, p.outType, p.activations, async);
}

type HalfOut = Int4MatmulOptions & { outDtype: 'float16' | 'bfloat16' };
type F32Out = Int4MatmulOptions & { outDtype?: 'float32'; out?: Float32Array };

/** y [m, n] = x [m, k] · dequant(W)ᵀ (+ bias): f32, or f16/bf16 bits with outDtype; off the event loop. */
export async function int4Matmul(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options?: F32Out): Promise<Float32Array>;
export async function int4Matmul(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options: HalfOut): Promise<Uint16Array>;
export async function int4Matmul(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options?: Int4MatmulOptions): Promise<Float32Array | Uint16Array> {
  const p = planMatmul(x, m, weights, options);
  await callAsync(() => runMatmul(p, true));
  return p.out;
}

export function int4MatmulSync(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options?: F32Out): Float32Array;
export function int4MatmulSync(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options: HalfOut): Uint16Array;
export function int4MatmulSync(x: Float32Array | Uint16Array, m: number, weights: Int4Weights, options?: Int4MatmulOptions): Float32Array | Uint16Array {
  const p = planMatmul(x, m, weights, options);
  callSync(() => runMatmul(p, false));
  return p.out;
}
