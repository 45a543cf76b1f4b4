// bitsandbytes-compatible blockwise quantization: 4-bit NF4 / FP4 (with QLoRA double quantization of the
// block scales) and 8-bit blockwise quantization with a 256-entry code map. The bytes match bnb's CUDA
// kernels (commit 95f9af3; the format is specified in test/fixtures/bnb/README.md, sections 3-4).
//
// Input is f32, or f16 / bf16 bits in a Uint16Array with options.dtype; it is widened to f32 exactly and
// flattened row-major. Blocks are consecutive runs of blockSize elements (the last may be shorter);
// absmax[b] = max |x| over the block and each element is scaled by the f32 reciprocal of it. 4-bit codes are
// packed two per byte with the even element in the high nibble. Dequantization multiplies the code's value
// by the block's absmax in f32 and casts to the output dtype rounding to nearest even, as bnb does.
// NaN or ±Infinity in the input is rejected (KQ_NON_FINITE, by the native kernels' absmax pass).
import { native, Quant4 } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { fromBFloat16, fromBFloat16Sync, fromFloat16, fromFloat16Sync, toBFloat16, toBFloat16Sync, toFloat16, toFloat16Sync } from './convert.js';
import { describe, expectNonEmpty, expectObject, expectOneOf, expectShape, fail } from '../validate.js';

export type Quant4Type = 'nf4' | 'fp4';
export type BnbDType = 'float32' | 'float16' | 'bfloat16';

/** Block sizes bnb accepts for 4-bit quantization. */
export const BNB_4BIT_BLOCK_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096] as const;
/** Block sizes bnb's CUDA kernels accept for 8-bit blockwise quantization. */
export const BNB_8BIT_BLOCK_SIZES = [64, 128, 256, 512, 1024, 2048, 4096] as const;
/** Block size of the double quantization of 4-bit block scales (bnb's nested_blocksize). */
export const BNB_NESTED_BLOCK_SIZE = 256;

/** Second-level state of double-quantized block scales: absmax' = code[q] · absmax[b / blockSize] + offset. */
export interface NestedState {
  /** f32 scale per nested block (bnb's state2.absmax / `nested_absmax`). */
  absmax: Float32Array;
  /** The 256-entry map the scales were quantized with (`nested_quant_map`). */
  code: Float32Array;
  blockSize: number;
  /** f32 mean subtracted before quantizing (`nested_offset`). */
  offset: number;
}

interface StateBase {
  blockSize: number;
  /** dtype of the original input, and the default output dtype of dequantization. */
  dtype: BnbDType;
  shape: number[];
}

/** f32 block scales, or (double quantization) their uint8 codes plus the nested state. */
export type BlockScales = { absmax: Float32Array; nested?: undefined } | { absmax: Uint8Array; nested: NestedState };

export type QuantState4bit = StateBase & {
  quantType: Quant4Type;
  /** The 16 values a 4-bit code stands for (`quant_map`). */
  code: Float32Array;
} & BlockScales;

export interface Quantized4bit {
  /** (n + 1) >> 1 bytes, even element in the high nibble. */
  packed: Uint8Array;
  state: QuantState4bit;
}

export type BlockwiseState = StateBase & {
  /** The 256-entry ascending map the codes index. */
  code: Float32Array;
} & BlockScales;

export interface QuantizedBlockwise {
  codes: Uint8Array;
  state: BlockwiseState;
}

interface InputOptions {
  /** 'float32' for a Float32Array (default); 'float16' or 'bfloat16' for a Uint16Array of bits. */
  dtype?: BnbDType;
  /** Shape of src (row-major), kept in the state; defaults to [src.length]. */
  shape?: readonly number[];
  device?: Device;
  /**
   * For reproducing a checkpoint: the f32 offset subtracted before double quantization, instead of the mean
   * of the block scales computed here (which may differ from another implementation's in the last bit).
   */
  nestedOffset?: number;
}

export interface Quantize4bitOptions extends InputOptions {
  quantType?: Quant4Type;
  /** 32 … 4096, a power of two; default 64. */
  blockSize?: number;
  /** Double-quantize the block scales (QLoRA): 8-bit with the dynamic map in blocks of 256. */
  compressStatistics?: boolean;
}

export interface QuantizeBlockwiseOptions extends InputOptions {
  /** 256 ascending f32 values; default bnb's signed dynamic map. */
  code?: Float32Array;
  /** 64 … 4096, a power of two; default 4096. */
  blockSize?: number;
  /** Double-quantize the block scales with the dynamic map, in blocks of the same blockSize (as bnb). */
  nested?: boolean;
}

export interface BnbDequantizeOptions {
  /** Output dtype; defaults to the state's dtype. f16 / bf16 come back as Uint16Array bits. */
  outDtype?: BnbDType;
  device?: Device;
}

type HalfOut = BnbDequantizeOptions & { outDtype: 'float16' | 'bfloat16' };
type FloatOut = BnbDequantizeOptions & { outDtype: 'float32' };

const DTYPES = ['float32', 'float16', 'bfloat16'] as const;

const code4Cache: Partial<Record<Quant4Type, Float32Array>> = {};
let dynamicMapCache: Float32Array | undefined;

/** The 16 values of bnb's NF4 or FP4 code book (index = 4-bit code). A fresh copy. */
export function bnbCode4(quantType: Quant4Type = 'nf4'): Float32Array {
  const type = expectOneOf(quantType, 'quantType', ['nf4', 'fp4'] as const);
  code4Cache[type] ??= Float32Array.from(callSync(() => native.bnbCode4(Quant4[type])));
  return code4Cache[type]!.slice();
}

/** bnb's signed dynamic 8-bit map (create_dynamic_map(signed=True)), 256 ascending values. A fresh copy. */
export function bnbDynamicMap(): Float32Array {
  dynamicMapCache ??= Float32Array.from(callSync(() => native.bnbDynamicMap()));
  return dynamicMapCache.slice();
}

// ---- argument checks ----

function expectBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for ${name} but received ${describe(value)}`);
  return value;
}

function expectBlockSize(value: unknown, name: string, allowed: readonly number[]): number {
  if (typeof value !== 'number' || !allowed.includes(value)) {
    fail('KQ_INVALID_ARGUMENT', `Expected one of ${allowed.join(', ')} for ${name} but received ${describe(value)}`);
  }
  return value;
}

function expectArray<T extends Float32Array | Uint8Array>(value: unknown, name: string, type: { new (n: number): T; name: string }, length: number, what: string): T {
  if (!(value instanceof type)) fail('KQ_DTYPE', `Expected a ${type.name} for ${name} but received ${describe(value)}`);
  if (value.length !== length) fail('KQ_LENGTH', `Expected ${name} to have ${length} entries (${what}) but received ${value.length}`);
  return value;
}

function expectFiniteValues(values: Float32Array, name: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) fail('KQ_NON_FINITE', `Expected finite values in ${name} but ${name}[${i}] is ${v}`);
  }
}

// A 256-entry code map: f32, finite, strictly ascending (the nearest-entry search needs the order).
function expectCodeMap(value: unknown, name: string): Float32Array {
  const code = expectArray(value, name, Float32Array, 256, 'a 256-entry map');
  expectFiniteValues(code, name);
  for (let j = 0; j + 1 < 256; j++) {
    if (!(code[j]! < code[j + 1]!)) {
      fail('KQ_INVALID_ARGUMENT', `Expected ${name} to be strictly ascending but ${name}[${j}] = ${code[j]} >= ${name}[${j + 1}] = ${code[j + 1]}`);
    }
  }
  return code;
}

function expectFiniteOffset(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(typeof value === 'number' ? 'KQ_NON_FINITE' : 'KQ_INVALID_ARGUMENT', `Expected a finite number for ${name} but received ${describe(value)}`);
  }
  return value;
}

function blocks(n: number, blockSize: number): number {
  return Math.ceil(n / blockSize);
}

// ---- input ----

interface Input {
  src: Float32Array | Uint16Array;
  dtype: BnbDType;
  n: number;
  shape: number[];
  device: 0 | 1;
  deviceName: Device | undefined;
}

function planInput(srcArg: unknown, options: Record<string, unknown>): Input {
  if (options.dtype === undefined && srcArg instanceof Uint16Array) {
    fail('KQ_DTYPE', "Expected options.dtype 'float16' or 'bfloat16' for a Uint16Array src but received undefined");
  }
  const dtype = expectOneOf(options.dtype ?? 'float32', 'options.dtype', DTYPES);
  if (dtype === 'float32' && !(srcArg instanceof Float32Array)) {
    fail('KQ_DTYPE', `Expected a Float32Array for src (options.dtype 'float32') but received ${describe(srcArg)}`);
  }
  if (dtype !== 'float32' && !(srcArg instanceof Uint16Array)) {
    fail('KQ_DTYPE', `Expected a Uint16Array of ${dtype} bits for src (options.dtype '${dtype}') but received ${describe(srcArg)}`);
  }
  const src = srcArg as Float32Array | Uint16Array;
  expectNonEmpty(src, 'src');
  const shape = expectShape(options.shape ?? [src.length], 'options.shape', src.length);
  const deviceName = options.device as Device | undefined;
  return { src, dtype, n: src.length, shape, device: resolveDevice(deviceName), deviceName };
}

function planNestedOffset(options: Record<string, unknown>, nested: boolean, nestedName: string): number | undefined {
  if (options.nestedOffset === undefined) return undefined;
  if (!nested) fail('KQ_INVALID_ARGUMENT', `options.nestedOffset applies only with ${nestedName}: true`);
  return expectFiniteOffset(options.nestedOffset, 'options.nestedOffset');
}

function widenSync(input: Input): Float32Array {
  const { src, dtype, deviceName } = input;
  return dtype === 'float32' ? (src as Float32Array) : dtype === 'float16' ? fromFloat16Sync(src as Uint16Array, { device: deviceName }) : fromBFloat16Sync(src as Uint16Array, { device: deviceName });
}

async function widenAsync(input: Input): Promise<Float32Array> {
  const { src, dtype, deviceName } = input;
  return dtype === 'float32' ? (src as Float32Array) : dtype === 'float16' ? fromFloat16(src as Uint16Array, { device: deviceName }) : fromBFloat16(src as Uint16Array, { device: deviceName });
}

// Double quantization of the block scales (CPU; they are small): offset = mean unless given.
function nest(absmax: Float32Array, nestedBlockSize: number, offsetGiven: number | undefined): { qabsmax: Uint8Array; nested: NestedState } {
  const code = bnbDynamicMap();
  const offset = new Float32Array([offsetGiven ?? 0]);
  const qabsmax = new Uint8Array(absmax.length);
  const absmax2 = new Float32Array(blocks(absmax.length, nestedBlockSize));
  callSync(() => native.bnbQuantizeNested(absmax, nestedBlockSize, code, offsetGiven !== undefined, offset, qabsmax, absmax2));
  return { qabsmax, nested: { absmax: absmax2, code, blockSize: nestedBlockSize, offset: offset[0]! } };
}

function scalesResult(absmax: Float32Array, nestedBlockSize: number | null, offset: number | undefined): BlockScales {
  if (nestedBlockSize === null) return { absmax };
  const { qabsmax, nested } = nest(absmax, nestedBlockSize, offset);
  return { absmax: qabsmax, nested };
}

// ---- 4-bit quantization ----

interface Quantize4bitPlan {
  input: Input;
  quantType: Quant4Type;
  blockSize: number;
  compress: boolean;
  nestedOffset: number | undefined;
  packed: Uint8Array;
  absmax: Float32Array;
}

function planQuantize4bit(srcArg: unknown, optionsArg: unknown): Quantize4bitPlan {
  const options = expectObject(optionsArg, 'options');
  const input = planInput(srcArg, options);
  const quantType = expectOneOf(options.quantType ?? 'nf4', 'options.quantType', ['nf4', 'fp4'] as const);
  const blockSize = expectBlockSize(options.blockSize ?? 64, 'options.blockSize', BNB_4BIT_BLOCK_SIZES);
  const compress = expectBoolean(options.compressStatistics, 'options.compressStatistics', false);
  const nestedOffset = planNestedOffset(options, compress, 'options.compressStatistics');
  return { input, quantType, blockSize, compress, nestedOffset, packed: new Uint8Array((input.n + 1) >> 1), absmax: new Float32Array(blocks(input.n, blockSize)) };
}

function runQuantize4bit<A extends boolean>(p: Quantize4bitPlan, src: Float32Array, async: A) {
  return native.bnbQuantize4bit(src, p.blockSize, Quant4[p.quantType], p.packed, p.absmax, p.input.device, async);
}

function result4bit(p: Quantize4bitPlan): Quantized4bit {
  const base = { quantType: p.quantType, blockSize: p.blockSize, dtype: p.input.dtype, shape: p.input.shape, code: bnbCode4(p.quantType) };
  return { packed: p.packed, state: { ...base, ...scalesResult(p.absmax, p.compress ? BNB_NESTED_BLOCK_SIZE : null, p.nestedOffset) } };
}

/** bnb `quantize_4bit`: NF4 (default) or FP4 codes, two per byte, with one f32 absmax per block. */
export async function quantize4bit(src: Float32Array | Uint16Array, options?: Quantize4bitOptions): Promise<Quantized4bit> {
  const plan = planQuantize4bit(src, options);
  const src32 = await widenAsync(plan.input);
  await callAsync(() => runQuantize4bit(plan, src32, true));
  return result4bit(plan);
}

export function quantize4bitSync(src: Float32Array | Uint16Array, options?: Quantize4bitOptions): Quantized4bit {
  const plan = planQuantize4bit(src, options);
  const src32 = widenSync(plan.input);
  callSync(() => runQuantize4bit(plan, src32, false));
  return result4bit(plan);
}

// ---- dequantization (shared) ----

interface StateCommon {
  n: number;
  blockSize: number;
  dtype: BnbDType;
  shape: number[];
  scales: { absmax: Float32Array } | { qabsmax: Uint8Array; nested: NestedState };
}

// Checks the fields both state kinds share; `count` is the number of stored codes the data holds.
function checkState(state: Record<string, unknown>, owner: string, allowedBlockSizes: readonly number[], dataLength: (n: number) => number, data: { length: number }, dataName: string): StateCommon {
  const blockSize = expectBlockSize(state.blockSize, `${owner}.blockSize`, allowedBlockSizes);
  const dtype = expectOneOf(state.dtype ?? 'float32', `${owner}.dtype`, DTYPES);
  const rawShape = state.shape;
  const count = Array.isArray(rawShape) ? rawShape.reduce((a: number, d: unknown) => a * (typeof d === 'number' ? d : NaN), 1) : NaN;
  const shape = expectShape(rawShape, `${owner}.shape`, count);
  expectNonEmpty({ length: count }, `${owner}.shape`);
  if (data.length !== dataLength(count)) {
    fail('KQ_LENGTH', `Expected ${dataName} to have ${dataLength(count)} entries for ${owner}.shape [${shape.join(', ')}] but received ${data.length}`);
  }
  const nb = blocks(count, blockSize);
  const absmax = state.absmax;
  if (state.nested === undefined) {
    if (absmax instanceof Uint8Array) {
      fail('KQ_DTYPE', `${owner}.absmax is a Uint8Array (double-quantized scales) but ${owner}.nested is missing`);
    }
    return { n: count, blockSize, dtype, shape, scales: { absmax: expectArray(absmax, `${owner}.absmax`, Float32Array, nb, 'one per block') } };
  }
  const nestedObj = state.nested;
  if (nestedObj === null || typeof nestedObj !== 'object' || Array.isArray(nestedObj)) {
    fail('KQ_INVALID_ARGUMENT', `Expected an object for ${owner}.nested but received ${describe(nestedObj)}`);
  }
  const n2 = nestedObj as Record<string, unknown>;
  const qabsmax = expectArray(absmax, `${owner}.absmax`, Uint8Array, nb, 'one code per block, double-quantized');
  const nestedBlockSize = expectBlockSize(n2.blockSize, `${owner}.nested.blockSize`, BNB_8BIT_BLOCK_SIZES);
  const nested: NestedState = {
    absmax: expectArray(n2.absmax, `${owner}.nested.absmax`, Float32Array, blocks(nb, nestedBlockSize), 'one per nested block'),
    code: expectCodeMap(n2.code, `${owner}.nested.code`),
    blockSize: nestedBlockSize,
    offset: expectFiniteOffset(n2.offset, `${owner}.nested.offset`),
  };
  return { n: count, blockSize, dtype, shape, scales: { qabsmax, nested } };
}

function blockScales(s: StateCommon): Float32Array {
  if ('absmax' in s.scales) return s.scales.absmax;
  const { qabsmax, nested } = s.scales;
  const out = new Float32Array(qabsmax.length);
  callSync(() => native.bnbDequantizeNested(qabsmax, nested.blockSize, nested.code, nested.absmax, nested.offset, out));
  return out;
}

function planOutput(optionsArg: unknown, stateDtype: BnbDType): { outDtype: BnbDType; device: 0 | 1; deviceName: Device | undefined } {
  const options = expectObject(optionsArg, 'options');
  const outDtype = expectOneOf(options.outDtype ?? stateDtype, 'options.outDtype', DTYPES);
  const deviceName = options.device as Device | undefined;
  return { outDtype, device: resolveDevice(deviceName), deviceName };
}

function narrowSync(out: Float32Array, outDtype: BnbDType, deviceName: Device | undefined): Float32Array | Uint16Array {
  if (outDtype === 'float16') return toFloat16Sync(out, { device: deviceName });
  if (outDtype === 'bfloat16') return toBFloat16Sync(out, { device: deviceName });
  return out;
}

async function narrowAsync(out: Float32Array, outDtype: BnbDType, deviceName: Device | undefined): Promise<Float32Array | Uint16Array> {
  if (outDtype === 'float16') return toFloat16(out, { device: deviceName });
  if (outDtype === 'bfloat16') return toBFloat16(out, { device: deviceName });
  return out;
}

// ---- 4-bit dequantization ----

interface Dequantize4bitPlan {
  packed: Uint8Array;
  quantType: Quant4Type;
  common: StateCommon;
  out: Float32Array;
  outDtype: BnbDType;
  device: 0 | 1;
  deviceName: Device | undefined;
}

// Re-derives everything from the object's own fields, so a hand-built or deserialized state is checked as
// thoroughly as one kquant returned. state.code (quant_map), when present, must be 16 f32 values; the codes
// are decoded with the built-in table for quantType, as bnb's kernels do.
function planDequantize4bit(qArg: unknown, optionsArg: unknown): Dequantize4bitPlan {
  const q = expectObject(qArg, 'q');
  const packed = q.packed;
  if (!(packed instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for q.packed but received ${describe(packed)}`);
  if (q.state === null || typeof q.state !== 'object' || Array.isArray(q.state)) {
    fail('KQ_INVALID_ARGUMENT', `Expected an object for q.state but received ${describe(q.state)}`);
  }
  const state = q.state as Record<string, unknown>;
  const quantType = expectOneOf(state.quantType, 'q.state.quantType', ['nf4', 'fp4'] as const);
  if (state.code !== undefined) expectArray(state.code, 'q.state.code', Float32Array, 16, 'the 4-bit code book');
  const common = checkState(state, 'q.state', BNB_4BIT_BLOCK_SIZES, (n) => (n + 1) >> 1, packed, 'q.packed');
  const { outDtype, device, deviceName } = planOutput(optionsArg, common.dtype);
  return { packed, quantType, common, out: new Float32Array(common.n), outDtype, device, deviceName };
}

function runDequantize4bit<A extends boolean>(p: Dequantize4bitPlan, absmax: Float32Array, async: A) {
  return native.bnbDequantize4bit(p.packed, p.common.n, p.common.blockSize, Quant4[p.quantType], absmax, p.out, p.device, async);
}

/** bnb `dequantize_4bit`: code value · block absmax in f32, cast to options.outDtype (default the input's dtype). */
export async function dequantize4bit(q: Quantized4bit, options: HalfOut): Promise<Uint16Array>;
export async function dequantize4bit(q: Quantized4bit, options: FloatOut): Promise<Float32Array>;
export async function dequantize4bit(q: Quantized4bit, options?: BnbDequantizeOptions): Promise<Float32Array | Uint16Array>;
export async function dequantize4bit(q: Quantized4bit, options?: BnbDequantizeOptions): Promise<Float32Array | Uint16Array> {
  const plan = planDequantize4bit(q, options);
  const absmax = blockScales(plan.common);
  await callAsync(() => runDequantize4bit(plan, absmax, true));
  return narrowAsync(plan.out, plan.outDtype, plan.deviceName);
}

export function dequantize4bitSync(q: Quantized4bit, options: HalfOut): Uint16Array;
export function dequantize4bitSync(q: Quantized4bit, options: FloatOut): Float32Array;
export function dequantize4bitSync(q: Quantized4bit, options?: BnbDequantizeOptions): Float32Array | Uint16Array;
export function dequantize4bitSync(q: Quantized4bit, options?: BnbDequantizeOptions): Float32Array | Uint16Array {
  const plan = planDequantize4bit(q, options);
  const absmax = blockScales(plan.common);
  callSync(() => runDequantize4bit(plan, absmax, false));
  return narrowSync(plan.out, plan.outDtype, plan.deviceName);
}

// ---- 8-bit blockwise ----

interface QuantizeBlockwisePlan {
  input: Input;
  code: Float32Array;
  blockSize: number;
  nested: boolean;
  nestedOffset: number | undefined;
  codes: Uint8Array;
  absmax: Float32Array;
}

function planQuantizeBlockwise(srcArg: unknown, optionsArg: unknown): QuantizeBlockwisePlan {
  const options = expectObject(optionsArg, 'options');
  const input = planInput(srcArg, options);
  const code = options.code === undefined ? bnbDynamicMap() : expectCodeMap(options.code, 'options.code').slice();
  const blockSize = expectBlockSize(options.blockSize ?? 4096, 'options.blockSize', BNB_8BIT_BLOCK_SIZES);
  const nested = expectBoolean(options.nested, 'options.nested', false);
  const nestedOffset = planNestedOffset(options, nested, 'options.nested');
  return { input, code, blockSize, nested, nestedOffset, codes: new Uint8Array(input.n), absmax: new Float32Array(blocks(input.n, blockSize)) };
}

function runQuantizeBlockwise<A extends boolean>(p: QuantizeBlockwisePlan, src: Float32Array, async: A) {
  return native.bnbQuantize8bit(src, p.blockSize, p.code, p.codes, p.absmax, p.input.device, async);
}

function resultBlockwise(p: QuantizeBlockwisePlan): QuantizedBlockwise {
  const base = { blockSize: p.blockSize, code: p.code, dtype: p.input.dtype, shape: p.input.shape };
  return { codes: p.codes, state: { ...base, ...scalesResult(p.absmax, p.nested ? p.blockSize : null, p.nestedOffset) } };
}

/**
 * bnb `quantize_blockwise`: per element the index of the nearest entry of the code map (ties to the even
 * index, as bnb's CUDA search), one f32 absmax per block. options.nested double-quantizes the scales with the
 * dynamic map in blocks of the same blockSize.
 */
export async function quantizeBlockwise(src: Float32Array | Uint16Array, options?: QuantizeBlockwiseOptions): Promise<QuantizedBlockwise> {
  const plan = planQuantizeBlockwise(src, options);
  const src32 = await widenAsync(plan.input);
  await callAsync(() => runQuantizeBlockwise(plan, src32, true));
  return resultBlockwise(plan);
}

export function quantizeBlockwiseSync(src: Float32Array | Uint16Array, options?: QuantizeBlockwiseOptions): QuantizedBlockwise {
  const plan = planQuantizeBlockwise(src, options);
  const src32 = widenSync(plan.input);
  callSync(() => runQuantizeBlockwise(plan, src32, false));
  return resultBlockwise(plan);
}

interface DequantizeBlockwisePlan {
  codes: Uint8Array;
  code: Float32Array;
  common: StateCommon;
  out: Float32Array;
  outDtype: BnbDType;
  device: 0 | 1;
  deviceName: Device | undefined;
}

function planDequantizeBlockwise(qArg: unknown, optionsArg: unknown): DequantizeBlockwisePlan {
  const q = expectObject(qArg, 'q');
  const codes = q.codes;
  if (!(codes instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for q.codes but received ${describe(codes)}`);
  if (q.state === null || typeof q.state !== 'object' || Array.isArray(q.state)) {
    fail('KQ_INVALID_ARGUMENT', `Expected an object for q.state but received ${describe(q.state)}`);
  }
  const state = q.state as Record<string, unknown>;
  const code = expectCodeMap(state.code, 'q.state.code');
  const common = checkState(state, 'q.state', BNB_8BIT_BLOCK_SIZES, (n) => n, codes, 'q.codes');
  const { outDtype, device, deviceName } = planOutput(optionsArg, common.dtype);
  return { codes, code, common, out: new Float32Array(common.n), outDtype, device, deviceName };
}

function runDequantizeBlockwise<A extends boolean>(p: DequantizeBlockwisePlan, absmax: Float32Array, async: A) {
  return native.bnbDequantize8bit(p.codes, p.common.blockSize, p.code, absmax, p.out, p.device, async);
}

/** bnb `dequantize_blockwise`: code[q] · block absmax in f32, cast to options.outDtype (default the input's dtype). */
export async function dequantizeBlockwise(q: QuantizedBlockwise, options: HalfOut): Promise<Uint16Array>;
export async function dequantizeBlockwise(q: QuantizedBlockwise, options: FloatOut): Promise<Float32Array>;
export async function dequantizeBlockwise(q: QuantizedBlockwise, options?: BnbDequantizeOptions): Promise<Float32Array | Uint16Array>;
export async function dequantizeBlockwise(q: QuantizedBlockwise, options?: BnbDequantizeOptions): Promise<Float32Array | Uint16Array> {
  const plan = planDequantizeBlockwise(q, options);
  const absmax = blockScales(plan.common);
  await callAsync(() => runDequantizeBlockwise(plan, absmax, true));
  return narrowAsync(plan.out, plan.outDtype, plan.deviceName);
}

export function dequantizeBlockwiseSync(q: QuantizedBlockwise, options: HalfOut): Uint16Array;
export function dequantizeBlockwiseSync(q: QuantizedBlockwise, options: FloatOut): Float32Array;
export function dequantizeBlockwiseSync(q: QuantizedBlockwise, options?: BnbDequantizeOptions): Float32Array | Uint16Array;
export function dequantizeBlockwiseSync(q: QuantizedBlockwise, options?: BnbDequantizeOptions): Float32Array | Uint16Array {
  const plan = planDequantizeBlockwise(q, options);
  const absmax = blockScales(plan.common);
  callSync(() => runDequantizeBlockwise(plan, absmax, false));
  return narrowSync(plan.out, plan.outDtype, plan.deviceName);
}
