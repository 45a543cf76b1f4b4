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
  dequantizeGGML,
  dequantizeGGMLSync,
  ggmlTypeInfo,
  quantizeGGML,
  quantizeGGMLSync,
  type GGMLQuantType,
} from '../lib/index.js';
import { randomFloats } from './helpers/random.js';
import { expectKquantError } from './helpers/errors.js';

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

describe('ggml golden vectors (reference path)', () => {
  it('covers every legacy type on every input of the fixtures', () => {
    expect(cases.length).toBe(10);
    expect(new Set(cases.map((c) => c.type))).toEqual(new Set(LEGACY));
  });

  for (const c of cases) {
    const type = c.type as GGMLQuantType;
    it(`${c.type} ${c.input_name}: quantized bytes and dequantized floats`, async () => {
      const info = ggmlTypeInfo(type);
      expect([info.id, info.blockSize, info.bytesPerBlock]).toEqual([c.type_id, c.blck_size, c.type_size]);
      const x = loadF32(c.input);
      const ref = load(c.ref);
      const deq = loadF32(c.ref_dequant);
      expect(x.length).toBe(c.n_elements);

      const q = quantizeGGMLSync(type, x);
      expect(q.length).toBe(c.bytes);
      expect(firstByteMismatch(q, ref)).toBe('ok');
      expect(Buffer.from(await quantizeGGML(type, x)).equals(Buffer.from(ref))).toBe(true);

      const y = dequantizeGGMLSync(type, ref, c.n_elements);
      expect(floatMismatches(y, deq)).toBe('ok');
      expect(floatMismatches(await dequantizeGGML(type, ref, c.n_elements), deq)).toBe('ok');
      const nonFinite = c.dequant_nonfinite?.ref_dequant;
      if (nonFinite) {
        expect(y.filter((v) => Number.isNaN(v)).length).toBe(nonFinite.nan);
        expect(y.filter((v) => v === Infinity || v === -Infinity).length).toBe(nonFinite.inf);
      } else {
        expect(y.every((v) => Number.isFinite(v))).toBe(true);
      }
      const m = (matched[c.type] ??= { bytes: 0, floats: 0 });
      m.bytes += ref.length;
      m.floats += deq.length;
    });
  }

  it('q8_1: decodes ggml activation blocks (value = d * q) bit for bit', () => {
    const bytes = load('aux/act_q8_1_uniform_row0.q');
    const deq = loadF32('aux/act_q8_1_uniform_row0.deq.f32');
    expect(floatMismatches(dequantizeGGMLSync('q8_1', bytes, 1024), deq)).toBe('ok');
  });
});

describe('ggml round trip on fresh data', () => {
  const n = 32 * 257;
  for (const type of GGML_QUANT_TYPES) {
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
    for (const t of ['q4_K', 'q6_k', 'iq4_nl', 'f16', 'mxfp4']) {
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
    expectKquantError(() => quantizeGGMLSync('q4_0', new Float32Array(32), { imatrix: new Float32Array(32) }), 'KQ_INVALID_ARGUMENT', /imatrix/);
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
    for (const type of GGML_QUANT_TYPES) {
      const whole = quantizeGGMLSync(type, x);
      const { bytesPerBlock } = ggmlTypeInfo(type);
      const parts = new Uint8Array(whole.length);
      for (let b = 0; b < 40000; b += 4999) {
        const end = Math.min(40000, b + 4999);
        parts.set(quantizeGGMLSync(type, x.subarray(b * 32, end * 32)), b * bytesPerBlock);
      }
      expect(Buffer.from(parts).equals(Buffer.from(whole))).toBe(true);
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
