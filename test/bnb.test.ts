// bitsandbytes NF4 / FP4 / 8-bit blockwise: every golden case of test/fixtures/bnb (copied from bnb's CUDA
// semantics, README sections 4-5) compared byte for byte on every SIMD level and device, plus round-trip
// bounds on fresh data, the code books, async/Sync agreement and argument checks.
import { afterAll, describe, expect, it } from 'vitest';
import {
  KquantError,
  backend,
  bnbCode4,
  bnbDynamicMap,
  dequantize4bit,
  dequantize4bitSync,
  dequantizeBlockwise,
  dequantizeBlockwiseSync,
  fromBFloat16Sync,
  fromFloat16Sync,
  quantize4bit,
  quantize4bitSync,
  quantizeBlockwise,
  quantizeBlockwiseSync,
  setSimd,
  toBFloat16Sync,
  toFloat16Sync,
  type BnbDType,
  type Device,
  type Quantized4bit,
  type QuantizedBlockwise,
} from '../lib/index.js';
import { randomFloats, rng } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';
import { expectKquantError } from './helpers/errors.js';
import { bnbManifest, loadFixtureBytes } from './helpers/bnb-fixtures.js';

const info = backend();
const levels = supportedLevels();
const devices: Device[] = info.cuda.available ? ['cpu', 'cuda'] : ['cpu'];
afterAll(() => setSimd(info.simd));

// ---- fixtures ----


interface GoldenCase {
  id: string;
  op: 'quantize_4bit' | 'quantize_blockwise';
  input: string;
  input_dtype: BnbDType;
  input_shape: number[];
  params: { quant_type?: 'nf4' | 'fp4'; blocksize: number; compress_statistics?: boolean; nested?: boolean; code?: string; nested_blocksize?: number };
  outputs: Record<string, string>;
}

const manifest = { cases_4bit_and_8bit: bnbManifest.cases_4bit_and_8bit as GoldenCase[], files: bnbManifest.files };
const loadBytes = loadFixtureBytes;

function loadF32(name: string): Float32Array {
  return new Float32Array(loadBytes(name).buffer);
}

function loadU16(name: string): Uint16Array {
  return new Uint16Array(loadBytes(name).buffer);
}

function fileDtype(name: string): string {
  return manifest.files[name]!.dtype;
}

// ---- byte comparison ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

// Distance in ulps between two finite f32 values (ordered integer representation).
function ulps(a: number, b: number): number {
  const ord = (x: number) => {
    const v = bits(x);
    return v & 0x80000000 ? -(v & 0x7fffffff) : v;
  };
  return Math.abs(ord(a) - ord(b));
}

interface Tally {
  bytes: number;
  mismatched: number;
}

const tallies = new Map<string, Tally>();
const failures: string[] = [];
// Nested cases whose f32 mean of the scales differs from the stored (torch-CPU) offset: README section 5.
const offsetNotes = new Map<string, string>();

function tally(kind: string): Tally {
  let t = tallies.get(kind);
  if (!t) tallies.set(kind, (t = { bytes: 0, mismatched: 0 }));
  return t;
}

// Compares element by element (width 1, 2 or 4 bytes), counting bytes; zeroEqual treats f32 ±0 as equal.
function compare(kind: string, label: string, expected: Uint8Array | Uint16Array | Float32Array, got: Uint8Array | Uint16Array | Float32Array, zeroEqual = false): number {
  const t = tally(kind);
  const width = expected.BYTES_PER_ELEMENT;
  if (got.constructor !== expected.constructor || got.length !== expected.length) {
    const msg = `${label}: expected ${expected.constructor.name}(${expected.length}) but got ${got.constructor.name}(${got.length})`;
    failures.push(msg);
    t.bytes += expected.byteLength;
    t.mismatched += expected.byteLength;
    return expected.length;
  }
  const e = expected instanceof Float32Array ? new Uint32Array(expected.buffer, expected.byteOffset, expected.length) : expected;
  const g = got instanceof Float32Array ? new Uint32Array(got.buffer, got.byteOffset, got.length) : got;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < e.length; i++) {
    const a = e[i]!;
    const b = g[i]!;
    if (a === b || (zeroEqual && (a | b) === 0x80000000 && ((a ^ b) >>> 0) === 0x80000000)) continue;
    if (first < 0) first = i;
    bad++;
  }
  t.bytes += expected.byteLength;
  t.mismatched += bad * width;
  if (bad > 0) {
    const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(width * 2, '0')}`;
    const val = (arr: typeof expected, i: number) => (arr instanceof Float32Array ? ` (${arr[i]})` : '');
    failures.push(`${label}: ${bad} of ${e.length} elements differ; first at [${first}] expected ${hex(e[first]!)}${val(expected, first)} got ${hex(g[first]!)}${val(got, first)}`);
  }
  return bad;
}

// absmax' (the reconstructed double-quantized scales) through the real dequantization path: a code whose
// value is exactly 1.0 in every position, one element per block, gives out[b · blockSize] = absmax'[b].
function reconstructedScales4bit(state: Quantized4bit['state']): Float32Array {
  const nb = state.absmax.length;
  const n = nb * state.blockSize;
  const out = dequantize4bitSync(
    { packed: new Uint8Array((n + 1) >> 1).fill(0xff), state: { ...state, quantType: 'nf4', dtype: 'float32', shape: [n] } },
    { outDtype: 'float32', device: 'cpu' },
  );
  return Float32Array.from({ length: nb }, (_, b) => out[b * state.blockSize]!);
}

function reconstructedScales8bit(state: QuantizedBlockwise['state']): Float32Array {
  const nb = state.absmax.length;
  const n = nb * state.blockSize;
  const top = state.code.indexOf(1);
  expect(top, 'the code map holds 1.0').toBeGreaterThanOrEqual(0);
  const out = dequantizeBlockwiseSync({ codes: new Uint8Array(n).fill(top), state: { ...state, dtype: 'float32', shape: [n] } }, { outDtype: 'float32', device: 'cpu' });
  return Float32Array.from({ length: nb }, (_, b) => out[b * state.blockSize]!);
}

function loadInput(c: GoldenCase): Float32Array | Uint16Array {
  return c.input_dtype === 'float32' ? loadF32(c.input) : loadU16(c.input);
}

// The outputs cast to f16 / bf16 (present for f16 / bf16 inputs): role -> dtype.
function castOutputs(c: GoldenCase): [string, 'float16' | 'bfloat16'][] {
  return Object.entries(c.outputs)
    .filter(([role, file]) => role.startsWith('dequant_') && role !== 'dequant_f32' && (fileDtype(file) === 'float16' || fileDtype(file) === 'bfloat16'))
    .map(([role, file]) => [role, fileDtype(file) as 'float16' | 'bfloat16']);
}

// Compares the nested state with the golden one; when our f32 mean differs in the last bits, requantizes with
// the stored offset (options.nestedOffset) and compares the codes exactly then.
function compareNested<Q extends Quantized4bit | QuantizedBlockwise>(
  kind: string,
  label: string,
  c: GoldenCase,
  ours: Q,
  requantize: (offset: number) => Q,
  primaryName: string,
  primary: (q: Q) => Uint8Array,
  expectedPrimary: Uint8Array,
): Q {
  const storedOffset = loadF32(c.outputs.nested_offset!)[0]!;
  const nested = ours.state.nested!;
  const diff = ulps(nested.offset, storedOffset);
  if (diff > 2) failures.push(`${label}: nested offset ${nested.offset} is ${diff} ulp from the stored ${storedOffset}`);
  let q = ours;
  if (diff !== 0) {
    const golden = loadBytes(c.outputs.nested_qabsmax!);
    const own = ours.state.absmax as Uint8Array;
    const flipped = golden.reduce((k, v, i) => k + (v !== own[i] ? 1 : 0), 0);
    offsetNotes.set(c.id, `${c.id}: offset ${nested.offset} vs stored ${storedOffset} (${diff} ulp; ${flipped}/${golden.length} nested codes differ with ours)`);
    q = requantize(storedOffset);
  }
  compare(kind, `${label} offset`, new Float32Array([storedOffset]), new Float32Array([q.state.nested!.offset]));
  compare(kind, `${label} ${primaryName}`, expectedPrimary, primary(q));
  compare(kind, `${label} nested_qabsmax`, loadBytes(c.outputs.nested_qabsmax!), q.state.absmax as Uint8Array);
  compare(kind, `${label} nested_absmax`, loadF32(c.outputs.nested_absmax!), q.state.nested!.absmax);
  compare(kind, `${label} nested_code`, loadF32(c.outputs.nested_code ?? 'const/dynamic_map_signed'), q.state.nested!.code);
  expect(q.state.nested!.blockSize).toBe(c.params.nested_blocksize ?? c.params.blocksize);
  return q;
}

function run4bit(c: GoldenCase, device: Device, label: string): void {
  const nested = c.params.compress_statistics === true;
  const kind = `4bit ${nested ? 'nested' : 'plain'}`;
  const src = loadInput(c);
  const opts = { quantType: c.params.quant_type!, blockSize: c.params.blocksize, compressStatistics: nested, shape: c.input_shape, dtype: c.input_dtype, device };
  const expectedPacked = loadBytes(c.outputs.packed!);
  let q = quantize4bitSync(src, opts);
  expect(q.state).toMatchObject({ quantType: opts.quantType, blockSize: opts.blockSize, dtype: c.input_dtype, shape: c.input_shape });
  compare(kind, `${label} quant_map`, loadF32(`const/${opts.quantType}_code`), q.state.code);
  if (nested) {
    // The scales before double quantization: the same op without compressStatistics.
    compare(kind, `${label} absmax_before_double_quant`, loadF32(c.outputs.absmax_before_double_quant!), quantize4bitSync(src, { ...opts, compressStatistics: false }).state.absmax);
    q = compareNested(kind, label, c, q, (offset) => quantize4bitSync(src, { ...opts, nestedOffset: offset }), 'packed', (r) => r.packed, expectedPacked);
    compare(kind, `${label} absmax_dequantized`, loadF32(c.outputs.absmax_dequantized!), reconstructedScales4bit(q.state));
  } else {
    compare(kind, `${label} packed`, expectedPacked, q.packed);
    compare(kind, `${label} absmax`, loadF32(c.outputs.absmax!), q.state.absmax);
  }
  // Dequantize the golden state (not ours), so a quantizer bug cannot hide a dequantizer bug.
  const golden: Quantized4bit = nested
    ? {
        packed: expectedPacked,
        state: {
          ...q.state,
          absmax: loadBytes(c.outputs.nested_qabsmax!),
          nested: { absmax: loadF32(c.outputs.nested_absmax!), code: loadF32(c.outputs.nested_code!), blockSize: 256, offset: loadF32(c.outputs.nested_offset!)[0]! },
        },
      }
    : { packed: expectedPacked, state: { ...q.state, absmax: loadF32(c.outputs.absmax!), nested: undefined } };
  compare(kind, `${label} dequant_f32`, loadF32(c.outputs.dequant_f32!), dequantize4bitSync(golden, { outDtype: 'float32', device }), true);
  for (const [role, dtype] of castOutputs(c)) {
    compare(kind, `${label} ${role}`, loadU16(c.outputs[role]!), dequantize4bitSync(golden, { outDtype: dtype, device }));
  }
}

function runBlockwise(c: GoldenCase, device: Device, label: string): void {
  const nested = c.params.nested === true;
  const kind = `blockwise8 ${nested ? 'nested' : 'plain'}`;
  const src = loadInput(c);
  const code = loadF32(c.params.code!);
  const opts = { code, blockSize: c.params.blocksize, nested, shape: c.input_shape, dtype: c.input_dtype, device };
  const expectedCodes = loadBytes(c.outputs.codes!);
  let q = quantizeBlockwiseSync(src, opts);
  expect(q.state).toMatchObject({ blockSize: opts.blockSize, dtype: c.input_dtype, shape: c.input_shape });
  compare(kind, `${label} code`, code, q.state.code);
  if (nested) {
    compare(kind, `${label} absmax_before_double_quant`, loadF32(c.outputs.absmax_before_double_quant!), quantizeBlockwiseSync(src, { ...opts, nested: false }).state.absmax);
    q = compareNested(kind, label, c, q, (offset) => quantizeBlockwiseSync(src, { ...opts, nestedOffset: offset }), 'codes', (r) => r.codes, expectedCodes);
    compare(kind, `${label} absmax_dequantized`, loadF32(c.outputs.absmax_dequantized!), reconstructedScales8bit(q.state));
  } else {
    compare(kind, `${label} codes`, expectedCodes, q.codes);
    compare(kind, `${label} absmax`, loadF32(c.outputs.absmax!), q.state.absmax);
  }
  const golden: QuantizedBlockwise = nested
    ? {
        codes: expectedCodes,
        state: {
          ...q.state,
          absmax: loadBytes(c.outputs.nested_qabsmax!),
          nested: { absmax: loadF32(c.outputs.nested_absmax!), code: loadF32('const/dynamic_map_signed'), blockSize: c.params.blocksize, offset: loadF32(c.outputs.nested_offset!)[0]! },
        },
      }
    : { codes: expectedCodes, state: { ...q.state, absmax: loadF32(c.outputs.absmax!), nested: undefined } };
  compare(kind, `${label} dequant_f32`, loadF32(c.outputs.dequant_f32!), dequantizeBlockwiseSync(golden, { outDtype: 'float32', device }), true);
  for (const [role, dtype] of castOutputs(c)) {
    compare(kind, `${label} ${role}`, loadU16(c.outputs[role]!), dequantizeBlockwiseSync(golden, { outDtype: dtype, device }));
  }
}

describe('bnb golden vectors (test/fixtures/bnb)', () => {
  const cases = manifest.cases_4bit_and_8bit;

  it('has the 4-bit and blockwise 8-bit cases', () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect(['quantize_4bit', 'quantize_blockwise']).toContain(c.op);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const before = failures.length;
    for (const level of levels) {
      setSimd(level);
      for (const device of devices) {
        const label = `${c.id} [${level}, ${device}]`;
        if (c.op === 'quantize_4bit') run4bit(c, device, label);
        else runBlockwise(c, device, label);
      }
    }
    expect(failures.slice(before)).toEqual([]);
  });

  it('matches every byte', () => {
    const rows = [...tallies].map(([kind, t]) => `${kind}: ${t.bytes - t.mismatched}/${t.bytes}`);
    const total = [...tallies.values()].reduce((a, t) => ({ bytes: a.bytes + t.bytes, mismatched: a.mismatched + t.mismatched }), { bytes: 0, mismatched: 0 });
    console.log(
      `bnb goldens: ${cases.length} cases x ${levels.length} SIMD level(s) [${levels.join(', ')}] x device(s) [${devices.join(', ')}]; ` +
        `bytes matched ${total.bytes - total.mismatched}/${total.bytes} (${rows.join('; ')})`,
    );
    if (offsetNotes.size > 0) console.log(`nested offsets within 2 ulp, codes compared with the stored offset: ${[...offsetNotes.values()].join('; ')}`);
    expect(total.bytes).toBeGreaterThan(0);
    expect(total.mismatched).toBe(0);
  });
});

// ---- code books ----

describe('code books', () => {
  it('NF4 / FP4 tables equal bnb (CUDA: FP4 code 8 is -0.0)', () => {
    expect(new Uint32Array(bnbCode4('nf4').buffer)).toEqual(new Uint32Array(loadF32('const/nf4_code').buffer));
    expect(new Uint32Array(bnbCode4('fp4').buffer)).toEqual(new Uint32Array(loadF32('const/fp4_code').buffer));
    expect(new Uint32Array(bnbCode4().buffer)).toEqual(new Uint32Array(loadF32('const/nf4_code').buffer));
  });

  it('the signed dynamic map equals const/dynamic_map_signed bit for bit', () => {
    expect(new Uint32Array(bnbDynamicMap().buffer)).toEqual(new Uint32Array(loadF32('const/dynamic_map_signed').buffer));
  });

  it('returns copies the caller may change', () => {
    const m = bnbDynamicMap();
    m[0] = 42;
    expect(bnbDynamicMap()[0]).not.toBe(42);
    const c = bnbCode4('fp4');
    c[3] = 42;
    expect(bnbCode4('fp4')[3]).toBe(1);
  });
});

// ---- round trip on fresh data ----

// The largest error a nearest-entry code book allows for scaled values in [-1, 1]: half the largest gap
// between neighbours, or the distance from ±1 to the outermost entry.
function maxScaledError(code: Float32Array): number {
  const v = [...code].sort((a, b) => a - b);
  let worst = Math.max(0, 1 - v[v.length - 1]!, v[0]! + 1);
  for (let i = 0; i + 1 < v.length; i++) worst = Math.max(worst, (v[i + 1]! - v[i]!) / 2);
  return worst;
}

function blockAbsmax(x: Float32Array, blockSize: number): Float32Array {
  const out = new Float32Array(Math.ceil(x.length / blockSize));
  for (let i = 0; i < x.length; i++) out[(i / blockSize) | 0] = Math.max(out[(i / blockSize) | 0]!, Math.abs(x[i]!));
  return out;
}

function spreadData(n: number, seed: number): Float32Array {
  const x = randomFloats(n, seed, 0.05);
  const next = rng(seed + 11);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.01) x[i] = x[i]! * 30;
    else if (r < 0.02) x[i] = 0;
  }
  return x;
}

function checkRoundTrip(label: string, x: Float32Array, y: Float32Array, absmax: Float32Array, blockSize: number, bound: number): void {
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < x.length; i++) {
    const a = absmax[(i / blockSize) | 0]!;
    // f32 rounding of the scaled value, the reciprocal, the product and the thresholds: a few ulps of a.
    const err = Math.abs(x[i]! - y[i]!) - (bound * a + 4e-7 * a);
    if (err > worst) [worst, worstAt] = [err, i];
  }
  expect(worstAt, `${label}: element ${worstAt} x=${x[worstAt]} y=${y[worstAt]} exceeds the bound`).toBe(-1);
}

const SIZES = [1, 2, 3, 31, 63, 64, 65, 255, 1000, 4097, 65_537, 100_003];

describe('round trip on fresh data', () => {
  for (const quantType of ['nf4', 'fp4'] as const) {
    it(`${quantType}: per-block error within half the largest gap of the code book`, () => {
      const bound = maxScaledError(bnbCode4(quantType));
      for (const [k, n] of SIZES.entries()) {
        for (const blockSize of [32, 64, 256, 4096]) {
          const x = spreadData(n, 1000 + k);
          const q = quantize4bitSync(x, { quantType, blockSize });
          expect(q.packed.length).toBe((n + 1) >> 1);
          expect(q.state.absmax).toEqual(blockAbsmax(x, blockSize));
          const y = dequantize4bitSync(q);
          expect(y).toBeInstanceOf(Float32Array);
          checkRoundTrip(`${quantType} n=${n} bs=${blockSize}`, x, y as Float32Array, q.state.absmax as Float32Array, blockSize, bound);
          // An odd n pads the last low nibble with the code of 0 (NF4 7, FP4 0) unless the block is all zero.
          if (n % 2 === 1 && q.state.absmax[q.state.absmax.length - 1] !== 0) expect(q.packed[q.packed.length - 1]! & 0xf).toBe(quantType === 'nf4' ? 7 : 0);
        }
      }
    });
  }

  it('8-bit blockwise: per-block error within half the largest gap of the dynamic map', () => {
    const bound = maxScaledError(bnbDynamicMap());
    for (const [k, n] of SIZES.entries()) {
      for (const blockSize of [64, 256, 4096]) {
        const x = spreadData(n, 2000 + k);
        const q = quantizeBlockwiseSync(x, { blockSize });
        expect(q.codes.length).toBe(n);
        expect(q.state.absmax).toEqual(blockAbsmax(x, blockSize));
        checkRoundTrip(`8bit n=${n} bs=${blockSize}`, x, dequantizeBlockwiseSync(q) as Float32Array, q.state.absmax as Float32Array, blockSize, bound);
      }
    }
  });

  it('8-bit blockwise with a custom (linear) code map', () => {
    const code = Float32Array.from({ length: 256 }, (_, i) => -1 + (2 * i) / 255);
    const x = spreadData(10_000, 77);
    const q = quantizeBlockwiseSync(x, { code, blockSize: 128 });
    expect(q.state.code).toEqual(code);
    checkRoundTrip('linear map', x, dequantizeBlockwiseSync(q) as Float32Array, q.state.absmax as Float32Array, 128, maxScaledError(code));
  });

  it('double quantization reconstructs the scales closely and dequantizes through them', () => {
    const x = spreadData(64 * 1000 + 5, 3);
    const plain = quantize4bitSync(x, { blockSize: 64 });
    const nested = quantize4bitSync(x, { blockSize: 64, compressStatistics: true });
    expect(nested.packed).toEqual(plain.packed);
    expect(nested.state.absmax).toBeInstanceOf(Uint8Array);
    expect(nested.state.nested!.blockSize).toBe(256);
    expect(nested.state.nested!.absmax.length).toBe(Math.ceil(1001 / 256));
    const a = plain.state.absmax as Float32Array;
    // The mean, in f64 then rounded, is the offset up to a few ulps of f32 summation.
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(nested.state.nested!.offset - mean)).toBeLessThan(1e-6 * mean);
    const rec = reconstructedScales4bit(nested.state);
    const spread = Math.max(...a) - Math.min(...a);
    for (let b = 0; b < a.length; b++) expect(Math.abs(rec[b]! - a[b]!)).toBeLessThan(0.02 * spread);
    // Dequantization uses the reconstructed scales: y = table[code] · absmax'.
    const table = bnbCode4('nf4');
    const y = dequantize4bitSync(nested) as Float32Array;
    for (let i = 0; i < x.length; i += 97) {
      const byte = nested.packed[i >> 1]!;
      const code = i % 2 === 0 ? byte >> 4 : byte & 0xf;
      expect(y[i], `element ${i}`).toBe(Math.fround(table[code]! * rec[(i / 64) | 0]!));
    }
    // A given offset is used as is.
    const given = quantize4bitSync(x, { blockSize: 64, compressStatistics: true, nestedOffset: 0.125 });
    expect(given.state.nested!.offset).toBe(0.125);
  });

  it('8-bit nested uses the outer block size for the scales', () => {
    const x = spreadData(300_000, 4);
    const q = quantizeBlockwiseSync(x, { blockSize: 256, nested: true });
    expect(q.state.nested!.blockSize).toBe(256);
    expect(q.state.nested!.absmax.length).toBe(Math.ceil(Math.ceil(300_000 / 256) / 256));
    expect(q.codes).toEqual(quantizeBlockwiseSync(x, { blockSize: 256 }).codes);
    const y = dequantizeBlockwiseSync(q) as Float32Array;
    const err = y.reduce((s, v, i) => Math.max(s, Math.abs(v - x[i]!)), 0);
    expect(err).toBeLessThan(0.05 * x.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  });

  it('f16 / bf16 input is widened exactly and is the default output dtype', () => {
    const x = spreadData(5000, 5);
    for (const [dtype, narrow, widen] of [
      ['float16', toFloat16Sync, fromFloat16Sync],
      ['bfloat16', toBFloat16Sync, fromBFloat16Sync],
    ] as const) {
      const h = narrow(x);
      const wide = widen(h);
      const q = quantize4bitSync(h, { dtype, compressStatistics: true });
      const ref = quantize4bitSync(wide, { compressStatistics: true });
      expect(q.packed).toEqual(ref.packed);
      expect(q.state.absmax).toEqual(ref.state.absmax);
      expect(q.state.dtype).toBe(dtype);
      const out = dequantize4bitSync(q);
      expect(out).toBeInstanceOf(Uint16Array);
      expect(out).toEqual(narrow(dequantize4bitSync(ref) as Float32Array));
      expect(dequantize4bitSync(q, { outDtype: 'float32' })).toEqual(dequantize4bitSync(ref));
      const q8 = quantizeBlockwiseSync(h, { dtype, blockSize: 512 });
      expect(q8.codes).toEqual(quantizeBlockwiseSync(wide, { blockSize: 512 }).codes);
      expect(dequantizeBlockwiseSync(q8)).toEqual(narrow(dequantizeBlockwiseSync(quantizeBlockwiseSync(wide, { blockSize: 512 })) as Float32Array));
    }
  });
});

// ---- async twins ----

describe('async twins equal Sync', () => {
  const x = spreadData(70_001, 9);
  const h = toBFloat16Sync(x);

  it('4-bit', async () => {
    for (const opts of [{}, { quantType: 'fp4' as const, blockSize: 128 }, { compressStatistics: true }, { dtype: 'bfloat16' as const, compressStatistics: true }]) {
      const src = opts.dtype ? h : x;
      const a = await quantize4bit(src, opts);
      const s = quantize4bitSync(src, opts);
      expect(a).toEqual(s);
      expect(await dequantize4bit(a)).toEqual(dequantize4bitSync(s));
      expect(await dequantize4bit(a, { outDtype: 'float16' })).toEqual(dequantize4bitSync(s, { outDtype: 'float16' }));
    }
  });

  it('8-bit blockwise', async () => {
    for (const opts of [{}, { blockSize: 64 }, { nested: true, blockSize: 256 }, { dtype: 'bfloat16' as const }]) {
      const src = opts.dtype ? h : x;
      const a = await quantizeBlockwise(src, opts);
      const s = quantizeBlockwiseSync(src, opts);
      expect(a).toEqual(s);
      expect(await dequantizeBlockwise(a)).toEqual(dequantizeBlockwiseSync(s));
    }
  });
});

// ---- argument checks ----


describe('argument checks', () => {
  const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
  const q4 = quantize4bitSync(x);
  const q4n = quantize4bitSync(x, { compressStatistics: true, blockSize: 32 });
  const q8 = quantizeBlockwiseSync(x, { blockSize: 64 });
  const q8n = quantizeBlockwiseSync(x, { blockSize: 64, nested: true });
  type Any = never;

  it('rejects the wrong input dtype', () => {
    expectKquantError(() => quantize4bitSync(new Float64Array(64) as Any), 'KQ_DTYPE', /Float32Array for src .*Float64Array/);
    expectKquantError(() => quantizeBlockwiseSync([1, 2] as Any), 'KQ_DTYPE', /src/);
    expectKquantError(() => quantize4bitSync(new Uint16Array(64)), 'KQ_DTYPE', /options.dtype 'float16' or 'bfloat16' for a Uint16Array src/);
    expectKquantError(() => quantize4bitSync(x, { dtype: 'float16' }), 'KQ_DTYPE', /Uint16Array of float16 bits for src .*Float32Array/);
    expectKquantError(() => quantizeBlockwiseSync(new Uint16Array(64), { dtype: 'float32' }), 'KQ_DTYPE', /Float32Array for src/);
    expectKquantError(() => quantize4bitSync(x, { dtype: 'int8' as Any }), 'KQ_INVALID_ARGUMENT', /options.dtype/);
    expectKquantError(() => quantize4bitSync(new Float32Array(0)), 'KQ_SHAPE', /non-empty src/);
  });

  it('rejects bad block sizes, types and flags', () => {
    for (const bs of [16, 48, 8192, 64.5, '64']) expectKquantError(() => quantize4bitSync(x, { blockSize: bs as Any }), 'KQ_INVALID_ARGUMENT', /options.blockSize/);
    for (const bs of [32, 100, 8192]) expectKquantError(() => quantizeBlockwiseSync(x, { blockSize: bs }), 'KQ_INVALID_ARGUMENT', /one of 64, 128, .* for options.blockSize but received/);
    expectKquantError(() => quantize4bitSync(x, { quantType: 'int4' as Any }), 'KQ_INVALID_ARGUMENT', /options.quantType/);
    expectKquantError(() => quantize4bitSync(x, { compressStatistics: 1 as Any }), 'KQ_INVALID_ARGUMENT', /boolean for options.compressStatistics/);
    expectKquantError(() => quantizeBlockwiseSync(x, { nested: 'yes' as Any }), 'KQ_INVALID_ARGUMENT', /boolean for options.nested/);
    expectKquantError(() => quantize4bitSync(x, { nestedOffset: 0.5 }), 'KQ_INVALID_ARGUMENT', /nestedOffset applies only with options.compressStatistics/);
    expectKquantError(() => quantize4bitSync(x, { compressStatistics: true, nestedOffset: NaN }), 'KQ_NON_FINITE', /options.nestedOffset/);
    expectKquantError(() => quantize4bitSync(x, { device: 'tpu' as Any }), 'KQ_INVALID_ARGUMENT', /options.device/);
    expectKquantError(() => quantize4bitSync(x, 3 as Any), 'KQ_INVALID_ARGUMENT', /options/);
  });

  it('rejects bad code maps', () => {
    expectKquantError(() => quantizeBlockwiseSync(x, { code: new Float32Array(255) }), 'KQ_LENGTH', /options.code to have 256 entries/);
    expectKquantError(() => quantizeBlockwiseSync(x, { code: new Float64Array(256) as Any }), 'KQ_DTYPE', /Float32Array for options.code/);
    const descending = bnbDynamicMap().reverse();
    expectKquantError(() => quantizeBlockwiseSync(x, { code: descending }), 'KQ_INVALID_ARGUMENT', /options.code to be strictly ascending but options.code\[0\]/);
    const dup = bnbDynamicMap();
    dup[10] = dup[9]!;
    expectKquantError(() => quantizeBlockwiseSync(x, { code: dup }), 'KQ_INVALID_ARGUMENT', /options.code\[9\] = .* >= options.code\[10\]/);
    const nan = bnbDynamicMap();
    nan[9] = NaN;
    expectKquantError(() => quantizeBlockwiseSync(x, { code: nan }), 'KQ_NON_FINITE', /options.code\[9\] is NaN/);
  });

  it('rejects shapes that do not match the data', () => {
    expectKquantError(() => quantize4bitSync(x, { shape: [16, 15] }), 'KQ_LENGTH', /options.shape \[16, 15\] holds 240 elements but the data has 256/);
    expectKquantError(() => quantizeBlockwiseSync(x, { shape: [-16, -16] }), 'KQ_SHAPE', /options.shape\[0\]/);
    expectKquantError(() => quantize4bitSync(x, { shape: [] }), 'KQ_SHAPE', /options.shape/);
  });

  it('rejects NaN and Infinity in the input, naming the element (sync and async, f32 and bf16)', async () => {
    for (const [value, word] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
      const bad = x.slice();
      bad[77] = value;
      expectKquantError(() => quantize4bitSync(bad), 'KQ_NON_FINITE', new RegExp(`src\\[77\\] is ${word}`));
      expectKquantError(() => quantizeBlockwiseSync(bad), 'KQ_NON_FINITE', new RegExp(`src\\[77\\] is ${word}`));
    }
    const bf = toBFloat16Sync(x);
    bf[200] = 0x7fc0;
    expectKquantError(() => quantize4bitSync(bf, { dtype: 'bfloat16' }), 'KQ_NON_FINITE', /src\[200\] is NaN/);
    const big = new Float32Array(100_000).fill(1);
    big[99_999] = NaN;
    for (const p of [quantize4bit(big), quantizeBlockwise(big)]) {
      const rejection = await (p as Promise<unknown>).catch((e: unknown) => e);
      expect(rejection).toBeInstanceOf(KquantError);
      expect((rejection as KquantError).code).toBe('KQ_NON_FINITE');
      expect((rejection as KquantError).message).toMatch(/src\[99999\] is NaN/);
    }
  });

  it('rejects 4-bit states that do not fit the data', () => {
    expectKquantError(() => dequantize4bitSync({ ...q4, packed: new Uint8Array(127) }), 'KQ_LENGTH', /q.packed to have 128 entries for q.state.shape \[256\] but received 127/);
    expectKquantError(() => dequantize4bitSync({ ...q4, packed: new Int8Array(128) as Any }), 'KQ_DTYPE', /Uint8Array for q.packed/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, absmax: new Float32Array(3) } as Any }), 'KQ_LENGTH', /q.state.absmax to have 4 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, absmax: new Float64Array(4) as Any } }), 'KQ_DTYPE', /Float32Array for q.state.absmax/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, absmax: new Uint8Array(4) } as Any }), 'KQ_DTYPE', /q.state.nested is missing/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, blockSize: 48 } }), 'KQ_INVALID_ARGUMENT', /q.state.blockSize/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, blockSize: 128 } }), 'KQ_LENGTH', /q.state.absmax to have 2 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, quantType: undefined as Any } }), 'KQ_INVALID_ARGUMENT', /q.state.quantType/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, shape: [16, 17] } }), 'KQ_LENGTH', /q.packed to have 136 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, shape: [16, -16] } }), 'KQ_SHAPE', /q.state.shape\[1\]/);
    expectKquantError(() => dequantize4bitSync({ packed: new Uint8Array(0), state: { ...q4.state, shape: [0] } }), 'KQ_SHAPE', /non-empty q.state.shape/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, dtype: 'half' as Any } }), 'KQ_INVALID_ARGUMENT', /q.state.dtype/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: { ...q4.state, code: new Float32Array(15) } }), 'KQ_LENGTH', /q.state.code to have 16 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4, state: null as Any }), 'KQ_INVALID_ARGUMENT', /object for q.state/);
    expectKquantError(() => dequantize4bitSync(q4, { outDtype: 'int8' as Any }), 'KQ_INVALID_ARGUMENT', /options.outDtype/);
  });

  it('rejects nested states that do not fit', () => {
    const s = q4n.state;
    const nested = s.nested!;
    expect(s.absmax.length).toBe(8);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, absmax: new Uint8Array(7) } as Any }), 'KQ_LENGTH', /q.state.absmax to have 8 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, absmax: new Float32Array(8) } as Any }), 'KQ_DTYPE', /Uint8Array for q.state.absmax/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: { ...nested, absmax: new Float32Array(2) } } as Any }), 'KQ_LENGTH', /q.state.nested.absmax to have 1 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: { ...nested, code: new Float32Array(16) } } as Any }), 'KQ_LENGTH', /q.state.nested.code to have 256 entries/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: { ...nested, blockSize: 100 } } as Any }), 'KQ_INVALID_ARGUMENT', /q.state.nested.blockSize/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: { ...nested, offset: NaN } } as Any }), 'KQ_NON_FINITE', /q.state.nested.offset/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: { ...nested, offset: '0.5' } } as Any }), 'KQ_INVALID_ARGUMENT', /q.state.nested.offset/);
    expectKquantError(() => dequantize4bitSync({ ...q4n, state: { ...s, nested: 5 } as Any }), 'KQ_INVALID_ARGUMENT', /object for q.state.nested/);
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8n, state: { ...q8n.state, nested: { ...q8n.state.nested!, absmax: new Float32Array(0) } } as Any }), 'KQ_LENGTH', /q.state.nested.absmax to have 1 entries/);
  });

  it('rejects blockwise states that do not fit', () => {
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8, codes: new Uint8Array(255) }), 'KQ_LENGTH', /q.codes to have 256 entries/);
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8, state: { ...q8.state, absmax: new Float32Array(5) } as Any }), 'KQ_LENGTH', /q.state.absmax to have 4 entries/);
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8, state: { ...q8.state, code: undefined as Any } }), 'KQ_DTYPE', /Float32Array for q.state.code/);
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8, state: { ...q8.state, blockSize: 32 } }), 'KQ_INVALID_ARGUMENT', /q.state.blockSize/);
    expectKquantError(() => dequantizeBlockwiseSync({ ...q8, codes: new Int8Array(256) as Any }), 'KQ_DTYPE', /Uint8Array for q.codes/);
  });

  it('async variants reject with the same KquantError', async () => {
    for (const p of [
      quantize4bit(x, { blockSize: 48 }),
      quantizeBlockwise(x, { blockSize: 48 }),
      dequantize4bit({ ...q4, state: { ...q4.state, blockSize: 48 } }),
      dequantizeBlockwise({ ...q8, state: { ...q8.state, blockSize: 48 } }),
    ] as Promise<unknown>[]) {
      const e = await p.catch((err: unknown) => err);
      expect(e).toBeInstanceOf(KquantError);
      expect((e as KquantError).code).toBe('KQ_INVALID_ARGUMENT');
    }
  });
});
