// ggml's legacy block quantization (GGUF tensor types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and the activation type
// Q8_1), byte-for-byte equal to ggml's reference quantizers quantize_row_<type>_ref and bit-exact with its
// dequantize_row_<type> (ggml commit d99724f; spec: test/fixtures/ggml/README.md sections 4-5).
//
// Input is a Float32Array whose length is a multiple of the type's block size (32); rows do not matter for
// these types (every block is quantized on its own), so a matrix is passed flattened row-major. The result is
// the raw blocks back to back, exactly as they sit in a GGUF tensor's data. NaN or ±Infinity is rejected
// (KQ_NON_FINITE). Finite values so large that a block's fp16 scale overflows are quantized as ggml does:
// the stored scale is ±inf and dequantization gives ±inf, or NaN where the centred level is 0.
// 'q8_1' is ggml's reference quantize_row_q8_1_ref; ggml's x86 CPU backend quantizes activations to Q8_1 with
// its own SIMD code, which rounds differently, and ggml has no Q8_1 dequantizer (here value = d · q).
// K-quants 'q4_k', 'q5_k', 'q6_k' (and the activation type 'q8_k', float32 d plus bsums) work on super-blocks of
// 256 elements: quantize_row_<type>_ref (the reference path, no importance matrix) and dequantize_row_<type>.
// 'tq1_0', 'tq2_0' (ternary, BitNet b1.58; blocks of 256), 'iq4_nl' and 'mxfp4' (blocks of 32): the reference
// path (no importance matrix) and dequantize_row_<type>. iq4_nl: where ggml's reference leaves the nibbles of a
// near-zero block (max |x| < 1e-15, d = 0) unspecified, they are written as index 8 here.
// options.device: every type dequantizes on CUDA and q4_0, q8_0, q4_k, q6_k quantize there (native/ops/ggml/
// cuda.cu), bit-exact with the CPU reference.
import { DeviceCode, native } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectInteger, expectObject, fail } from '../validate.js';

/** The ggml block types implemented so far (ggml's own lower-case names). */
export const GGML_QUANT_TYPES = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q8_1', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q8_k', 'tq1_0', 'tq2_0', 'iq4_nl', 'mxfp4'] as const;
export type GGMLQuantType = (typeof GGML_QUANT_TYPES)[number];

export interface GGMLBlockInfo {
  /** ggml's type id (enum ggml_type), as stored in GGUF tensor infos. */
  id: number;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  bytesPerBlock: number;
}

export interface GGMLQuantizeOptions {
  /**
   * Importance weights, one per column (llama.cpp's imatrix entry for the tensor): ggml_quantize_chunk's
   * weighted path for q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k (iq4_nl too; q8_0, tq1_0, tq2_0, mxfp4 ignore
   * it, as ggml does; q2_k / q3_k throw KQ_INVALID_ARGUMENT, not implemented). Its length is the row length.
   */
  imatrix?: Float32Array;
  /**
   * Quantize as ggml_quantize_chunk over rows of this many elements (what llama-quantize writes into GGUF
   * files). Without it (and without imatrix) the reference functions run over src as one run of blocks; the two
   * differ only for iq4_nl, whose chunk path searches 15 scales per block.
   */
  rowLength?: number;
  /**
   * Where quantize_row_<type>_ref runs, with the same bytes either way: 'cuda' for q4_0, q8_0, q4_k and q6_k
   * (other types throw KQ_INVALID_ARGUMENT; no usable GPU throws KQ_CUDA_UNAVAILABLE), 'cpu' (the default, while
   * the CUDA path has not run on a GPU) or 'auto' (CUDA where the type has a CUDA quantizer and a GPU answers).
   * The ggml_quantize_chunk path (imatrix or rowLength) runs on the CPU only: 'auto' picks the CPU there and
   * 'cuda' throws KQ_INVALID_ARGUMENT.
   */
  device?: Device;
}

/** The types quantizeGGML can run on CUDA (native/ops/ggml/cuda.cu); every type dequantizes there. */
const CUDA_QUANTIZED: readonly GGMLQuantType[] = ['q4_0', 'q8_0', 'q4_k', 'q6_k'];

const INFO: Record<GGMLQuantType, GGMLBlockInfo> = {
  q4_0: { id: 2, blockSize: 32, bytesPerBlock: 18 },
  q4_1: { id: 3, blockSize: 32, bytesPerBlock: 20 },
  q5_0: { id: 6, blockSize: 32, bytesPerBlock: 22 },
  q5_1: { id: 7, blockSize: 32, bytesPerBlock: 24 },
  q8_0: { id: 8, blockSize: 32, bytesPerBlock: 34 },
  q8_1: { id: 9, blockSize: 32, bytesPerBlock: 36 },
  // Q2_K / Q3_K (ref_k23.cc): super-blocks of 256 with 16-element sub-blocks.
  q2_k: { id: 10, blockSize: 256, bytesPerBlock: 84 },
  q3_k: { id: 11, blockSize: 256, bytesPerBlock: 110 },
  q4_k: { id: 12, blockSize: 256, bytesPerBlock: 144 },
  q5_k: { id: 13, blockSize: 256, bytesPerBlock: 176 },
  q6_k: { id: 14, blockSize: 256, bytesPerBlock: 210 },
  q8_k: { id: 15, blockSize: 256, bytesPerBlock: 292 },
  // Ternary (BitNet b1.58) and non-linear 4-bit types (ref_misc.cc). iq4_nl: ggml's reference leaves the
  // nibbles of a block with max |x| < 1e-15 unspecified (its d is 0); they are written as index 8 here.
  tq1_0: { id: 34, blockSize: 256, bytesPerBlock: 54 },
  tq2_0: { id: 35, blockSize: 256, bytesPerBlock: 66 },
  iq4_nl: { id: 20, blockSize: 32, bytesPerBlock: 18 },
  mxfp4: { id: 39, blockSize: 32, bytesPerBlock: 17 },
};

// Other ggml types, recognised so the error can say they exist but are not implemented yet.
const NOT_YET = ['f32', 'f16', 'bf16', 'iq4_xs'];

const AVAILABLE = GGML_QUANT_TYPES.map((t) => `'${t}'`).join(', ');

function expectType(value: unknown, name = 'type'): GGMLQuantType {
  if (typeof value === 'string' && (GGML_QUANT_TYPES as readonly string[]).includes(value)) return value as GGMLQuantType;
  if (typeof value === 'string' && NOT_YET.includes(value.toLowerCase())) {
    fail('KQ_INVALID_ARGUMENT', `ggml type ${JSON.stringify(value)} is not implemented yet; available: ${AVAILABLE}`);
  }
  fail('KQ_INVALID_ARGUMENT', `Expected one of ${AVAILABLE} for ${name} but received ${describe(value)}`);
}

/** ggml's id, block size and bytes per block of a type. */
export function ggmlTypeInfo(type: GGMLQuantType): GGMLBlockInfo {
  return { ...INFO[expectType(type)] };
}

interface Plan {
  info: GGMLBlockInfo;
  src: Float32Array;
  dst: Uint8Array;
  device: DeviceCode;
  /** ggml_quantize_chunk over whole rows, when options.rowLength or options.imatrix ask for it. */
  chunk: { rows: number; rowLength: number; imatrix: Float32Array | null } | null;
}

function planQuantize(typeArg: unknown, srcArg: unknown, optionsArg: unknown): Plan {
  const info = INFO[expectType(typeArg)];
  const options = expectObject(optionsArg, 'options');
  if (!(srcArg instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for src but received ${describe(srcArg)}`);
  if (srcArg.length % info.blockSize !== 0) {
    fail('KQ_SHAPE', `Expected src.length to be a multiple of ${info.blockSize} (the ${typeArg} block size) but received ${srcArg.length}`);
  }
  let imatrix: Float32Array | null = null;
  if (options.imatrix !== undefined) {
    if (!(options.imatrix instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for options.imatrix but received ${describe(options.imatrix)}`);
    imatrix = options.imatrix;
  }
  let rowLength: number | null = null;
  if (options.rowLength !== undefined) {
    rowLength = expectInteger(options.rowLength, 'options.rowLength', 1);
    if (imatrix && imatrix.length !== rowLength) fail('KQ_LENGTH', `options.imatrix has ${imatrix.length} weights but options.rowLength is ${rowLength}`);
  } else if (imatrix) {
    rowLength = imatrix.length;
  }
  if (rowLength !== null) {
    if (rowLength % info.blockSize !== 0) fail('KQ_SHAPE', `Expected options.rowLength to be a multiple of ${info.blockSize} (the ${typeArg} block size) but received ${rowLength}`);
    if (srcArg.length % rowLength !== 0) fail('KQ_SHAPE', `Expected src.length (${srcArg.length}) to be a multiple of the row length ${rowLength}`);
  }
  const device = quantizeDevice(typeArg as GGMLQuantType, options.device, rowLength !== null);
  const dst = new Uint8Array((srcArg.length / info.blockSize) * info.bytesPerBlock);
  return { info, src: srcArg, dst, device, chunk: rowLength === null ? null : { rows: srcArg.length / rowLength, rowLength, imatrix } };
}

// 'auto' takes CUDA only where it exists for this call; an explicit 'cuda' it cannot honour is an error.
function quantizeDevice(type: GGMLQuantType, deviceArg: unknown, chunk: boolean): DeviceCode {
  const onCuda = CUDA_QUANTIZED.includes(type) && !chunk;
  if (deviceArg === 'cuda' && !onCuda) {
    fail('KQ_INVALID_ARGUMENT', chunk
      ? `options.device 'cuda' cannot run ggml_quantize_chunk (options.imatrix / options.rowLength): it runs on the CPU only`
      : `options.device 'cuda' cannot quantize ${type}: CUDA quantizes ${CUDA_QUANTIZED.join(', ')}`);
  }
  const device = resolveDevice(deviceArg ?? 'cpu');
  return onCuda ? device : DeviceCode.cpu;
}

function runQuantize<A extends boolean>(p: Plan, async: A) {
  if (!p.chunk) return native.ggmlQuantize(p.info.id, p.src, p.dst, p.device, async);
  return native.ggmlQuantizeChunk(p.info.id, p.src, p.chunk.rows, p.chunk.rowLength, p.chunk.imatrix, p.dst, async);
}

/** ggml quantize_row_<type>_ref over src: the raw blocks (src.length / 32 of them). */
export async function quantizeGGML(type: GGMLQuantType, src: Float32Array, options?: GGMLQuantizeOptions): Promise<Uint8Array> {
  const p = planQuantize(type, src, options);
  await callAsync(() => runQuantize(p, true));
  return p.dst;
}

export function quantizeGGMLSync(type: GGMLQuantType, src: Float32Array, options?: GGMLQuantizeOptions): Uint8Array {
  const p = planQuantize(type, src, options);
  callSync(() => runQuantize(p, false));
  return p.dst;
}

interface DequantizePlan {
  info: GGMLBlockInfo;
  bytes: Uint8Array;
  out: Float32Array;
  device: DeviceCode;
}

/** dequantizeGGML's options. */
export interface GGMLDequantizeOptions {
  /** 'cpu' (the default), 'cuda' (every type; KQ_CUDA_UNAVAILABLE without a usable GPU) or 'auto': the same floats. */
  device?: Device;
}

function planDequantize(typeArg: unknown, bytesArg: unknown, countArg: unknown, optionsArg: unknown): DequantizePlan {
  const info = INFO[expectType(typeArg)];
  const device = resolveDevice(expectObject(optionsArg, 'options').device ?? 'cpu');
  if (!(bytesArg instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for bytes but received ${describe(bytesArg)}`);
  if (typeof countArg !== 'number' || !Number.isSafeInteger(countArg) || countArg < 0) {
    fail('KQ_INVALID_ARGUMENT', `Expected a non-negative integer for count but received ${describe(countArg)}`);
  }
  if (countArg % info.blockSize !== 0) {
    fail('KQ_SHAPE', `Expected count to be a multiple of ${info.blockSize} (the ${typeArg} block size) but received ${countArg}`);
  }
  const expected = (countArg / info.blockSize) * info.bytesPerBlock;
  if (bytesArg.length !== expected) {
    fail('KQ_LENGTH', `Expected ${expected} bytes (${countArg / info.blockSize} ${typeArg} blocks of ${info.bytesPerBlock}) for ${countArg} elements but received ${bytesArg.length}`);
  }
  return { info, bytes: bytesArg, out: new Float32Array(countArg), device };
}

/** ggml dequantize_row_<type>: `count` floats from count / 32 raw blocks. */
export async function dequantizeGGML(type: GGMLQuantType, bytes: Uint8Array, count: number, options?: GGMLDequantizeOptions): Promise<Float32Array> {
  const p = planDequantize(type, bytes, count, options);
  await callAsync(() => native.ggmlDequantize(p.info.id, p.bytes, p.out, p.device, true));
  return p.out;
}

export function dequantizeGGMLSync(type: GGMLQuantType, bytes: Uint8Array, count: number, options?: GGMLDequantizeOptions): Float32Array {
  const p = planDequantize(type, bytes, count, options);
  callSync(() => native.ggmlDequantize(p.info.id, p.bytes, p.out, p.device, false));
  return p.out;
}
