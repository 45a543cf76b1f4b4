// ggml legacy block types: every golden case of test/fixtures/ggml (copied from shared/vectors/ggml; its
// README is the spec) for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 — the reference quantizer's bytes byte for byte and
// dequantize_row's floats bit for bit (NaN as a class, README 2) — plus the Q8_1 decoder on ggml's activation
// bytes, round-trip bounds on fresh random data, async/Sync agreement and argument checks.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GGML_QUANT_TYPES,
  backend,
  dequantizeGGML,
  dequantizeGGMLSync,
  ggmlTypeInfo,
  quantizeGGML,
  quantizeGGMLSync,
  setSimd,
  type GGMLQuantType,
} from '../lib/index.js';
import { randomFloats } from './helpers/random.js';
import { expectKquantError } from './helpers/errors.js';
import { supportedLevels } from './helpers/simd.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/ggml/', import.meta.url));

interface GoldenCase {
  type: string;
  type_id: number;
  input: string;
  input_name: string;
  blck_size: number;
  type_size: number;
  bytes: number;
  n_elements: number;
  ref: string;
  ref_dequant: string;
  dequant_nonfinite?: { ref_dequant?: { nan: number; inf: number } };
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  cases: GoldenCase[];
  files: Record<string, { bytes: number; sha256: string }>;
};

function load(path: string): Uint8Array {
  const entry = manifest.files[path];
  if (!entry) throw new Error(`manifest has no file ${path}`);
  const buf = readFileSync(join(FIXTURES, path));
  expect(buf.length, `${path} size`).toBe(entry.bytes);
  expect(createHash('sha256').update(buf).digest('hex'), `${path} sha256`).toBe(entry.sha256);
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

const loadF32 = (path: string) => new Float32Array(load(path).buffer);

// Quantizes x whole and in runs of `step` blocks: the thread split must not change a byte. Returns the whole.
function expectSplitMatchesWhole(type: GGMLQuantType, x: Float32Array, step: number): Uint8Array {
  const { blockSize, bytesPerBlock } = ggmlTypeInfo(type);
  const blocks = x.length / blockSize;
  const whole = quantizeGGMLSync(type, x);
  expect(whole.length).toBe(blocks * bytesPerBlock);
  const parts = new Uint8Array(whole.length);
  for (let b = 0; b < blocks; b += step) {
    const end = Math.min(blocks, b + step);
    parts.set(quantizeGGMLSync(type, x.subarray(b * blockSize, end * blockSize)), b * bytesPerBlock);
  }
  expect(Buffer.from(parts).equals(Buffer.from(whole))).toBe(true);
  return whole;
}

// Half a block to quantize or dequantize is a KQ_SHAPE; a byte count off by one a KQ_LENGTH.
function expectBlockSizeChecks(type: GGMLQuantType): void {
  const { blockSize, bytesPerBlock } = ggmlTypeInfo(type);
  const multiple = new RegExp(`multiple of ${blockSize}`);
  expectKquantError(() => quantizeGGMLSync(type, new Float32Array(blockSize / 2)), 'KQ_SHAPE', multiple);
  expectKquantError(() => dequantizeGGMLSync(type, new Uint8Array(bytesPerBlock), blockSize / 2), 'KQ_SHAPE', multiple);
  expectKquantError(() => dequantizeGGMLSync(type, new Uint8Array(bytesPerBlock + 1), blockSize), 'KQ_LENGTH', new RegExp(`${bytesPerBlock} bytes`));
}

const LEGACY = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0'];
const cases = manifest.cases.filter((c) => LEGACY.includes(c.type));

// Bytes matched per type, printed at the end (the report of what the golden vectors pin down).
const matched: Record<string, { bytes: number; floats: number }> = {};
afterAll(() => {
  for (const [type, m] of Object.entries(matched)) console.log(`ggml ${type}: ${m.bytes} quantized bytes and ${m.floats} dequantized floats matched`);
});

function firstByteMismatch(a: Uint8Array, b: Uint8Array): string {
  let count = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  return count === 0 ? 'ok' : `${count} bytes differ, first at byte ${first}: got ${a[first]} want ${b[first]}`;
}

// Bit-equal floats, any NaN equal to any NaN.
function floatMismatches(got: Float32Array, want: Float32Array): string {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let count = 0;
  let first = '';
  for (let i = 0; i < got.length; i++) {
    const same = g[i] === w[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!same && count++ === 0) first = `[${i}] got ${got[i]} (0x${g[i]!.toString(16)}) want ${want[i]} (0x${w[i]!.toString(16)})`;
  }
  return count === 0 ? 'ok' : `${count} floats differ, first ${first}`;
}

type Unspecified = { blocks: number[]; byte_range_in_block: [number, number] };

// One golden case: the type's layout, quantized bytes (bytes the reference leaves unspecified, IQ4_NL's
// near-zero blocks, are not compared but must sit in blocks with d = 0), dequantized floats bit for bit with
// the manifest's NaN/inf counts, async twins equal to Sync. Tallies what was compared for the summary line.
async function checkGoldenCase(type: GGMLQuantType, c: GoldenCase & { ref_unspecified?: Unspecified }): Promise<void> {
  const info = ggmlTypeInfo(type);
  expect([info.id, info.blockSize, info.bytesPerBlock]).toEqual([c.type_id, c.blck_size, c.type_size]);
  const x = loadF32(c.input);
  const ref = load(c.ref);
  const deq = loadF32(c.ref_dequant);
  expect(x.length).toBe(c.n_elements);
  const q = quantizeGGMLSync(type, x);
  expect(q.length).toBe(c.bytes);
  const compared = q.slice();
  let skipped = 0;
  if (c.ref_unspecified) {
    const [lo, hi] = c.ref_unspecified.byte_range_in_block;
    for (const b of c.ref_unspecified.blocks) {
      const base = b * c.type_size;
      expect(q[base] | (q[base + 1]! << 8), `block ${b} d`).toBe(0);
      for (let i = base + lo; i < base + hi; i++) compared[i] = ref[i]!;
      skipped += hi - lo;
    }
  }
  expect(firstByteMismatch(compared, ref)).toBe('ok');
  expect(Buffer.from(await quantizeGGML(type, x)).equals(Buffer.from(q))).toBe(true);
  const y = dequantizeGGMLSync(type, ref, c.n_elements);
  expect(floatMismatches(y, deq)).toBe('ok');
  expect(floatMismatches(await dequantizeGGML(type, ref, c.n_elements), deq)).toBe('ok');
  const nonFinite = c.dequant_nonfinite?.ref_dequant;
  expect(y.filter((v) => Number.isNaN(v)).length).toBe(nonFinite?.nan ?? 0);
  expect(y.filter((v) => v === Infinity || v === -Infinity).length).toBe(nonFinite?.inf ?? 0);
  const m = (matched[c.type] ??= { bytes: 0, floats: 0 });
  m.bytes += ref.length - skipped;
  m.floats += deq.length;
}

describe('ggml golden vectors (reference path)', () => {
  it('covers every legacy type on every input of the fixtures', () => {
    expect(cases.length).toBe(10);
    expect(new Set(cases.map((c) => c.type))).toEqual(new Set(LEGACY));
  });

  for (const c of cases) {
    const type = c.type as GGMLQuantType;
    it(`${c.type} ${c.input_name}: quantized bytes and dequantized floats`, () => checkGoldenCase(type, c));
  }

  it('q8_1: decodes ggml activation blocks (value = d * q) bit for bit', () => {
    const bytes = load('aux/act_q8_1_uniform_row0.q');
    const deq = loadF32('aux/act_q8_1_uniform_row0.deq.f32');
    expect(floatMismatches(dequantizeGGMLSync('q8_1', bytes, 1024), deq)).toBe('ok');
  });
});

describe('ggml round trip on fresh data', () => {
  const n = 32 * 257;
  for (const type of GGML_QUANT_TYPES.filter((t) => !t.endsWith('_k') && !['tq1_0', 'tq2_0', 'iq4_nl', 'mxfp4'].includes(t))) {
    for (const spread of [1, 0.02, 500]) {
      it(`${type}, N(0, ${spread}²)`, () => {
        const x = randomFloats(n, 101 + Math.round(spread * 7), spread);
        const y = dequantizeGGMLSync(type, quantizeGGMLSync(type, x), n);
        for (let b = 0; b < n / 32; b++) {
          const blk = x.subarray(b * 32, b * 32 + 32);
          let lo = Infinity;
          let hi = -Infinity;
          let amax = 0;
          for (const v of blk) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
            amax = Math.max(amax, Math.abs(v));
          }
          // A full step at the clamped end of the symmetric types, half a step elsewhere, plus fp16 rounding of
          // the stored scale / min.
          const step = { q4_0: amax / 8, q5_0: amax / 16, q4_1: (hi - lo) / 30, q5_1: (hi - lo) / 62, q8_0: amax / 254, q8_1: amax / 254 }[type];
          const bound = step + (hi - lo + Math.abs(lo) + amax) * 2 ** -10 + 128 * 2 ** -25;
          for (let j = 0; j < 32; j++) {
            const err = Math.abs(y[b * 32 + j]! - blk[j]!);
            if (!(err <= bound)) expect.fail(`${type} block ${b} element ${j}: ${blk[j]} -> ${y[b * 32 + j]}, bound ${bound}`);
          }
        }
      });
    }
  }

  it('async and Sync agree; zero-length input gives empty output', async () => {
    const x = randomFloats(32 * 64, 5);
    for (const type of GGML_QUANT_TYPES) {
      const q = quantizeGGMLSync(type, x);
      expect(Buffer.from(await quantizeGGML(type, x)).equals(Buffer.from(q))).toBe(true);
      expect(await dequantizeGGML(type, q, x.length)).toEqual(dequantizeGGMLSync(type, q, x.length));
      expect(quantizeGGMLSync(type, new Float32Array(0)).length).toBe(0);
      expect(dequantizeGGMLSync(type, new Uint8Array(0), 0).length).toBe(0);
    }
  });
});

describe('ggml type info and argument checks', () => {
  it('type info matches ggml', () => {
    expect(ggmlTypeInfo('q4_0')).toEqual({ id: 2, blockSize: 32, bytesPerBlock: 18 });
    expect(ggmlTypeInfo('q4_1')).toEqual({ id: 3, blockSize: 32, bytesPerBlock: 20 });
    expect(ggmlTypeInfo('q5_0')).toEqual({ id: 6, blockSize: 32, bytesPerBlock: 22 });
    expect(ggmlTypeInfo('q5_1')).toEqual({ id: 7, blockSize: 32, bytesPerBlock: 24 });
    expect(ggmlTypeInfo('q8_0')).toEqual({ id: 8, blockSize: 32, bytesPerBlock: 34 });
    expect(ggmlTypeInfo('q8_1')).toEqual({ id: 9, blockSize: 32, bytesPerBlock: 36 });
  });

  it('rejects unimplemented and unknown types, naming the available ones', () => {
    const x = new Float32Array(256);
    for (const t of ['iq4_xs', 'bf16', 'f32', 'f16', 'BF16']) {
      expectKquantError(() => quantizeGGMLSync(t as GGMLQuantType, x), 'KQ_INVALID_ARGUMENT', /not implemented yet; available: 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0'/);
      expectKquantError(() => dequantizeGGMLSync(t as GGMLQuantType, new Uint8Array(18), 32), 'KQ_INVALID_ARGUMENT', /not implemented yet/);
      expectKquantError(() => ggmlTypeInfo(t as GGMLQuantType), 'KQ_INVALID_ARGUMENT', /not implemented yet/);
    }
    expectKquantError(() => quantizeGGMLSync('Q4_0' as GGMLQuantType, x), 'KQ_INVALID_ARGUMENT', /Expected one of 'q4_0'/);
    expectKquantError(() => quantizeGGMLSync(2 as unknown as GGMLQuantType, x), 'KQ_INVALID_ARGUMENT', /received 2/);
  });

  it('rejects bad input', async () => {
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(33)), 'KQ_SHAPE', /multiple of 32/);
    expectKquantError(() => quantizeGGMLSync('q8_0', new Float64Array(32) as unknown as Float32Array), 'KQ_DTYPE', /Float32Array/);
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(64), { imatrix: new Float32Array(48) }), 'KQ_SHAPE', /rowLength|row length/);
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(64), { imatrix: new Float32Array(32), rowLength: 64 }), 'KQ_LENGTH', /imatrix/);
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(64), { imatrix: Float32Array.of(...new Array(31).fill(1), -1) }), 'KQ_INVALID_ARGUMENT', /imatrix\[31\]/);
    expectKquantError(() => quantizeGGMLSync('q4_k', new Float32Array(512), { rowLength: 128 }), 'KQ_SHAPE', /multiple of 256/);
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(96), { rowLength: 64 }), 'KQ_SHAPE', /row length 64/);
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(64), { imatrix: [1] as unknown as Float32Array }), 'KQ_DTYPE', /imatrix/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = new Float32Array(64);
      x[40] = bad;
      expectKquantError(() => quantizeGGMLSync('q5_1', x), 'KQ_NON_FINITE', /40/);
      await expect(quantizeGGML('q4_0', x)).rejects.toMatchObject({ code: 'KQ_NON_FINITE' });
    }
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(17), 32), 'KQ_LENGTH', /18 bytes/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(36), 32), 'KQ_LENGTH', /18 bytes/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(18), 31), 'KQ_SHAPE', /multiple of 32/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(18), 1.5), 'KQ_INVALID_ARGUMENT', /count/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(18), -32), 'KQ_INVALID_ARGUMENT', /count/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', [1, 2] as unknown as Uint8Array, 32), 'KQ_DTYPE', /Uint8Array/);
    await expect(dequantizeGGML('q8_0', new Uint8Array(33), 32)).rejects.toMatchObject({ code: 'KQ_LENGTH' });
  });

  it('a large input (split over threads) gives the bytes of its parts quantized one by one', () => {
    const x = randomFloats(32 * 40000, 91, 3);
    for (const type of GGML_QUANT_TYPES.filter((t) => ggmlTypeInfo(t).blockSize === 32)) {
      const whole = expectSplitMatchesWhole(type, x, 4999);
      const { bytesPerBlock } = ggmlTypeInfo(type);
      expect(dequantizeGGMLSync(type, whole, x.length).subarray(32 * 12345, 32 * 12346)).toEqual(dequantizeGGMLSync(type, whole.subarray(12345 * bytesPerBlock, 12346 * bytesPerBlock), 32));
    }
  });

  it('quantizes from a subarray at any byte offset and leaves the input untouched', () => {
    const base = randomFloats(32 * 9, 77);
    const x = base.subarray(32, 32 * 9);
    const copy = x.slice();
    for (const type of GGML_QUANT_TYPES) {
      const q = quantizeGGMLSync(type, x);
      expect(Buffer.from(q).equals(Buffer.from(quantizeGGMLSync(type, copy)))).toBe(true);
      // Dequantize from blocks at an odd byte offset (packed structs: no alignment needed).
      const odd = new Uint8Array(q.length + 1);
      odd.set(q, 1);
      expect(dequantizeGGMLSync(type, odd.subarray(1), x.length)).toEqual(dequantizeGGMLSync(type, q, x.length));
    }
    expect(x).toEqual(copy);
  });
});

// K-quants Q4_K, Q5_K, Q6_K (README 4, 5.3) and the activation type Q8_K (aux goldens): every golden case of the
// fixtures byte for byte / bit for bit, round-trip bounds, thread split, shape checks.
describe('ggml K-quants q4_k, q5_k, q6_k, q8_k', () => {
  const KQ: Record<string, GGMLQuantType> = { q4_K: 'q4_k', q5_K: 'q5_k', q6_K: 'q6_k', q8_K: 'q8_k' };
  const aux = (manifest as unknown as { aux: { q8_K: GoldenCase[] } }).aux.q8_K.map((c) => ({ ...c, input_name: c.input.replace(/^inputs\/|\.f32$/g, ''), n_elements: 8192 }));
  const kcases = [...manifest.cases.filter((c) => c.type in KQ), ...aux].filter((c) => ['gauss', 'edge'].includes(c.input_name));

  it('covers q4_K, q5_K, q6_K, q8_K on the gauss and edge inputs', () => {
    expect(kcases.length).toBe(8);
    expect(new Set(kcases.map((c) => c.type))).toEqual(new Set(Object.keys(KQ)));
  });

  for (const c of kcases) {
    const type = KQ[c.type]!;
    it(`${c.type} ${c.input_name}: quantized bytes and dequantized floats`, () => checkGoldenCase(type, c));
  }

  it('q8_k: decodes ggml activation blocks bit for bit', () => {
    const bytes = load('aux/act_q8_K_uniform_row0.q');
    const deq = loadF32('aux/act_q8_K_uniform_row0.deq.f32');
    expect(floatMismatches(dequantizeGGMLSync('q8_k', bytes, 1024), deq)).toBe('ok');
  });

  // Relative RMS error over fresh N(0, spread²) data (the K-quant searches have no simple per-element bound).
  const LIMIT: Record<string, number> = { q4_k: 0.12, q5_k: 0.06, q6_k: 0.03, q8_k: 0.01 };
  for (const type of ['q4_k', 'q5_k', 'q6_k', 'q8_k'] as const) {
    for (const spread of [1, 0.02, 500]) {
      it(`${type} round trip, N(0, ${spread}²)`, () => {
        const n = 256 * 33;
        const x = randomFloats(n, 303 + Math.round(spread * 7), spread);
        const y = dequantizeGGMLSync(type, quantizeGGMLSync(type, x), n);
        let e2 = 0;
        let x2 = 0;
        let worst = 0;
        for (let i = 0; i < n; i++) {
          e2 += (y[i]! - x[i]!) ** 2;
          x2 += x[i]! ** 2;
          worst = Math.max(worst, Math.abs(y[i]! - x[i]!) / spread);
        }
        expect(Math.sqrt(e2 / x2)).toBeLessThan(LIMIT[type]!);
        expect(worst).toBeLessThan(12 * LIMIT[type]!);
      });
    }
  }

  it('splits over threads like serial calls, and needs multiples of 256', () => {
    const x = randomFloats(256 * 3000, 92, 2);
    for (const type of ['q4_k', 'q5_k', 'q6_k', 'q8_k'] as const) {
      expectSplitMatchesWhole(type, x, 777);
      expectBlockSizeChecks(type);
    }
    expect(ggmlTypeInfo('q4_k')).toEqual({ id: 12, blockSize: 256, bytesPerBlock: 144 });
    expect(ggmlTypeInfo('q5_k')).toEqual({ id: 13, blockSize: 256, bytesPerBlock: 176 });
    expect(ggmlTypeInfo('q6_k')).toEqual({ id: 14, blockSize: 256, bytesPerBlock: 210 });
    expect(ggmlTypeInfo('q8_k')).toEqual({ id: 15, blockSize: 256, bytesPerBlock: 292 });
  });

  it('all-zero super-blocks are all-zero bytes', () => {
    for (const type of ['q4_k', 'q5_k', 'q6_k', 'q8_k'] as const) {
      const q = quantizeGGMLSync(type, new Float32Array(512));
      expect(q.every((b) => b === 0)).toBe(true);
      expect(dequantizeGGMLSync(type, q, 512).every((v) => v === 0)).toBe(true);
    }
  });
});

// TQ1_0, TQ2_0 (ternary, BitNet b1.58), IQ4_NL and MXFP4 (README 4, 5.1, 5.4, 5.6): every golden case of the
// fixtures byte for byte (IQ4_NL: except the nibbles the manifest lists as `ref_unspecified`) and bit for bit,
// zero blocks, round-trip bounds, thread split, shape checks.
describe('ggml tq1_0, tq2_0, iq4_nl, mxfp4', () => {
  const MISC = ['tq1_0', 'tq2_0', 'iq4_nl', 'mxfp4'] as const;
  const mcases = manifest.cases.filter((c) => (MISC as readonly string[]).includes(c.type) && ['gauss', 'edge'].includes(c.input_name)) as (GoldenCase & { ref_unspecified?: Unspecified })[];

  it('covers tq1_0, tq2_0, iq4_nl, mxfp4 on the gauss and edge inputs', () => {
    expect(mcases.length).toBe(8);
    expect(new Set(mcases.map((c) => c.type))).toEqual(new Set(MISC));
  });

  for (const c of mcases) {
    const type = c.type as GGMLQuantType;
    it(`${c.type} ${c.input_name}: quantized bytes and dequantized floats`, () => checkGoldenCase(type, c));
  }

  it('zero blocks: d = 0, every trit 1 (tq), index 8 (iq4_nl), exponent 0 (mxfp4); dequantize to zeros', () => {
    const tq1 = quantizeGGMLSync('tq1_0', new Float32Array(256));
    expect([...tq1]).toEqual([...new Array(48).fill(0x80), 0x7f, 0x7f, 0x7f, 0x7f, 0, 0]);
    const tq2 = quantizeGGMLSync('tq2_0', new Float32Array(256).fill(-0));
    expect([...tq2]).toEqual([...new Array(64).fill(0x55), 0, 0]);
    expect([...quantizeGGMLSync('iq4_nl', new Float32Array(32).fill(1e-16))]).toEqual([0, 0, ...new Array(16).fill(0x88)]);
    expect([...quantizeGGMLSync('mxfp4', new Float32Array(32))]).toEqual(new Array(17).fill(0));
    for (const [type, q, n] of [['tq1_0', tq1, 256], ['tq2_0', tq2, 256]] as const) {
      expect(dequantizeGGMLSync(type, q, n).every((v) => v === 0)).toBe(true);
    }
  });

  it('hand-worked blocks', () => {
    // TQ2_0: element 128c + 32n + m is bits 2n..2n+1 of byte 32c + m; ±amax -> 2 / 0, half rounds away from 0.
    const x = new Float32Array(256);
    x[0] = 2;
    x[32] = -2;
    x[64] = 1; // 0.5 -> lroundf 1 -> trit 2
    x[96] = -0.99; // -0.495 -> 0 -> trit 1
    const q2 = quantizeGGMLSync('tq2_0', x);
    expect(q2[0]).toBe(2 | (0 << 2) | (2 << 4) | (1 << 6));
    expect(q2[64] | (q2[65]! << 8)).toBe(0x4000); // fp16(2)
    expect(Array.from(dequantizeGGMLSync('tq2_0', q2, 256).subarray(0, 128).filter((_, i) => i % 32 === 0))).toEqual([2, -2, 2, 0]);
    // TQ1_0: the same trits, element 32n + m as trit n of byte m (t0 most significant).
    const q1 = quantizeGGMLSync('tq1_0', x);
    const t = [2, 0, 2, 1, 1].reduce((a, d) => a * 3 + d, 0);
    expect(q1[0]).toBe(Math.ceil((t * 256) / 243));
    expect(Array.from(dequantizeGGMLSync('tq1_0', q1, 256).subarray(0, 160).filter((_, i) => i % 32 === 0))).toEqual([2, -2, 2, 0, 0]);
    // MXFP4: amax 1 -> e = 125, scale 2^-3; 1 = 8·2^-3 (index 6), -0.3 nearest -0.25 (index 10), 0.1875 is a tie
    // between 0.125 and 0.25 and keeps the lower index (1).
    const m = new Float32Array(32);
    m[0] = 1;
    m[16] = -0.3;
    m[1] = 0.1875;
    const qm = quantizeGGMLSync('mxfp4', m);
    expect([qm[0], qm[1], qm[2]]).toEqual([125, 6 | (10 << 4), 1]);
    expect(dequantizeGGMLSync('mxfp4', qm, 32).subarray(0, 2)).toEqual(new Float32Array([1, 0.125]));
    // IQ4_NL: max 127 -> d0 = -1, the levels are the nearest entries of -x; refit d = Σx²·T·x / Σx²·T².
    const v = new Float32Array(32);
    v[0] = 127;
    v[1] = -1;
    const qi = quantizeGGMLSync('iq4_nl', v);
    expect(qi[2]! & 0x0f).toBe(0); // -127
    expect(qi[3]! & 0x0f).toBe(8); // 1
    expect(dequantizeGGMLSync('iq4_nl', qi, 32)[0]).toBe(127);
  });

  // Relative RMS error over fresh N(0, spread²) data, and TQ's per-element bound amax/2 (plus fp16 rounding of d).
  // (Ternary with scale amax rounds most Gaussian values to 0: about 0.8; all-zero output would be 1.)
  const LIMIT: Record<string, number> = { tq1_0: 0.9, tq2_0: 0.9, iq4_nl: 0.12, mxfp4: 0.2 };
  for (const type of MISC) {
    for (const spread of [1, 0.02, 500]) {
      it(`${type} round trip, N(0, ${spread}²)`, () => {
        const n = 256 * 33;
        const x = randomFloats(n, 404 + Math.round(spread * 7), spread);
        const y = dequantizeGGMLSync(type, quantizeGGMLSync(type, x), n);
        let e2 = 0;
        let x2 = 0;
        for (let i = 0; i < n; i++) {
          e2 += (y[i]! - x[i]!) ** 2;
          x2 += x[i]! ** 2;
        }
        expect(Math.sqrt(e2 / x2)).toBeLessThan(LIMIT[type]!);
        if (type.startsWith('tq')) {
          for (let b = 0; b < n; b += 256) {
            let amax = 0;
            for (let j = 0; j < 256; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
            for (let j = 0; j < 256; j++) {
              if (!(Math.abs(y[b + j]! - x[b + j]!) <= amax * (0.5 + 2 ** -10))) expect.fail(`${type} element ${b + j}`);
            }
          }
        }
      });
    }
  }

  it('splits over threads like serial calls, and checks the block size', () => {
    const x = randomFloats(256 * 3000, 93, 2);
    for (const type of MISC) {
      expectSplitMatchesWhole(type, x, Math.floor(x.length / ggmlTypeInfo(type).blockSize / 4) + 3);
      expectBlockSizeChecks(type);
    }
    expect(ggmlTypeInfo('tq1_0')).toEqual({ id: 34, blockSize: 256, bytesPerBlock: 54 });
    expect(ggmlTypeInfo('tq2_0')).toEqual({ id: 35, blockSize: 256, bytesPerBlock: 66 });
    expect(ggmlTypeInfo('iq4_nl')).toEqual({ id: 20, blockSize: 32, bytesPerBlock: 18 });
    expect(ggmlTypeInfo('mxfp4')).toEqual({ id: 39, blockSize: 32, bytesPerBlock: 17 });
  });
});

// K-quants Q2_K and Q3_K (README 4, 5.3-5.5): every golden case of the fixtures byte for byte / bit for bit
// (NaN as a class), round-trip bounds, thread split, shape checks, zero super-blocks.
describe('ggml K-quants q2_k, q3_k', () => {
  const K23: Record<string, GGMLQuantType> = { q2_K: 'q2_k', q3_K: 'q3_k' };
  const k23cases = manifest.cases.filter((c) => c.type in K23 && ['gauss', 'edge'].includes(c.input_name));

  it('covers q2_K and q3_K on the gauss and edge inputs', () => {
    expect(k23cases.length).toBe(4);
    expect(new Set(k23cases.map((c) => c.type))).toEqual(new Set(Object.keys(K23)));
  });

  for (const c of k23cases) {
    const type = K23[c.type]!;
    it(`${c.type} ${c.input_name}: quantized bytes and dequantized floats`, () => checkGoldenCase(type, c));
  }

  // Relative RMS error over fresh N(0, spread²) data.
  const LIMIT: Record<string, number> = { q2_k: 0.34, q3_k: 0.19 }; // about 0.30 / 0.15 measured
  for (const type of ['q2_k', 'q3_k'] as const) {
    for (const spread of [1, 0.02, 500]) {
      it(`${type} round trip, N(0, ${spread}²)`, () => {
        const n = 256 * 33;
        const x = randomFloats(n, 505 + Math.round(spread * 7), spread);
        const y = dequantizeGGMLSync(type, quantizeGGMLSync(type, x), n);
        let e2 = 0;
        let x2 = 0;
        for (let i = 0; i < n; i++) {
          e2 += (y[i]! - x[i]!) ** 2;
          x2 += x[i]! ** 2;
        }
        expect(Math.sqrt(e2 / x2)).toBeLessThan(LIMIT[type]!);
      });
    }
  }

  it('splits over threads like serial calls, needs multiples of 256; zero super-blocks are zero bytes', () => {
    const x = randomFloats(256 * 3000, 94, 2);
    for (const type of ['q2_k', 'q3_k'] as const) {
      expectSplitMatchesWhole(type, x, 777);
      expectBlockSizeChecks(type);
      const z = quantizeGGMLSync(type, new Float32Array(512).fill(-0));
      expect(z.every((b) => b === 0)).toBe(true);
      expect(dequantizeGGMLSync(type, z, 512).every((v) => v === 0)).toBe(true);
    }
    expect(ggmlTypeInfo('q2_k')).toEqual({ id: 10, blockSize: 256, bytesPerBlock: 84 });
    expect(ggmlTypeInfo('q3_k')).toEqual({ id: 11, blockSize: 256, bytesPerBlock: 110 });
  });
});

// ggml_quantize_chunk (rows of 1024) with the importance matrices of the fixtures, and IQ4_NL's chunk path
// without one: every type's bytes as ggml wrote them (README 5.2, 5.3, 5.6).
describe('ggml importance-matrix and chunk paths', () => {
  const imatrixCases = manifest.cases as (GoldenCase & { imatrix: string; imatrix_q: string; row_length: number; chunk?: string; chunk_equals_ref: boolean })[];

  it('covers every type on the gauss and edge inputs', () => {
    expect(imatrixCases.length).toBe(GGML_QUANT_TYPES.filter((t) => t !== 'q8_1' && t !== 'q8_k').length * 2);
  });

  for (const c of imatrixCases) {
    const type = c.type.toLowerCase() as GGMLQuantType;
    it(`${c.type} ${c.input_name}: imatrix bytes`, async () => {
      const x = loadF32(c.input);
      const imatrix = loadF32(c.imatrix);
      const want = load(c.imatrix_q);
      const got = quantizeGGMLSync(type, x, { imatrix });
      expect(firstByteMismatch(got, want)).toBe('ok');
      expect(Buffer.from(await quantizeGGML(type, x, { imatrix, rowLength: c.row_length })).equals(Buffer.from(got))).toBe(true);
      const m = (matched[`${c.type} imatrix`] ??= { bytes: 0, floats: 0 });
      m.bytes += want.length;
    });
    if (!c.chunk_equals_ref) {
      it(`${c.type} ${c.input_name}: chunk path without an imatrix`, () => {
        const got = quantizeGGMLSync(type, loadF32(c.input), { rowLength: c.row_length });
        expect(firstByteMismatch(got, load(c.chunk!))).toBe('ok');
      });
    }
  }

  it('an all-ones imatrix is not the reference path, and rows are independent', () => {
    const x = randomFloats(4 * 512, 77, 1);
    const ones = new Float32Array(512).fill(1);
    for (const type of ['q4_0', 'q4_k', 'q6_k'] as GGMLQuantType[]) {
      const whole = quantizeGGMLSync(type, x, { imatrix: ones });
      const rowBytes = whole.length / 4;
      for (let r = 0; r < 4; r++) {
        const row = quantizeGGMLSync(type, x.subarray(r * 512, (r + 1) * 512), { imatrix: ones });
        expect(Buffer.from(row).equals(Buffer.from(whole.subarray(r * rowBytes, (r + 1) * rowBytes)))).toBe(true);
      }
      // The weighted search lowers the importance-weighted error against the plain reference on this data.
      const err = (q: Uint8Array) => {
        const y = dequantizeGGMLSync(type, q, x.length);
        let e = 0;
        for (let i = 0; i < x.length; i++) e += (y[i]! - x[i]!) ** 2;
        return e;
      };
      expect(err(whole)).toBeLessThan(err(quantizeGGMLSync(type, x)) * 1.02);
    }
  });
});

// The driver runs the active level's kernel table (native/ops/ggml/kernels.h): every reference-path golden case
// gives the same bytes and floats at every level this CPU has (native/test/test_ggml_simd.cc compares the
// tables themselves on many more inputs).
describe('ggml golden vectors at every SIMD level', () => {
  const initial = backend().simd;
  afterAll(() => setSimd(initial));
  for (const level of supportedLevels()) {
    it(`${level}: every type's quantized bytes and dequantized floats`, () => {
      setSimd(level);
      expect(manifest.cases.length).toBe(28);
      for (const c of manifest.cases as (GoldenCase & { ref_unspecified?: Unspecified })[]) {
        const type = c.type.toLowerCase() as GGMLQuantType;
        const q = quantizeGGMLSync(type, loadF32(c.input));
        const ref = load(c.ref);
        if (c.ref_unspecified) {
          const [lo, hi] = c.ref_unspecified.byte_range_in_block;
          for (const b of c.ref_unspecified.blocks) q.set(ref.subarray(b * c.type_size + lo, b * c.type_size + hi), b * c.type_size + lo);
        }
        expect(firstByteMismatch(q, ref), `${level} ${c.type} ${c.input_name} quantize`).toBe('ok');
        expect(floatMismatches(dequantizeGGMLSync(type, ref, c.n_elements), loadF32(c.ref_dequant)), `${level} ${c.type} ${c.input_name} dequantize`).toBe('ok');
      }
    });
  }
});
