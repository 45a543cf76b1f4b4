// Blockwise codebook quantization at 3 … 8 bits, and the codebooks (integer, float, dynamic, quantile) of the
// k-bit inference scaling laws (Dettmers & Zettlemoyer 2022). NF4, FP4 and bnb's 8-bit dynamic map are special
// cases: given their codes this engine gives bnb's bytes and absmax, bit for bit.
//
// Engine. Blocks are consecutive runs of blockSize elements of the flattened input (the last may be shorter);
// absmax[b] = max |x| (f32), s = x · (1 / absmax) in f32, and each element takes the index of the code entry
// nearest to s. The search is bnb's 8-bit blockwise search itself (native/ops/bnb, every SIMD level and CUDA):
// the code is sorted, padded above its largest entry to 256 ascending values (2, 3, 4, …, never nearest to an
// s in [−1, 1]) and decided by the f32 midpoints (c[j] + c[j + 1]) · 0.5; a value exactly on a midpoint takes
// the EVEN sorted index of its two neighbours, as bnb's search does. The sorted index is then mapped back to
// the caller's index. Exception: a 4-bit code equal (by value, ±0 alike) to bnb's NF4 or FP4 table runs bnb's
// 4-bit encoder, whose decision points are part of those formats and are not all midpoints
// (test/fixtures/bnb/README.md 4.2-4.3); it needs an even blockSize.
//
// Packing (bits per element, n elements):
//   8 bits: one byte per element.
//   4 bits: two per byte, the even element in the HIGH nibble (bnb's layout); an odd n pads the last low nibble
//           with 0 (bnb's NF4/FP4 tables: with the code of 0 · inv, as bnb).
//   3, 5, 6, 7 bits: a little-endian bit stream of ceil(n · bits / 8) bytes: element i occupies stream bits
//           [i · bits, (i + 1) · bits), least significant bit first, stream bit k being bit (k mod 8) of byte
//           floor(k / 8); the unused high bits of the last byte are 0.
// Dequantization: code[index] · absmax[b] in f32 (bnb's dequantizers). Everything per element runs natively: the
// search and the scaling in bnb's quantizers, the mapping back to the caller's indices and the packing in bnb's
// pack_codes / unpack_codes (native/ops/bnb/bnb.h); this module validates, plans and allocates.
import { native, Quant4 } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { bnbCode4, bnbDynamicMap } from './bnb.js';
import { describe, expectFloat32Array, expectInteger, expectNonEmpty, expectObject, expectOneOf, expectShape, fail } from '../validate.js';

export type CodebookKind = 'int' | 'float' | 'dynamic';

export interface QuantizeCodebookOptions {
  /** 2 … 2^bits distinct finite f32 values in [−1, 1], any order; index i is stored as the code i. */
  code: Float32Array;
  /** 3 … 8; default the fewest that index every entry (at least 3). */
  bits?: number;
  /** Elements per absmax block; default 64. */
  blockSize?: number;
  /** Shape of src (row-major), kept in the result; defaults to [src.length]. */
  shape?: readonly number[];
  device?: Device;
}

export interface CodebookQuantized {
  /** The codes packed at `bits` per element (see the module comment). */
  packed: Uint8Array;
  /** f32 max |x| per block. */
  absmax: Float32Array;
  code: Float32Array;
  bits: number;
  blockSize: number;
  shape: number[];
}

export interface CodebookDequantizeOptions {
  device?: Device;
}

// ---- the engine ----

interface CodePlan {
  code: Float32Array;
  bits: number;
  /** Set when the code is bnb's NF4 or FP4 table. */
  quant4: Quant4 | null;
  /** 256 ascending values: the sorted code, then padding. */
  sortedPadded: Float32Array;
  /** Caller's index of each sorted index (0 … 255; the padding maps to the largest entry). */
  toCaller: Uint8Array;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function planCode(codeArg: unknown, bitsArg: unknown, codeName: string, bitsName: string): CodePlan {
  const code = expectFloat32Array(codeArg, codeName);
  const bits = expectInteger(bitsArg ?? Math.max(3, Math.ceil(Math.log2(code.length))), bitsName, 3, 8);
  if (code.length < 2 || code.length > 2 ** bits) {
    fail('KQ_LENGTH', `Expected 2 to ${2 ** bits} entries in ${codeName} for ${bitsName} = ${bits} but received ${code.length}`);
  }
  code.forEach((v, i) => {
    if (!(v >= -1 && v <= 1)) fail(Number.isFinite(v) ? 'KQ_INVALID_ARGUMENT' : 'KQ_NON_FINITE', `Expected ${codeName}[${i}] in [-1, 1] but received ${v}`);
  });
  let quant4: Quant4 | null = null;
  if (bits === 4 && sameValues(code, bnbCode4('nf4'))) quant4 = Quant4.nf4;
  if (bits === 4 && sameValues(code, bnbCode4('fp4'))) quant4 = Quant4.fp4;
  const order = Array.from(code.keys()).sort((a, b) => code[a]! - code[b]!);
  for (let j = 1; j < order.length && quant4 === null; j++) {
    if (code[order[j - 1]!] === code[order[j]!]) {
      fail('KQ_INVALID_ARGUMENT', `Expected distinct values in ${codeName} but ${codeName}[${order[j - 1]}] = ${codeName}[${order[j]}] = ${code[order[j]!]}`);
    }
  }
  const sortedPadded = new Float32Array(256);
  const toCaller = new Uint8Array(256);
  for (let j = 0; j < 256; j++) {
    sortedPadded[j] = j < order.length ? code[order[j]!]! : 2 + j - order.length;
    toCaller[j] = order[Math.min(j, order.length - 1)]!;
  }
  return { code, bits, quant4, sortedPadded, toCaller };
}

function packedLength(n: number, bits: number): number {
  return Math.ceil((n * bits) / 8);
}

interface QuantizePlan {
  src: Float32Array;
  code: CodePlan;
  blockSize: number;
  shape: number[];
  device: 0 | 1;
  /** The search's sorted indices (generic codes), or the packed nibbles (bnb tables). */
  indices: Uint8Array;
  packed: Uint8Array;
  absmax: Float32Array;
}

function planQuantize(srcArg: unknown, optionsArg: unknown): QuantizePlan {
  const src = expectFloat32Array(srcArg, 'src');
  expectNonEmpty(src, 'src');
  const options = expectObject(optionsArg, 'options');
  if (options.code === undefined) fail('KQ_INVALID_ARGUMENT', 'Expected a Float32Array for options.code but received undefined (makeCode / makeQuantileCode build one)');
  const code = planCode(options.code, options.bits, 'options.code', 'options.bits');
  const blockSize = expectInteger(options.blockSize ?? 64, 'options.blockSize', 1);
  if (code.quant4 !== null && blockSize % 2 !== 0) {
    fail('KQ_INVALID_ARGUMENT', `Expected an even options.blockSize with bnb's NF4/FP4 code but received ${blockSize}`);
  }
  const shape = expectShape(options.shape ?? [src.length], 'options.shape', src.length);
  const indices = new Uint8Array(code.quant4 === null ? src.length : packedLength(src.length, 4));
  const packed = code.quant4 === null ? new Uint8Array(packedLength(src.length, code.bits)) : indices;
  return { src, code, blockSize, shape, device: resolveDevice(options.device), indices, packed, absmax: new Float32Array(Math.ceil(src.length / blockSize)) };
}

function runQuantize<A extends boolean>(p: QuantizePlan, async: A) {
  if (p.code.quant4 !== null) return native.bnbQuantize4bit(p.src, p.blockSize, p.code.quant4, p.indices, p.absmax, p.device, async);
  return native.bnbQuantize8bit(p.src, p.blockSize, p.code.sortedPadded, p.indices, p.absmax, p.device, async);
}

// Sorted indices → the caller's indices, packed at `bits` (generic codes only: bnb's 4-bit encoder packs itself).
function runPack<A extends boolean>(p: QuantizePlan, async: A) {
  return native.bnbPackCodes(p.indices, p.code.bits, p.code.toCaller, p.packed, async);
}

function quantizeResult(p: QuantizePlan): CodebookQuantized {
  return { packed: p.packed, absmax: p.absmax, code: p.code.code.slice(), bits: p.code.bits, blockSize: p.blockSize, shape: p.shape };
}

/** Blockwise absmax quantization of f32 src to the nearest entries of options.code, packed at options.bits. */
export async function quantizeCodebook(src: Float32Array, options: QuantizeCodebookOptions): Promise<CodebookQuantized> {
  const plan = planQuantize(src, options);
  await callAsync(() => runQuantize(plan, true));
  if (plan.code.quant4 === null) await callAsync(() => runPack(plan, true));
  return quantizeResult(plan);
}

export function quantizeCodebookSync(src: Float32Array, options: QuantizeCodebookOptions): CodebookQuantized {
  const plan = planQuantize(src, options);
  callSync(() => runQuantize(plan, false));
  if (plan.code.quant4 === null) callSync(() => runPack(plan, false));
  return quantizeResult(plan);
}

interface DequantizePlan {
  q: CodebookQuantized;
  code: CodePlan;
  n: number;
  /** One code index per element, unpacked natively (generic codes), or the packed nibbles (bnb tables). */
  indices: Uint8Array;
  table: Float32Array;
  out: Float32Array;
  device: 0 | 1;
}

function planDequantize(qArg: unknown, optionsArg: unknown): DequantizePlan {
  const q = expectObject(qArg, 'q') as Partial<CodebookQuantized>;
  const code = planCode(q.code, q.bits, 'q.code', 'q.bits');
  const blockSize = expectInteger(q.blockSize, 'q.blockSize', 1);
  const n = Array.isArray(q.shape) ? q.shape.reduce((a: number, d: unknown) => a * (typeof d === 'number' ? d : NaN), 1) : NaN;
  const shape = expectShape(q.shape, 'q.shape', n);
  expectNonEmpty({ length: n }, 'q.shape');
  if (!(q.packed instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for q.packed but received ${describe(q.packed)}`);
  const bytes = packedLength(n, code.bits);
  if (q.packed.length !== bytes) fail('KQ_LENGTH', `Expected ${bytes} bytes in q.packed for ${n} elements at ${code.bits} bits but received ${q.packed.length}`);
  const absmax = expectFloat32Array(q.absmax, 'q.absmax');
  const blocks = Math.ceil(n / blockSize);
  if (absmax.length !== blocks) fail('KQ_LENGTH', `Expected ${blocks} entries in q.absmax (one per block of ${blockSize}) but received ${absmax.length}`);
  const device = resolveDevice(expectObject(optionsArg, 'options').device);
  const indices = code.quant4 === null ? new Uint8Array(n) : q.packed;
  const table = new Float32Array(256);
  table.set(code.code);
  return { q: { ...(q as CodebookQuantized), absmax, blockSize, shape }, code, n, indices, table, out: new Float32Array(n), device };
}

// The packed stream → one index per element, each checked below the code's length (generic codes only).
function runUnpack<A extends boolean>(p: DequantizePlan, async: A) {
  return native.bnbUnpackCodes(p.q.packed, p.code.bits, p.code.code.length, p.indices, async);
}

function runDequantize<A extends boolean>(p: DequantizePlan, async: A) {
  const { blockSize, absmax } = p.q;
  if (p.code.quant4 !== null) return native.bnbDequantize4bit(p.indices, p.n, blockSize, p.code.quant4, absmax, p.out, p.device, async);
  return native.bnbDequantize8bit(p.indices, blockSize, p.table, absmax, p.out, p.device, async);
}

/** code[index] · absmax per element, f32. bnb's NF4/FP4 tables decode with bnb's own table (FP4's code 8 is −0). */
export async function dequantizeCodebook(q: CodebookQuantized, options?: CodebookDequantizeOptions): Promise<Float32Array> {
  const plan = planDequantize(q, options);
  if (plan.code.quant4 === null) await callAsync(() => runUnpack(plan, true));
  await callAsync(() => runDequantize(plan, true));
  return plan.out;
}

export function dequantizeCodebookSync(q: CodebookQuantized, options?: CodebookDequantizeOptions): Float32Array {
  const plan = planDequantize(q, options);
  if (plan.code.quant4 === null) callSync(() => runUnpack(plan, false));
  callSync(() => runDequantize(plan, false));
  return plan.out;
}

// ---- codebooks ----

export interface MakeCodeOptions {
  /** 'float': exponent bits E (mantissa = bits − 1 − E). Default: 3 → 2, 4 → 2 (E2M1), 5 → 2, 6 → 3, 7 → 3, 8 → 4 (E4M3). */
  exponentBits?: number;
  /**
   * 'float': which bit patterns are not numbers. 'none': every pattern finite (OCP MX E2M1, E3M2, E2M3);
   * 'fn': only all-ones exponent and mantissa is NaN (OCP E4M3FN, max 448); 'ieee': the all-ones exponent is
   * Inf/NaN (E5M2, max 57344). Default: 'fn' for E4M3, 'ieee' for E5M2, else 'none'.
   */
  special?: 'none' | 'fn' | 'ieee';
}

function ascending(values: number[]): Float32Array {
  const f = Float32Array.from(values, (v) => Math.fround(v) + 0).sort(); // + 0 turns −0 into 0
  return f.filter((v, i) => i === 0 || v !== f[i - 1]);
}

// Sign-magnitude levels: −m for every non-zero m, 0, +m.
function signed(magnitudes: number[]): Float32Array {
  return ascending([0, ...magnitudes.filter((m) => m > 0).flatMap((m) => [m, -m])]);
}

function floatMagnitudes(bits: number, exponentBits: number, special: 'none' | 'fn' | 'ieee'): number[] {
  const mantissaBits = bits - 1 - exponentBits;
  const bias = 2 ** (exponentBits - 1) - 1;
  const topExponent = 2 ** exponentBits - 1;
  const out: number[] = [];
  for (let e = 0; e <= topExponent; e++) {
    for (let m = 0; m < 2 ** mantissaBits; m++) {
      if (special === 'ieee' && e === topExponent) continue;
      if (special === 'fn' && e === topExponent && m === 2 ** mantissaBits - 1) continue;
      const fraction = m / 2 ** mantissaBits;
      out.push(e === 0 ? fraction * 2 ** (1 - bias) : (1 + fraction) * 2 ** (e - bias));
    }
  }
  const max = Math.max(...out);
  return out.map((v) => v / max);
}

// Dynamic tree quantization (Dettmers 2016, bnb's create_dynamic_map, signed): after the sign, the run of
// leading zeros is a decimal exponent and the bits after the first 1 a linear fraction. Decade i (0 … k − 2)
// holds the 2^i midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i − (k − 2)), mirrored, plus 0 and 1: 2^k values.
function dynamicValues(bits: number): number[] {
  const out = [0, 1];
  for (let i = 0; i <= bits - 2; i++) {
    const items = 2 ** i;
    const scale = 10 ** (i - (bits - 2));
    for (let j = 0; j < items; j++) {
      const lo = 0.1 + (0.9 * j) / items;
      const hi = 0.1 + (0.9 * (j + 1)) / items;
      out.push(scale * ((lo + hi) / 2), -scale * ((lo + hi) / 2));
    }
  }
  return out;
}

const DEFAULT_EXPONENT_BITS: Record<number, number> = { 3: 2, 4: 2, 5: 2, 6: 3, 7: 3, 8: 4 };

/**
 * A codebook for quantizeCodebook: ascending f32 values in [−1, 1] with 0 exact.
 * - 'int': the 2^bits − 1 uniform signed levels k / (2^(bits−1) − 1), k = −(2^(bits−1) − 1) … 2^(bits−1) − 1.
 * - 'float': every finite value of a sign / E exponent / M mantissa format (bias 2^(E−1) − 1, IEEE-style
 *   subnormals 0.m · 2^(1−bias); the bias cancels in the normalisation), one zero (±0 merge), divided by the
 *   largest: 2 · (finite magnitudes) − 1 entries. E2M1 gives bnb's FP4 values except the smallest non-zero
 *   magnitude: 1/12 here (E2M1's subnormal 0.5 of 6), 1/192 in bnb's table (its CUDA decoder's 0.0625 of 12).
 * - 'dynamic': 8 bits: bnb's signed dynamic map exactly (bnbDynamicMap); other widths the same dynamic-tree
 *   construction with k − 1 decades (2^k values, 1 but not −1 included, as bnb's), in f64 — at 8 bits that
 *   computation lands within 1 ulp of bnb's table (90 of 256 entries differ by 1 ulp: torch's f32 linspace).
 */
export function makeCode(kind: CodebookKind, bits: number, options?: MakeCodeOptions): Float32Array {
  const k = expectOneOf(kind, 'kind', ['int', 'float', 'dynamic'] as const);
  const b = expectInteger(bits, 'bits', 3, 8);
  const opts = expectObject(options, 'options');
  if (k === 'int') {
    const top = 2 ** (b - 1) - 1;
    return ascending(Array.from({ length: 2 * top + 1 }, (_, i) => (i - top) / top));
  }
  if (k === 'dynamic') return b === 8 ? bnbDynamicMap() : ascending(dynamicValues(b));
  const exponentBits = expectInteger(opts.exponentBits ?? DEFAULT_EXPONENT_BITS[b], 'options.exponentBits', 1, b - 1);
  const defaultSpecial = b === 8 && exponentBits === 4 ? 'fn' : b === 8 && exponentBits === 5 ? 'ieee' : 'none';
  const special = expectOneOf(opts.special ?? defaultSpecial, 'options.special', ['none', 'fn', 'ieee'] as const);
  if (special === 'ieee' && exponentBits < 2) fail('KQ_INVALID_ARGUMENT', `options.special 'ieee' needs options.exponentBits >= 2 but received ${exponentBits}`);
  return signed(floatMagnitudes(b, exponentBits, special));
}

// Φ(x) − 1/2 = φ(x) · Σ x^(2n+1) / (2n+1)!!: every term has x's sign, so no cancellation, full f64 precision.
function normalCdfMinusHalf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (x * x) / (2 * n + 1);
    sum += term;
  }
  return (Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)) * sum;
}

// The standard normal quantile of p in [1/2, 1), by Newton's method from 0 (Φ is concave there, so it climbs
// monotonically to the root).
function normalQuantile(p: number): number {
  const target = p - 0.5;
  let x = 0;
  for (let i = 0; i < 100; i++) {
    const step = (normalCdfMinusHalf(x) - target) / (Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI));
    x -= step;
    if (Math.abs(step) <= 1e-16 * Math.abs(x)) break;
  }
  return x;
}

// linspace(start, end, steps) without its last point, in f32 as torch computes it (bnb's create_normal_map
// builds NF4 from these probabilities): step = (end − start) / (steps − 1), the first half of the points
// start + i · step, the second half end − (steps − 1 − i) · step, each operation rounded to f32.
function f32Linspace(start: number, end: number, steps: number): number[] {
  const f = Math.fround;
  const step = f(f(f(end) - f(start)) / (steps - 1));
  return Array.from({ length: steps - 1 }, (_, i) => (i < steps >> 1 ? f(f(start) + f(step * i)) : f(f(end) - f(step * (steps - 1 - i)))));
}

// Quantile of sorted values at probability p (linear interpolation between order statistics, numpy's default).
function sampleQuantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return lo + 1 < sorted.length ? sorted[lo]! + (h - lo) * (sorted[lo + 1]! - sorted[lo]!) : sorted[lo]!;
}

export interface QuantileCodeOptions {
  /**
   * 'normal' only: the outermost probability. Default QLoRA's ½(1 − 1/(2(2^k − 1)) + 1 − 1/(2 · 2^k)); for 4 bits
   * bnb's literal 0.9677083 (the formula gives 0.96770833…, a different f32, and a code 1 ulp off in places).
   */
  offset?: number;
}

/**
 * A quantile codebook: 2^(k−1) positive levels at probabilities evenly spaced above the middle (the outermost
 * one first), 2^(k−1) − 1 negative ones, and 0 exactly; each side divided by its extreme, so −1 and 1 are both
 * entries. With 'normal', the levels are standard normal quantiles at linspace(offset, 1/2, 2^(k−1) + 1) and
 * linspace(offset, 1/2, 2^(k−1)) without the 1/2 (QLoRA's NF4 construction, carried out as bnb's
 * create_normal_map does: f32 probabilities as torch's linspace, f64 quantiles rounded to f32, an f32 division by
 * the largest; 4 bits gives bnb's NF4 table bit for bit — with f64 probabilities it would be up to 12 ulps off). With samples, the positive levels are
 * quantiles of the positive samples at i / 2^(k−1) (i = 1 … 2^(k−1), the last the largest sample), the
 * negative ones of the negative samples' magnitudes at i / (2^(k−1) − 1); equal levels merge, so discrete data
 * may give fewer than 2^k entries. Samples should be scaled as the engine sees them (x / block absmax), though
 * the per-side normalisation makes any positive scale give the same code.
 */
export function makeQuantileCode(bits: number, source: Float32Array | Float64Array | 'normal', options?: QuantileCodeOptions): Float32Array {
  const k = expectInteger(bits, 'bits', 3, 8);
  const opts = expectObject(options, 'options');
  const positives = 2 ** (k - 1);
  const negatives = positives - 1;
  if (source === 'normal') {
    const offset = opts.offset ?? (k === 4 ? 0.9677083 : (1 - 1 / (2 * (2 ** k - 1)) + 1 - 1 / (2 * 2 ** k)) / 2);
    if (typeof offset !== 'number' || !(offset > 0.5 && offset < 1)) fail('KQ_INVALID_ARGUMENT', `Expected a number in (0.5, 1) for options.offset but received ${describe(offset)}`);
    const f = Math.fround;
    const pos = f32Linspace(offset, 0.5, positives + 1).map((p) => f(normalQuantile(p)));
    const neg = f32Linspace(offset, 0.5, negatives + 1).map((p) => f(-normalQuantile(p)));
    const max = pos[0]!; // the quantile at the offset
    return ascending([0, ...pos, ...neg].map((v) => v / max));
  }
  if (opts.offset !== undefined) fail('KQ_INVALID_ARGUMENT', "options.offset applies only to source 'normal'");
  if (!(source instanceof Float32Array || source instanceof Float64Array)) {
    fail('KQ_DTYPE', `Expected a Float32Array, a Float64Array or 'normal' for source but received ${describe(source)}`);
  }
  source.forEach((v, i) => {
    if (!Number.isFinite(v)) fail('KQ_NON_FINITE', `Expected finite values in source but source[${i}] is ${v}`);
  });
  const pos = Float64Array.from(source.filter((v) => v > 0)).sort();
  const neg = Float64Array.from(source.filter((v) => v < 0).map((v) => -v)).sort();
  if (pos.length === 0 || neg.length === 0) {
    fail('KQ_INVALID_ARGUMENT', `Expected both positive and negative values in source but received ${pos.length} positive and ${neg.length} negative`);
  }
  const side = (sorted: Float64Array, count: number) => Array.from({ length: count }, (_, i) => sampleQuantile(sorted, (i + 1) / count) / sorted[sorted.length - 1]!);
  return ascending([0, ...side(pos, positives), ...side(neg, negatives).map((v) => -v)]);
}
