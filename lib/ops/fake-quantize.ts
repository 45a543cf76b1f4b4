// Fake quantization for quantization-aware training: y = dequantize(quantize(x)) through kquant's own ops (so
// y is exactly what the stored format gives back), plus the straight-through estimator's mask for the backward
// pass (grad_x = mask · grad_y). Nothing is computed here but the mask; every format is a composition.
import type { Device } from '../backend.js';
import { dequantize4bit, dequantize4bitSync, dequantizeBlockwise, dequantizeBlockwiseSync, quantize4bit, quantize4bitSync, quantizeBlockwise, quantizeBlockwiseSync } from './bnb.js';
import { dequantizeCodebook, dequantizeCodebookSync, quantizeCodebook, quantizeCodebookSync } from './codebook.js';
import { dequantizeGGML, dequantizeGGMLSync, GGML_QUANT_TYPES, quantizeGGML, quantizeGGMLSync, type GGMLQuantType } from './ggml.js';
import { solveRTN, solveRTNSync, type GPTQBits, type GPTQSolution } from './gptq.js';
import {
  dequantizeTernary,
  dequantizeTernarySync,
  quantizeBinary,
  quantizeBinarySync,
  quantizeTernary,
  quantizeTernarySync,
  TERNARY_EPSILON,
  type TernaryGranularity,
  type TernaryQuantized,
} from './ternary.js';
import { dequantizeAbsmax, dequantizeAbsmaxSync, dequantizeZeroPoint, dequantizeZeroPointSync, quantizeAbsmax, quantizeAbsmaxSync, quantizeZeroPoint, quantizeZeroPointSync, type QuantDType } from './linear.js';
import { describe, expectFloat32Array, expectNonEmpty, expectObject, expectOneOf, fail } from '../validate.js';

export const FAKE_QUANT_FORMATS = ['int8-absmax', 'int8-zeropoint', 'nf4', 'fp4', 'blockwise8', 'codebook', 'int4', 'gptq-rtn', 'ternary', 'binary', ...GGML_QUANT_TYPES] as const;
export type FakeQuantFormat = (typeof FAKE_QUANT_FORMATS)[number];

export interface FakeQuantizeOptions {
  /** Also return the straight-through estimator's mask. Default false. */
  ste?: boolean;
  /** int8-*: shape of x (default [x.length]); int4 / gptq-rtn / ternary / binary: [rows, cols] (default [1, x.length]). */
  shape?: readonly number[];
  /** int8-*: one scale per index along this axis. */
  axis?: number;
  /** int8-*: elements per scale block (>= 16); nf4 / fp4 (default 64), blockwise8 (default 4096), codebook (default 64). */
  blockSize?: number;
  /** int8-zeropoint: 'int8' (default) or 'uint8' codes. */
  dtype?: QuantDType;
  /** nf4 / fp4: double-quantize the block scales (QLoRA); their rounding is then part of y. */
  compressStatistics?: boolean;
  /** blockwise8: double-quantize the block scales. */
  nested?: boolean;
  /** blockwise8: 256 ascending values (default bnb's dynamic map); codebook: the codebook (required). */
  code?: Float32Array;
  /** codebook: 3 … 8; gptq-rtn: 2, 3, 4 (default) or 8. */
  bits?: number;
  /** int4 / gptq-rtn: input columns per group (default 128; -1 = one group per row). */
  groupSize?: number;
  /** int4 / gptq-rtn: symmetric grid (default true). */
  sym?: boolean;
  /** int4 / gptq-rtn: shrink each group's range by GPTQ's MSE search (this is what makes the mask non-trivial). */
  mse?: boolean;
  /** ternary / binary: one scale per tensor ('per-tensor', default) or per row ('per-row'). */
  granularity?: TernaryGranularity;
  /** ggml types: quantizeGGML's options. */
  rowLength?: number;
  imatrix?: Float32Array;
  device?: Device;
}

export interface FakeQuantized {
  /** dequantize(quantize(x)), f32, x's length. */
  y: Float32Array;
  /** With ste: 1 where x was inside its group's clipping range (the gradient passes), else 0. */
  mask?: Uint8Array;
}

// The options each format reads; any other is a mistake worth naming.
const LINEAR_KEYS = ['shape', 'axis', 'blockSize', 'device'];
const KEYS: Record<string, string[]> = {
  'int8-absmax': LINEAR_KEYS,
  'int8-zeropoint': [...LINEAR_KEYS, 'dtype'],
  nf4: ['blockSize', 'compressStatistics', 'device'],
  fp4: ['blockSize', 'compressStatistics', 'device'],
  blockwise8: ['blockSize', 'nested', 'code', 'device'],
  codebook: ['code', 'bits', 'blockSize', 'device'],
  int4: ['shape', 'groupSize', 'sym', 'mse'],
  'gptq-rtn': ['shape', 'bits', 'groupSize', 'sym', 'mse'],
  ternary: ['shape', 'granularity'],
  binary: ['shape', 'granularity'],
  ggml: ['rowLength', 'imatrix', 'device'],
};

// One step of a composition: the Sync call and its async twin. A format is a generator of steps, run by
// fakeQuantizeSync and fakeQuantize alike, so both give the same bytes.
type Step = readonly [() => unknown, () => Promise<unknown>];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Composition = Generator<Step, Float32Array, any>;

function pick(options: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => options[k] !== undefined && k !== 'ste').map((k) => [k, options[k]]));
}

function isGGML(format: string): format is GGMLQuantType {
  return (GGML_QUANT_TYPES as readonly string[]).includes(format);
}

// Round half to even, as nearbyintf in the default rounding mode.
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// GPTQ's quantizer clamps round(w / scale) + zero to [0, maxq] (native/ops/gptq/gptq.h quantize_code); the
// mask is 1 where that clamp did not act, computed with the same f32 quotient.
function gptqMask(x: Float32Array, s: GPTQSolution): Uint8Array {
  const mask = new Uint8Array(x.length);
  const groups = s.groupScales.length / s.rows;
  const maxq = 2 ** s.bits - 1;
  for (let r = 0; r < s.rows; r++) {
    for (let c = 0; c < s.cols; c++) {
      const g = r * groups + s.gIdx[c]!;
      const q = roundHalfEven(Math.fround(x[r * s.cols + c]! / s.groupScales[g]!)) + s.groupZeros[g]!;
      mask[r * s.cols + c] = q >= 0 && q <= maxq ? 1 : 0;
    }
  }
  return mask;
}

// RoundClip(x / (γ + ε), −1, 1) as quantizeTernary evaluates it (f64, half to even): 1 where the clip did not act.
function ternaryMask(x: Float32Array, cols: number, scales: Float32Array): Uint8Array {
  return Uint8Array.from(x, (v, i) => (Math.abs(roundHalfEven(v / (scales[scales.length === 1 ? 0 : Math.floor(i / cols)]! + TERNARY_EPSILON))) <= 1 ? 1 : 0));
}

function* compose(x: Float32Array, format: FakeQuantFormat, o: FakeQuantizeOptions, masks: { mask?: Uint8Array }): Composition {
  if (format === 'int8-absmax') {
    const q = yield [() => quantizeAbsmaxSync(x, o), () => quantizeAbsmax(x, o)];
    return yield [() => dequantizeAbsmaxSync(q, { device: o.device }), () => dequantizeAbsmax(q, { device: o.device })];
  }
  if (format === 'int8-zeropoint') {
    const q = yield [() => quantizeZeroPointSync(x, o), () => quantizeZeroPoint(x, o)];
    return yield [() => dequantizeZeroPointSync(q, { device: o.device }), () => dequantizeZeroPoint(q, { device: o.device })];
  }
  if (format === 'nf4' || format === 'fp4') {
    const opts = { blockSize: o.blockSize, compressStatistics: o.compressStatistics, device: o.device, quantType: format };
    const out = { outDtype: 'float32', device: o.device } as const;
    const q = yield [() => quantize4bitSync(x, opts), () => quantize4bit(x, opts)];
    return yield [() => dequantize4bitSync(q, out), () => dequantize4bit(q, out)];
  }
  if (format === 'blockwise8') {
    const out = { outDtype: 'float32', device: o.device } as const;
    const opts = { blockSize: o.blockSize, nested: o.nested, code: o.code, device: o.device };
    const q = yield [() => quantizeBlockwiseSync(x, opts), () => quantizeBlockwise(x, opts)];
    return yield [() => dequantizeBlockwiseSync(q, out), () => dequantizeBlockwise(q, out)];
  }
  if (format === 'codebook') {
    const opts = { ...o, code: o.code! };
    const q = yield [() => quantizeCodebookSync(x, opts), () => quantizeCodebook(x, opts)];
    return yield [() => dequantizeCodebookSync(q, { device: o.device }), () => dequantizeCodebook(q, { device: o.device })];
  }
  if (format === 'int4' || format === 'gptq-rtn') {
    const shape = (o.shape ?? [1, x.length]) as [number, number];
    const opts = { bits: (o.bits ?? 4) as GPTQBits, groupSize: o.groupSize, sym: o.sym, mse: o.mse, dequantize: true };
    const s: GPTQSolution = yield [() => solveRTNSync(x, shape, opts), () => solveRTN(x, shape, opts)];
    masks.mask = gptqMask(x, s);
    return s.dequantized!;
  }
  if (format === 'ternary' || format === 'binary') {
    const shape = (o.shape ?? [1, x.length]) as [number, number];
    const granularity = o.granularity ?? 'per-tensor';
    const device = { device: o.device };
    const q: TernaryQuantized =
      format === 'ternary'
        ? yield [() => quantizeTernarySync(x, shape, { granularity, ...device }), () => quantizeTernary(x, shape, { granularity, ...device })]
        : yield [() => quantizeBinarySync(x, shape, { scale: granularity, ...device }), () => quantizeBinary(x, shape, { scale: granularity, ...device })];
    if (format === 'ternary') masks.mask = ternaryMask(x, shape[1], q.scales);
    return yield [() => dequantizeTernarySync(q, device), () => dequantizeTernary(q, device)];
  }
  const ggmlOptions = { rowLength: o.rowLength, imatrix: o.imatrix, device: o.device };
  const bytes = yield [() => quantizeGGMLSync(format, x, ggmlOptions), () => quantizeGGML(format, x, ggmlOptions)];
  const out = { device: o.device };
  return yield [() => dequantizeGGMLSync(format, bytes, x.length, out), () => dequantizeGGML(format, bytes, x.length, out)];
}

interface Plan {
  x: Float32Array;
  ste: boolean;
  masks: { mask?: Uint8Array };
  steps: Composition;
}

function plan(xArg: unknown, formatArg: unknown, optionsArg: unknown): Plan {
  const x = expectFloat32Array(xArg, 'x');
  expectNonEmpty(x, 'x');
  const format = expectOneOf(formatArg, 'format', FAKE_QUANT_FORMATS);
  const options = expectObject(optionsArg, 'options');
  const ste = options.ste ?? false;
  if (typeof ste !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for options.ste but received ${describe(ste)}`);
  const allowed = KEYS[isGGML(format) ? 'ggml' : format]!;
  for (const key of Object.keys(options)) {
    if (key !== 'ste' && options[key] !== undefined && !allowed.includes(key)) {
      fail('KQ_INVALID_ARGUMENT', `options.${key} does not apply to format '${format}' (it takes ${allowed.map((k) => `options.${k}`).join(', ')})`);
    }
  }
  if (format === 'codebook' && options.code === undefined) fail('KQ_INVALID_ARGUMENT', "Expected a Float32Array for options.code with format 'codebook' but received undefined");
  const masks = {};
  return { x, ste, masks, steps: compose(x, format, pick(options, allowed) as FakeQuantizeOptions, masks) };
}

function result(p: Plan, y: Float32Array): FakeQuantized {
  if (!p.ste) return { y };
  // Every format but GPTQ's sets its range from the group's own data (absmax, or [min, max] widened to 0), so
  // nothing is clipped; GPTQ's grid can clamp, and its mask says where.
  return { y, mask: p.masks.mask ?? new Uint8Array(p.x.length).fill(1) };
}

/**
 * y = dequantize(quantize(x)) in `format`, f32, bit-identical to calling the format's own quantize and dequantize.
 * Formats: 'int8-absmax' / 'int8-zeropoint' (quantizeAbsmax / quantizeZeroPoint: per tensor, or options.axis,
 * options.blockSize), 'nf4' / 'fp4' (quantize4bit), 'blockwise8' (quantizeBlockwise), 'codebook'
 * (quantizeCodebook with options.code), every ggml type ('q4_0' … 'mxfp4', quantizeGGML), 'int4' and 'gptq-rtn'
 * (solveRTN on options.shape [rows, cols]), 'ternary' / 'binary' (quantizeTernary / quantizeBinary, BitNet's
 * absmean ternary and sign binary on options.shape, options.granularity).
 *
 * options.ste adds `mask` (Uint8Array, 1 = the gradient passes), per format:
 * - int8-absmax, nf4, fp4, blockwise8, codebook: the scale is the group's max |x|, so every x is inside: all 1.
 * - int8-zeropoint: the range is the group's [min, max] (widened to contain 0), so all 1.
 * - ggml types: their scales are fitted per block with no clipping range to report: all 1 (the plain STE),
 *   although the fits (K-quants' min/scale search, mxfp4's power-of-two scale) may saturate a few extremes.
 * - int4 / gptq-rtn: 0 where GPTQ's clamp of round(x / scale) + zero to [0, 2^bits − 1] acted (the same f32
 *   quotient, rounded half to even), else 1. Even without options.mse a few are 0: the symmetric grid's top
 *   code lies 2^(bits−1) − 1 steps above zero, one step short of the group's max |x|, and an asymmetric zero
 *   point is rounded; options.mse shrinks ranges and clips more.
 * - ternary: 0 where RoundClip(x / (γ + ε), −1, 1) clipped (|x| beyond 1.5 γ, the absmean scale), else 1.
 * - binary: sign(x − α) has no range to leave: all 1.
 */
export async function fakeQuantize(x: Float32Array, format: FakeQuantFormat, options?: FakeQuantizeOptions): Promise<FakeQuantized> {
  const p = plan(x, format, options);
  let step = p.steps.next();
  while (!step.done) step = p.steps.next(await step.value[1]());
  return result(p, step.value);
}

export function fakeQuantizeSync(x: Float32Array, format: FakeQuantFormat, options?: FakeQuantizeOptions): FakeQuantized {
  const p = plan(x, format, options);
  let step = p.steps.next();
  while (!step.done) step = p.steps.next(step.value[0]());
  return result(p, step.value);
}
