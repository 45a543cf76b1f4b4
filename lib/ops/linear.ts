// Linear int8 quantization: absmax (symmetric, int8 in [-127, 127]) and zero-point (asymmetric, int8 or
// uint8), per tensor, per channel (options.axis) or per block (options.blockSize), plus static
// quantization with calibrated parameters and dynamic per-token quantization of activations.
//
// The scale multiplies: q = clamp(round(x·scale + zeroPoint)) rounding half to even, and
// x ≈ (q − zeroPoint) / scale. NaN or ±Infinity in the input is rejected (KQ_NON_FINITE) rather than
// mapped to an arbitrary code. An all-zero group gets scale 1.
import { native, Scheme } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { groupLayout, type GroupLayout } from './layout.js';
import { describe, expectFloat32Array, expectNonEmpty, expectObject, expectOneOf, expectShape, fail } from '../validate.js';

export type QuantDType = 'int8' | 'uint8';

export interface LinearOptions {
  /** Shape of src (row-major); defaults to [src.length]. */
  shape?: readonly number[];
  /** One scale per index along this axis (per channel); negative counts from the end. */
  axis?: number;
  /** One scale per block of this many consecutive elements (>= 16, dividing the last dimension). */
  blockSize?: number;
  device?: Device;
}

export interface ZeroPointOptions extends LinearOptions {
  /** Storage type of the codes: int8 in [-128, 127] (default) or uint8 in [0, 255]. */
  dtype?: QuantDType;
}

interface Quantized {
  shape: number[];
  granularity: 'tensor' | 'channel' | 'block';
  axis?: number;
  blockSize?: number;
}

/** Per tensor: `scale`; per channel or block: `scales`, one per group. */
export interface AbsmaxQuantized extends Quantized {
  values: Int8Array;
  scale?: number;
  scales?: Float32Array;
}

export interface ZeroPointQuantized extends Quantized {
  values: Int8Array | Uint8Array;
  dtype: QuantDType;
  scale?: number;
  zeroPoint?: number;
  scales?: Float32Array;
  zeroPoints?: Int32Array;
}

export interface DequantizeOptions {
  device?: Device;
}

// Everything a native call needs, validated once for the async and Sync twins.
interface QuantizePlan {
  src: Float32Array;
  layout: GroupLayout;
  shape: number[];
  values: Int8Array | Uint8Array;
  scales: Float32Array;
  zeroPoints: Int32Array | null;
  scheme: Scheme;
  paramsGiven: boolean;
  device: 0 | 1;
}

function planQuantize(srcArg: unknown, optionsArg: unknown, scheme: Scheme): QuantizePlan {
  const src = expectFloat32Array(srcArg, 'src');
  expectNonEmpty(src, 'src');
  const options = expectObject(optionsArg, 'options');
  const shape = expectShape(options.shape ?? [src.length], 'options.shape', src.length);
  const layout = groupLayout(shape, options.axis, options.blockSize);
  const dtype = scheme === Scheme.absmax ? 'int8' : expectOneOf(options.dtype ?? 'int8', 'options.dtype', ['int8', 'uint8'] as const);
  return {
    src,
    layout,
    shape,
    values: dtype === 'int8' ? new Int8Array(src.length) : new Uint8Array(src.length),
    scales: new Float32Array(layout.channels),
    zeroPoints: scheme === Scheme.zeroPoint ? new Int32Array(layout.channels) : null,
    scheme,
    paramsGiven: false,
    device: resolveDevice(options.device),
  };
}

function runQuantize<A extends boolean>(p: QuantizePlan, async: A) {
  const { outer, channels, inner } = p.layout;
  return native.linearQuantize(p.src, p.values, outer, channels, inner, p.scheme, p.paramsGiven, p.scales, p.zeroPoints, p.device, async);
}

function groupFields(layout: GroupLayout): Pick<Quantized, 'granularity' | 'axis' | 'blockSize'> {
  return {
    granularity: layout.granularity,
    ...(layout.axis !== undefined && { axis: layout.axis }),
    ...(layout.blockSize !== undefined && { blockSize: layout.blockSize }),
  };
}

function absmaxResult(p: QuantizePlan): AbsmaxQuantized {
  const base = { values: p.values as Int8Array, shape: p.shape, ...groupFields(p.layout) };
  return p.layout.granularity === 'tensor' ? { ...base, scale: p.scales[0]! } : { ...base, scales: p.scales };
}

function zeroPointResult(p: QuantizePlan): ZeroPointQuantized {
  const base = {
    values: p.values,
    dtype: (p.values instanceof Int8Array ? 'int8' : 'uint8') as QuantDType,
    shape: p.shape,
    ...groupFields(p.layout),
  };
  return p.layout.granularity === 'tensor'
    ? { ...base, scale: p.scales[0]!, zeroPoint: p.zeroPoints![0]! }
    : { ...base, scales: p.scales, zeroPoints: p.zeroPoints! };
}

/** Symmetric int8 quantization: scale = 127 / max|x| per group, codes in [-127, 127]. */
export async function quantizeAbsmax(src: Float32Array, options?: LinearOptions): Promise<AbsmaxQuantized> {
  const plan = planQuantize(src, options, Scheme.absmax);
  await callAsync(() => runQuantize(plan, true));
  return absmaxResult(plan);
}

export function quantizeAbsmaxSync(src: Float32Array, options?: LinearOptions): AbsmaxQuantized {
  const plan = planQuantize(src, options, Scheme.absmax);
  callSync(() => runQuantize(plan, false));
  return absmaxResult(plan);
}

/**
 * Asymmetric quantization: scale = (qmax − qmin) / (max − min), zeroPoint = qmin − round(scale·min), with
 * the range widened to contain 0 so that 0 is exact.
 */
export async function quantizeZeroPoint(src: Float32Array, options?: ZeroPointOptions): Promise<ZeroPointQuantized> {
  const plan = planQuantize(src, options, Scheme.zeroPoint);
  await callAsync(() => runQuantize(plan, true));
  return zeroPointResult(plan);
}

export function quantizeZeroPointSync(src: Float32Array, options?: ZeroPointOptions): ZeroPointQuantized {
  const plan = planQuantize(src, options, Scheme.zeroPoint);
  callSync(() => runQuantize(plan, false));
  return zeroPointResult(plan);
}

// ---- dequantization ----

interface DequantizePlan {
  values: Int8Array | Uint8Array;
  out: Float32Array;
  layout: GroupLayout;
  scales: Float32Array;
  zeroPoints: Int32Array | null;
  device: 0 | 1;
}

// Re-derives the layout from the quantized object's own fields, so a hand-built or deserialized
// object is checked as thoroughly as one kquant returned.
function planDequantize(qArg: unknown, optionsArg: unknown, scheme: Scheme): DequantizePlan {
  const q = expectObject(qArg, 'q');
  const values = q.values;
  if (scheme === Scheme.absmax ? !(values instanceof Int8Array) : !(values instanceof Int8Array || values instanceof Uint8Array)) {
    fail('KQ_DTYPE', `Expected ${scheme === Scheme.absmax ? 'an Int8Array' : 'an Int8Array or Uint8Array'} for q.values but received ${describe(values)}`);
  }
  const codes = values as Int8Array | Uint8Array;
  expectNonEmpty(codes, 'q.values');
  const shape = expectShape(q.shape ?? [codes.length], 'q.shape', codes.length);
  const granularity = expectOneOf(q.granularity ?? 'tensor', 'q.granularity', ['tensor', 'channel', 'block'] as const);
  const layout = groupLayout(
    shape,
    granularity === 'channel' ? (q.axis ?? fail('KQ_INVALID_ARGUMENT', 'Expected q.axis for per-channel data but received undefined')) : undefined,
    granularity === 'block' ? (q.blockSize ?? fail('KQ_INVALID_ARGUMENT', 'Expected q.blockSize for per-block data but received undefined')) : undefined,
  );
  const scales = groupParam(q, 'q', 'scale', 'scales', layout, Float32Array);
  const zeroPoints = scheme === Scheme.zeroPoint ? groupParam(q, 'q', 'zeroPoint', 'zeroPoints', layout, Int32Array) : null;
  return { values: codes, out: new Float32Array(codes.length), layout, scales, zeroPoints, device: resolveDevice(expectObject(optionsArg, 'options').device) };
}

// Per tensor the parameter is a number (`scale`), otherwise a typed array (`scales`) with one per group.
function groupParam<T extends Float32Array | Int32Array>(
  q: Record<string, unknown>,
  owner: 'q' | 'params',
  single: string,
  multiple: string,
  layout: GroupLayout,
  type: { new (values: number[]): T; name: string },
): T {
  if (layout.granularity === 'tensor') {
    const value = q[single];
    if (typeof value !== 'number') fail('KQ_INVALID_ARGUMENT', `Expected a number for ${owner}.${single} but received ${describe(value)}`);
    if (type === (Int32Array as unknown) && !Number.isInteger(value)) {
      fail('KQ_INVALID_ARGUMENT', `Expected an integer for ${owner}.${single} but received ${describe(value)}`);
    }
    return new type([value]);
  }
  const values = q[multiple];
  if (!(values instanceof type)) fail('KQ_DTYPE', `Expected a ${type.name} for ${owner}.${multiple} but received ${describe(values)}`);
  if (values.length !== layout.channels) {
    fail('KQ_LENGTH', `Expected ${owner}.${multiple} to have ${layout.channels} entries (one per group) but received ${values.length}`);
  }
  return values;
}

function runDequantize<A extends boolean>(p: DequantizePlan, async: A) {
  const { outer, channels, inner } = p.layout;
  return native.linearDequantize(p.values, p.out, outer, channels, inner, p.scales, p.zeroPoints, p.device, async);
}

export async function dequantizeAbsmax(q: AbsmaxQuantized, options?: DequantizeOptions): Promise<Float32Array> {
  const plan = planDequantize(q, options, Scheme.absmax);
  await callAsync(() => runDequantize(plan, true));
  return plan.out;
}

export function dequantizeAbsmaxSync(q: AbsmaxQuantized, options?: DequantizeOptions): Float32Array {
  const plan = planDequantize(q, options, Scheme.absmax);
  callSync(() => runDequantize(plan, false));
  return plan.out;
}

export async function dequantizeZeroPoint(q: ZeroPointQuantized, options?: DequantizeOptions): Promise<Float32Array> {
  const plan = planDequantize(q, options, Scheme.zeroPoint);
  await callAsync(() => runDequantize(plan, true));
  return plan.out;
}

export function dequantizeZeroPointSync(q: ZeroPointQuantized, options?: DequantizeOptions): Float32Array {
  const plan = planDequantize(q, options, Scheme.zeroPoint);
  callSync(() => runDequantize(plan, false));
  return plan.out;
}

// ---- static (calibrated) and dynamic activation quantization ----

/** Quantization parameters fixed ahead of time, e.g. by a calibration observer (ops/calibrate.ts). */
export interface QuantParams {
  scheme: 'absmax' | 'zeroPoint';
  dtype: QuantDType;
  granularity: 'tensor' | 'channel';
  axis?: number;
  scale?: number;
  zeroPoint?: number;
  scales?: Float32Array;
  zeroPoints?: Int32Array;
}

export interface StaticOptions {
  shape?: readonly number[];
  device?: Device;
}

function planStatic(srcArg: unknown, paramsArg: unknown, optionsArg: unknown): QuantizePlan {
  const params = expectObject(paramsArg, 'params');
  const schemeName = expectOneOf(params.scheme, 'params.scheme', ['absmax', 'zeroPoint'] as const);
  const scheme = schemeName === 'absmax' ? Scheme.absmax : Scheme.zeroPoint;
  const options = expectObject(optionsArg, 'options');
  const granularity = expectOneOf(params.granularity ?? 'tensor', 'params.granularity', ['tensor', 'channel'] as const);
  const plan = planQuantize(
    srcArg,
    { shape: options.shape, device: options.device, dtype: params.dtype, axis: granularity === 'channel' ? (params.axis ?? fail('KQ_INVALID_ARGUMENT', 'Expected params.axis for per-channel params but received undefined')) : undefined },
    scheme,
  );
  plan.scales = groupParam(params, 'params', 'scale', 'scales', plan.layout, Float32Array);
  plan.zeroPoints = scheme === Scheme.zeroPoint ? groupParam(params, 'params', 'zeroPoint', 'zeroPoints', plan.layout, Int32Array) : null;
  plan.paramsGiven = true;
  return plan;
}

function staticResult(plan: QuantizePlan): AbsmaxQuantized | ZeroPointQuantized {
  return plan.scheme === Scheme.absmax ? absmaxResult(plan) : zeroPointResult(plan);
}

/** Static quantization: applies calibrated parameters; values past the calibrated range saturate. */
export async function quantizeStatic(src: Float32Array, params: QuantParams, options?: StaticOptions): Promise<AbsmaxQuantized | ZeroPointQuantized> {
  const plan = planStatic(src, params, options);
  await callAsync(() => runQuantize(plan, true));
  return staticResult(plan);
}

export function quantizeStaticSync(src: Float32Array, params: QuantParams, options?: StaticOptions): AbsmaxQuantized | ZeroPointQuantized {
  const plan = planStatic(src, params, options);
  callSync(() => runQuantize(plan, false));
  return staticResult(plan);
}

export interface PerTokenOptions {
  scheme?: 'absmax' | 'zeroPoint';
  dtype?: QuantDType;
  device?: Device;
}

function perTokenOptions(shape: unknown, options: unknown): ZeroPointOptions & { scheme: 'absmax' | 'zeroPoint' } {
  if (!Array.isArray(shape) || shape.length !== 2) {
    fail('KQ_SHAPE', `Expected shape [tokens, hidden] but received ${describe(shape)}`);
  }
  const o = expectObject(options, 'options');
  const scheme = expectOneOf(o.scheme ?? 'absmax', 'options.scheme', ['absmax', 'zeroPoint'] as const);
  return { shape: shape as number[], axis: 0, device: o.device as Device | undefined, dtype: o.dtype as QuantDType | undefined, scheme };
}

/** Dynamic per-token quantization of activations [tokens, hidden]: one scale per token (row). */
export async function quantizePerToken(x: Float32Array, shape: readonly [number, number], options?: PerTokenOptions): Promise<AbsmaxQuantized | ZeroPointQuantized> {
  const { scheme, ...rest } = perTokenOptions(shape, options);
  return scheme === 'absmax' ? quantizeAbsmax(x, rest) : quantizeZeroPoint(x, rest);
}

export function quantizePerTokenSync(x: Float32Array, shape: readonly [number, number], options?: PerTokenOptions): AbsmaxQuantized | ZeroPointQuantized {
  const { scheme, ...rest } = perTokenOptions(shape, options);
  return scheme === 'absmax' ? quantizeAbsmaxSync(x, rest) : quantizeZeroPointSync(x, rest);
}
