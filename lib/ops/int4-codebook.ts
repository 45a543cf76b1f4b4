// NF4 / FP4 (bitsandbytes 4-bit) and ggml Q4_K weights for the fused int4 GEMV (native/ops/int4/codebook.h):
// the same Int4Weights handle and int4Matmul entry point as GPTQ, over a weight whose dequantization is not
// "f16 scale · (q − integer zero)".
//  * prepareNF4Weights(q, { shape: [n, k] }) takes quantize4bit's result (NF4 or FP4, plain or double-quantized
//    absmax; k a multiple of the bnb block size, so no block straddles two rows). A nested absmax is undone
//    once here with bnb's own rule (code[q] · absmax2 + offset, as dequantize4bit does), so the GEMV multiplies
//    by exactly the f32 block scale bnb's dequantize_4bit uses. int4Matmul runs it with f32 activations (the
//    code book's values are not integers) and dequantizes in registers through a 16-entry table (vpermps):
//    only f32 rounding, |y − y64| ≲ 1e-6 · Σ|w·x|.
//  * prepareQ4KWeights(bytes, n, k) takes rows of ggml block_q4_K (k a multiple of 256); the weight is
//    (d · sc) · q − dmin · m as ggml's dequantize_row_q4_K rounds it. int4Matmul's default 'int8' path
//    quantizes x per block of 32 to int8 (d = absmax / 127) and runs integer dot products: each x moves by at
//    most its block's absmax / 254, i.e. |y − y64| ≤ Σ_i |w[o, i]| · absmax(block of i) / 254 + f32 rounding
//    (measured relative RMS ≈ 5e-3 on Gaussian x); 'float32' is exact up to f32 rounding and slower.
// CPU only (the handle's device is 'cpu').
import { DeviceCode, native } from '../binding.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectInteger, expectObject, expectOneOf, fail } from '../validate.js';
import { BNB_4BIT_BLOCK_SIZES, BNB_8BIT_BLOCK_SIZES, type Quantized4bit } from './bnb.js';
import { Int4Weights, type Int4WeightKind } from './int4.js';

export interface PrepareNF4Options {
  /** [n, k]: the weight's output and input features; n · k must equal q.state.shape's element count. */
  shape: readonly [number, number] | number[];
}

const Q4_K_SUPER = 256;
const Q4_K_BYTES = 144;
const CODEBOOK_FORMATS = { nf4: 0, fp4: 1, q4_k: 2 } as const;

interface CodebookPlan {
  kind: Int4WeightKind;
  packed: Uint8Array;
  absmax: Float32Array | null;
  n: number;
  k: number;
  blockSize: number;
}

function expectTyped<T extends Float32Array | Uint8Array>(value: unknown, name: string, type: { new (n: number): T; name: string }, length: number, what: string): T {
  if (!(value instanceof type)) fail('KQ_DTYPE', `Expected a ${type.name} for ${name} but received ${describe(value)}`);
  if (value.length !== length) fail('KQ_LENGTH', `Expected ${name} to have ${length} entries (${what}) but received ${value.length}`);
  return value;
}

function expectBlockSize(value: unknown, name: string, allowed: readonly number[]): number {
  if (typeof value !== 'number' || !allowed.includes(value)) fail('KQ_INVALID_ARGUMENT', `Expected one of ${allowed.join(', ')} for ${name} but received ${describe(value)}`);
  return value;
}

// The f32 block scales: as stored, or bnb's double quantization undone (code[q] · absmax2[b / 256] + offset).
function blockScales(state: Record<string, unknown>, blocks: number): Float32Array {
  if (state.nested === undefined || state.nested === null) return expectTyped(state.absmax, 'q.state.absmax', Float32Array, blocks, 'one per block');
  const nested = expectObject(state.nested, 'q.state.nested');
  const qabsmax = expectTyped(state.absmax, 'q.state.absmax', Uint8Array, blocks, 'one code per block, double-quantized');
  const nestedBlockSize = expectBlockSize(nested.blockSize, 'q.state.nested.blockSize', BNB_8BIT_BLOCK_SIZES);
  const absmax2 = expectTyped(nested.absmax, 'q.state.nested.absmax', Float32Array, Math.ceil(blocks / nestedBlockSize), 'one per nested block');
  const code = expectTyped(nested.code, 'q.state.nested.code', Float32Array, 256, 'the 8-bit map');
  const offset = nested.offset;
  if (typeof offset !== 'number' || !Number.isFinite(offset)) fail('KQ_INVALID_ARGUMENT', `Expected a finite number for q.state.nested.offset but received ${describe(offset)}`);
  const out = new Float32Array(blocks);
  callSync(() => native.bnbDequantizeNested(qabsmax, nestedBlockSize, code, absmax2, offset, out));
  return out;
}

function planNF4(qArg: unknown, optionsArg: unknown): CodebookPlan {
  const q = expectObject(qArg, 'q');
  if (qArg === undefined) fail('KQ_INVALID_ARGUMENT', 'Expected the result of quantize4bit for q but received undefined');
  const options = expectObject(optionsArg, 'options');
  const shapeArg = options.shape;
  if (!Array.isArray(shapeArg) || shapeArg.length !== 2) fail('KQ_SHAPE', `Expected options.shape [n, k] but received ${describe(shapeArg)}`);
  const n = expectInteger(shapeArg[0], 'options.shape[0]', 1, 2 ** 31 - 1);
  const k = expectInteger(shapeArg[1], 'options.shape[1]', 1, 2 ** 31 - 1);
  if (q.state === null || typeof q.state !== 'object' || Array.isArray(q.state)) fail('KQ_INVALID_ARGUMENT', `Expected an object for q.state but received ${describe(q.state)}`);
  const state = q.state as Record<string, unknown>;
  const kind = expectOneOf(state.quantType, 'q.state.quantType', ['nf4', 'fp4'] as const);
  const blockSize = expectBlockSize(state.blockSize, 'q.state.blockSize', BNB_4BIT_BLOCK_SIZES);
  const shape = state.shape;
  const count = Array.isArray(shape) ? shape.reduce((a: number, d: unknown) => a * (typeof d === 'number' ? d : NaN), 1) : NaN;
  if (count !== n * k) fail('KQ_SHAPE', `Expected options.shape [${n}, ${k}] to hold as many elements as q.state.shape ${describe(shape)} (${count})`);
  if (k % blockSize !== 0) fail('KQ_SHAPE', `Expected k (options.shape[1] = ${k}) to be a multiple of q.state.blockSize ${blockSize}: a bnb block may not straddle two rows`);
  const packed = expectTyped(q.packed, 'q.packed', Uint8Array, (n * k) / 2, 'two codes per byte');
  const absmax = blockScales(state, (n * k) / blockSize);
  for (let b = 0; b < absmax.length; b++) {
    if (!Number.isFinite(absmax[b]!)) fail('KQ_NON_FINITE', `Expected finite block scales but q.state.absmax[${b}] is ${absmax[b]}`);
  }
  return { kind, packed, absmax, n, k, blockSize };
}

function planQ4K(bytesArg: unknown, nArg: unknown, kArg: unknown): CodebookPlan {
  const n = expectInteger(nArg, 'n', 1, 2 ** 31 - 1);
  const k = expectInteger(kArg, 'k', 1, 2 ** 31 - 1);
  if (k % Q4_K_SUPER !== 0) fail('KQ_SHAPE', `Expected k to be a multiple of ${Q4_K_SUPER} (the Q4_K super-block) but received ${k}`);
  const supers = k / Q4_K_SUPER;
  const packed = expectTyped(bytesArg, 'bytes', Uint8Array, n * supers * Q4_K_BYTES, `${n} rows of ${supers} Q4_K blocks`);
  return { kind: 'q4_k', packed, absmax: null, n, k, blockSize: Q4_K_SUPER };
}

function runPrepare<A extends boolean>(p: CodebookPlan, handle: unknown, async: A) {
  return native.int4CodebookPrepare(handle, CODEBOOK_FORMATS[p.kind as keyof typeof CODEBOOK_FORMATS], p.packed, p.absmax, p.n, p.k, p.blockSize, async);
}

function weights(handle: unknown, p: CodebookPlan): Int4Weights {
  const groupSize = p.kind === 'q4_k' ? 32 : p.blockSize;
  return new Int4Weights(handle, { n: p.n, k: p.k, groupSize, groups: p.k / groupSize, device: DeviceCode.cpu, actOrder: false, kind: p.kind });
}

async function prepare(p: CodebookPlan): Promise<Int4Weights> {
  const handle = native.weightsNew('int4_codebook', DeviceCode.cpu);
  await callAsync(() => runPrepare(p, handle, true));
  return weights(handle, p);
}

function prepareSync(p: CodebookPlan): Int4Weights {
  const handle = native.weightsNew('int4_codebook', DeviceCode.cpu);
  callSync(() => runPrepare(p, handle, false));
  return weights(handle, p);
}

/** bnb NF4 / FP4 weight [n, k] (quantize4bit's result) as a handle for int4Matmul; off the event loop. */
export function prepareNF4Weights(q: Quantized4bit, options: PrepareNF4Options): Promise<Int4Weights> {
  try {
    return prepare(planNF4(q, options));
  } catch (err) {
    return Promise.reject(err);
  }
}

export function prepareNF4WeightsSync(q: Quantized4bit, options: PrepareNF4Options): Int4Weights {
  return prepareSync(planNF4(q, options));
}

/** ggml Q4_K rows [n, k] (k / 256 blocks of 144 bytes per row) as a handle for int4Matmul; off the event loop. */
export function prepareQ4KWeights(bytes: Uint8Array, n: number, k: number): Promise<Int4Weights> {
  try {
    return prepare(planQ4K(bytes, n, k));
  } catch (err) {
    return Promise.reject(err);
  }
}

export function prepareQ4KWeightsSync(bytes: Uint8Array, n: number, k: number): Int4Weights {
  return prepareSync(planQ4K(bytes, n, k));
}
