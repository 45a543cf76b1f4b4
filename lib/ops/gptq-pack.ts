// GPTQ results as the tensors a GPTQModel / AutoGPTQ / transformers "gptq" checkpoint holds, and back
// (test/fixtures/gptq/README.md section 4; GPTQModel f4c327a pack_original/pack_block and its v1⇄v2 helpers):
//   qweight int32 [cols·bits/32, rows]   codes packed along the input dimension (native/ops/gptq/pack.h)
//   qzeros  int32 [G, rows·bits/32]      zero points packed along the output dimension, v1 or v2
//   scales  f16   [G, rows]              transposed from GPTQ's [rows, G], rounded to nearest even
//   g_idx   int32 [cols]                 group of each input column (groups in creation order)
// rows = out features, cols = in features.
import { native } from '../binding.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectFloat32Array, expectInteger, expectObject, expectOneOf, fail } from '../validate.js';
import { fromFloat16, fromFloat16Sync, toFloat16, toFloat16Sync } from './convert.js';

/** 'gptq': v1 zero points (stored minus one, what transformers/optimum expect); 'gptq_v2': as computed. */
export type GPTQFormat = 'gptq' | 'gptq_v2';
export type GPTQPackBits = 2 | 3 | 4 | 8;

export const GPTQ_FORMATS: readonly GPTQFormat[] = ['gptq', 'gptq_v2'];
export const GPTQ_PACK_BITS: readonly GPTQPackBits[] = [2, 3, 4, 8];
const FORMAT_CODES: Record<GPTQFormat, number> = { gptq: 0, gptq_v2: 1 };

export interface PackGPTQInput {
  /** Codes [rows, cols] in the original column order, each ≤ 2^bits − 1. */
  codes: Uint8Array;
  /** f32 scales [rows, G], groups in creation order (as GPTQ produces them). */
  scales: Float32Array;
  /** Zero points [rows, G] as integers in [0, 2^bits − 1] (f32 integer values, −0 allowed, or Int32Array). */
  zeros: Float32Array | Int32Array;
  /** Group of each input column [cols], in [0, G). */
  gIdx: Int32Array;
  rows: number;
  cols: number;
  bits: GPTQPackBits;
  /** Input columns per group, or -1 for one group per row. G = ceil(cols / groupSize). */
  groupSize: number;
  /** Zero-point format; default 'gptq' (v1). */
  format?: GPTQFormat;
  /** Carried into the result (and the checkpoint config). */
  sym?: boolean;
  descAct?: boolean;
}

/** One quantized linear layer's checkpoint tensors. */
export interface GPTQTensors {
  /** int32 [cols·bits/32, rows]. */
  qweight: Int32Array;
  /** int32 [G, rows·bits/32]. */
  qzeros: Int32Array;
  /** f16 bits [G, rows]. */
  scales: Uint16Array;
  /** int32 [cols]. */
  gIdx: Int32Array;
  rows: number;
  cols: number;
  bits: GPTQPackBits;
  groupSize: number;
  format: GPTQFormat;
  sym?: boolean;
  descAct?: boolean;
}

export interface UnpackedGPTQ {
  /** [rows, cols], original column order. */
  codes: Uint8Array;
  /** [rows, G]: the zero points themselves (v2 meaning), whatever the format. */
  zeros: Int32Array;
  /** f32 [rows, G]: the f16 scales widened exactly. */
  scales: Float32Array;
  gIdx: Int32Array;
  rows: number;
  cols: number;
  bits: GPTQPackBits;
  groupSize: number;
}

/** Number of groups: ceil(cols / groupSize), 1 for groupSize -1. */
export function gptqGroupCount(cols: number, groupSize: number): number {
  return groupSize === -1 ? 1 : Math.ceil(cols / groupSize);
}

/** Values one packing unit holds along a packed dimension: 32/bits for 2/4/8 bits, 32 for 3 bits. */
export function gptqPackUnit(bits: GPTQPackBits): number {
  return bits === 3 ? 32 : 32 / bits;
}

// ---- validation ----

function expectBits(value: unknown, name: string): GPTQPackBits {
  if (!(GPTQ_PACK_BITS as readonly unknown[]).includes(value)) {
    fail('KQ_INVALID_ARGUMENT', `Expected 2, 3, 4 or 8 for ${name} but received ${describe(value)}`);
  }
  return value as GPTQPackBits;
}

function expectGroupSize(value: unknown, name: string): number {
  if (value === -1) return -1;
  return expectInteger(value, name, 1);
}

// rows and cols: positive and multiples of the packing unit (README 4.1: GPTQModel's original packer).
function expectPackedDim(value: unknown, name: string, bits: GPTQPackBits): number {
  const n = expectInteger(value, name, 1, 2 ** 31);
  const unit = gptqPackUnit(bits);
  if (n % unit !== 0) fail('KQ_SHAPE', `Expected ${name} to be a multiple of ${unit} for ${bits}-bit packing but received ${n}`);
  return n;
}

function expectTyped<T extends ArrayBufferView & { length: number }>(
  value: unknown,
  name: string,
  ctor: { new (n: number): T; name: string },
  length: number,
  what: string,
): T {
  if (!(value instanceof (ctor as unknown as typeof Uint8Array))) fail('KQ_DTYPE', `Expected a ${ctor.name} for ${name} but received ${describe(value)}`);
  const arr = value as unknown as T;
  if (arr.length !== length) fail('KQ_LENGTH', `Expected ${name} to hold ${what} = ${length} values but received ${arr.length}`);
  return arr;
}

function expectGIdx(value: unknown, name: string, cols: number, groups: number): Int32Array {
  const gIdx = expectTyped(value, name, Int32Array, cols, 'cols');
  for (let i = 0; i < cols; ++i) {
    const g = gIdx[i]!;
    if (g < 0 || g >= groups) fail('KQ_INVALID_ARGUMENT', `Expected ${name}[${i}] in [0, ${groups - 1}] (groups) but received ${g}`);
  }
  return gIdx;
}

// Zero points as Int32Array, checked integer and in range (the native packer checks the range again).
function zeroPoints(value: unknown, length: number, maxq: number): Int32Array {
  if (!(value instanceof Float32Array) && !(value instanceof Int32Array)) {
    fail('KQ_DTYPE', `Expected a Float32Array or Int32Array for zeros but received ${describe(value)}`);
  }
  if (value.length !== length) fail('KQ_LENGTH', `Expected zeros to hold rows * G = ${length} values but received ${value.length}`);
  const out = new Int32Array(length);
  for (let k = 0; k < length; ++k) {
    const z = value[k]!;
    if (!Number.isInteger(z) || z < 0 || z > maxq) fail('KQ_INVALID_ARGUMENT', `Expected zeros[${k}] to be an integer in [0, ${maxq}] but received ${z}`);
    out[k] = z;
  }
  return out;
}

// [a, b] → [b, a].
function transpose<T extends Float32Array | Int32Array>(src: T, a: number, b: number, out: T): T {
  for (let i = 0; i < a; ++i) for (let j = 0; j < b; ++j) out[j * a + i] = src[i * b + j]!;
  return out;
}

// ---- pack ----

function planPack(inputArg: unknown, async: boolean) {
  const input = expectObject(inputArg, 'input');
  const bits = expectBits(input.bits, 'bits');
  const rows = expectPackedDim(input.rows, 'rows', bits);
  const cols = expectPackedDim(input.cols, 'cols', bits);
  const groupSize = expectGroupSize(input.groupSize, 'groupSize');
  const format = expectOneOf(input.format ?? 'gptq', 'format', GPTQ_FORMATS);
  const groups = gptqGroupCount(cols, groupSize);
  const codes = expectTyped(input.codes, 'codes', Uint8Array, rows * cols, 'rows * cols');
  const scales = expectFloat32Array(input.scales, 'scales');
  if (scales.length !== rows * groups) fail('KQ_LENGTH', `Expected scales to hold rows * G = ${rows} * ${groups} = ${rows * groups} values but received ${scales.length}`);
  for (let k = 0; k < scales.length; ++k) {
    if (!Number.isFinite(scales[k])) fail('KQ_NON_FINITE', `Expected finite scales but scales[${k}] is ${scales[k]}`);
  }
  const zeros = zeroPoints(input.zeros, rows * groups, (1 << bits) - 1);
  const gIdx = expectGIdx(input.gIdx, 'gIdx', cols, groups);
  const optionalBool = (key: 'sym' | 'descAct'): boolean | undefined => {
    const v = input[key];
    if (v !== undefined && typeof v !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for ${key} but received ${describe(v)}`);
    return v as boolean | undefined;
  };
  const sym = optionalBool('sym');
  const descAct = optionalBool('descAct');

  const qweight = new Int32Array((cols * bits) / 32 * rows);
  const qzeros = new Int32Array(groups * ((rows * bits) / 32));
  const scalesT = transpose(scales, rows, groups, new Float32Array(scales.length));
  const result = (scalesF16: Uint16Array): GPTQTensors => ({
    qweight,
    qzeros,
    scales: scalesF16,
    gIdx: gIdx.slice(),
    rows,
    cols,
    bits,
    groupSize,
    format,
    ...(sym === undefined ? {} : { sym }),
    ...(descAct === undefined ? {} : { descAct }),
  });
  return {
    scalesT,
    result,
    packWeight: () => native.gptqPackQweight(codes, qweight, rows, cols, bits, async),
    packZeros: () => native.gptqPackQzeros(zeros, qzeros, rows, groups, bits, FORMAT_CODES[format], async),
  };
}

/** Packs a GPTQ result into checkpoint tensors (codes, zero points, f16 scales, g_idx). */
export async function packGPTQ(input: PackGPTQInput): Promise<GPTQTensors> {
  const plan = planPack(input, true);
  await callAsync(plan.packWeight as () => Promise<void>);
  await callAsync(plan.packZeros as () => Promise<void>);
  return plan.result(await toFloat16(plan.scalesT));
}

export function packGPTQSync(input: PackGPTQInput): GPTQTensors {
  const plan = planPack(input, false);
  callSync(plan.packWeight);
  callSync(plan.packZeros);
  return plan.result(toFloat16Sync(plan.scalesT));
}

// ---- unpack ----

/** Checks a GPTQTensors object (dtypes, lengths, g_idx range); `name` prefixes the messages. */
export function checkGPTQTensors(tensorsArg: unknown, name = 'tensors'): GPTQTensors {
  const t = expectObject(tensorsArg, name);
  const bits = expectBits(t.bits, `${name}.bits`);
  const rows = expectPackedDim(t.rows, `${name}.rows`, bits);
  const cols = expectPackedDim(t.cols, `${name}.cols`, bits);
  const groupSize = expectGroupSize(t.groupSize, `${name}.groupSize`);
  const format = expectOneOf(t.format, `${name}.format`, GPTQ_FORMATS);
  const groups = gptqGroupCount(cols, groupSize);
  const qweight = expectTyped(t.qweight, `${name}.qweight`, Int32Array, ((cols * bits) / 32) * rows, 'cols * bits / 32 * rows');
  const qzeros = expectTyped(t.qzeros, `${name}.qzeros`, Int32Array, groups * ((rows * bits) / 32), 'G * rows * bits / 32');
  const scales = expectTyped(t.scales, `${name}.scales`, Uint16Array, groups * rows, 'G * rows');
  const gIdx = expectGIdx(t.gIdx, `${name}.gIdx`, cols, groups);
  return { ...(t as unknown as GPTQTensors), qweight, qzeros, scales, gIdx, rows, cols, bits, groupSize, format };
}

function planUnpack(tensorsArg: unknown, async: boolean) {
  const t = checkGPTQTensors(tensorsArg);
  const groups = gptqGroupCount(t.cols, t.groupSize);
  const codes = new Uint8Array(t.rows * t.cols);
  const zerosT = new Int32Array(t.rows * groups);
  const result = (scalesT: Float32Array): UnpackedGPTQ => ({
    codes,
    zeros: zerosT,
    scales: transpose(scalesT, groups, t.rows, new Float32Array(scalesT.length)),
    gIdx: t.gIdx.slice(),
    rows: t.rows,
    cols: t.cols,
    bits: t.bits,
    groupSize: t.groupSize,
  });
  return {
    t,
    result,
    unpackWeight: () => native.gptqUnpackQweight(codes, t.qweight, t.rows, t.cols, t.bits, async),
    unpackZeros: () => native.gptqUnpackQzeros(zerosT, t.qzeros, t.rows, groups, t.bits, FORMAT_CODES[t.format], async),
  };
}

/** Checkpoint tensors back to codes [rows, cols], zero points and f32 scales [rows, G]. */
export async function unpackGPTQ(tensors: GPTQTensors): Promise<UnpackedGPTQ> {
  const plan = planUnpack(tensors, true);
  await callAsync(plan.unpackWeight as () => Promise<void>);
  await callAsync(plan.unpackZeros as () => Promise<void>);
  return plan.result(await fromFloat16(plan.t.scales));
}

export function unpackGPTQSync(tensors: GPTQTensors): UnpackedGPTQ {
  const plan = planUnpack(tensors, false);
  callSync(plan.unpackWeight);
  callSync(plan.unpackZeros);
  return plan.result(fromFloat16Sync(plan.t.scales));
}

// ---- dequantize ----

// w[o, i] = scale[g, o] · (q[i, o] − z[g, o]) with g = g_idx[i], in f32 (README 4.4), computed natively straight
// from the packed tensors (native/ops/gptq/pack.h dequantize): the f16 scale times the small integer difference is
// exact in f32, the value the f64 formula rounds to.
function planDequantize(tensorsArg: unknown) {
  const t = checkGPTQTensors(tensorsArg);
  const w = new Float32Array(t.rows * t.cols);
  const groups = gptqGroupCount(t.cols, t.groupSize);
  const run = <A extends boolean>(async: A) =>
    native.gptqDequantize(t.qweight, t.qzeros, t.scales, t.gIdx, w, t.rows, t.cols, groups, t.bits, FORMAT_CODES[t.format], async);
  return { w, run };
}

/** The weight [rows, cols] f32 a GPTQ checkpoint layer stands for. */
export async function dequantizeGPTQ(tensors: GPTQTensors): Promise<Float32Array> {
  const plan = planDequantize(tensors);
  await callAsync(() => plan.run(true));
  return plan.w;
}

export function dequantizeGPTQSync(tensors: GPTQTensors): Float32Array {
  const plan = planDequantize(tensors);
  callSync(() => plan.run(false));
  return plan.w;
}
