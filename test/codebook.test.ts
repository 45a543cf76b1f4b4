// The blockwise codebook engine and its codebooks: NF4 / FP4 / the 8-bit dynamic map reproduced byte for byte
// (against bnb's ops on fresh data and against bnb's golden files), any other code against a plain nearest-entry
// reference with its bit packing, the constructors' values, and argument checks.
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  bnbCode4,
  bnbDynamicMap,
  dequantize4bitSync,
  dequantizeBlockwiseSync,
  dequantizeCodebook,
  dequantizeCodebookSync,
  makeCode,
  makeQuantileCode,
  quantize4bitSync,
  quantizeBlockwiseSync,
  quantizeCodebook,
  quantizeCodebookSync,
  setSimd,
} from '../lib/index.js';
import { bnbManifest, loadFixtureBytes } from './helpers/bnb-fixtures.js';
import { expectKquantError } from './helpers/errors.js';
import { normal, randomFloats, rng } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const info = backend();
afterAll(() => setSimd(info.simd));

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

// Heavy-ish tails and a few exact zeros, so blocks differ in scale and 0 is exercised.
function data(n: number, seed: number): Float32Array {
  const x = randomFloats(n, seed, 0.05);
  const next = rng(seed + 1);
  for (let i = 0; i < n; i++) {
    const u = next();
    if (u < 0.01) x[i] = x[i]! * 20;
    else if (u < 0.02) x[i] = 0;
  }
  return x;
}

// The engine's rule written out plainly: s = x · f32(1 / absmax), the entry whose f32 midpoints bracket s
// (strict below, on a midpoint the even sorted index), that entry's caller index.
function referenceIndices(x: Float32Array, code: Float32Array, blockSize: number): { indices: Uint8Array; absmax: Float32Array } {
  const order = Array.from(code.keys()).sort((a, b) => code[a]! - code[b]!);
  const sorted = order.map((i) => code[i]!);
  const mids = sorted.slice(1).map((v, j) => Math.fround((sorted[j]! + v) * 0.5));
  const absmax = new Float32Array(Math.ceil(x.length / blockSize));
  const indices = new Uint8Array(x.length);
  for (let b = 0; b < absmax.length; b++) {
    const block = x.subarray(b * blockSize, (b + 1) * blockSize);
    absmax[b] = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const inv = Math.fround(1 / absmax[b]!);
    block.forEach((v, i) => {
      const s = Math.fround(v * inv);
      let j = mids.filter((m) => m < s).length;
      if (j < mids.length && mids[j] === s && j % 2 === 1) j++;
      indices[b * blockSize + i] = order[j]!;
    });
  }
  return { indices, absmax };
}

// Packs as the module comment specifies, one bit at a time.
function referencePack(indices: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((indices.length * bits) / 8));
  if (bits === 4) {
    indices.forEach((v, i) => (out[i >> 1] = out[i >> 1]! | (i % 2 === 0 ? v << 4 : v)));
    return out;
  }
  indices.forEach((v, i) => {
    for (let k = 0; k < bits; k++) {
      const bit = i * bits + k;
      if ((v >> k) & 1) out[bit >> 3] = out[bit >> 3]! | (1 << (bit & 7));
    }
  });
  return out;
}

describe('bnb formats as codebooks', () => {
  for (const level of supportedLevels()) {
    it(`NF4 and FP4 codes give quantize4bit's bytes, absmax and dequantization (${level})`, () => {
      setSimd(level);
      for (const [n, blockSize, seed] of [[4097, 64, 1], [1023, 32, 2], [5000, 256, 3]] as const) {
        const x = data(n, seed);
        for (const quantType of ['nf4', 'fp4'] as const) {
          const bnb = quantize4bitSync(x, { quantType, blockSize, device: 'cpu' });
          const q = quantizeCodebookSync(x, { code: bnbCode4(quantType), bits: 4, blockSize, device: 'cpu' });
          expect(q.packed).toEqual(bnb.packed);
          expect(bitsOf(q.absmax)).toEqual(bitsOf(bnb.state.absmax as Float32Array));
          const y = dequantizeCodebookSync(q, { device: 'cpu' });
          expect(bitsOf(y)).toEqual(bitsOf(dequantize4bitSync(bnb, { outDtype: 'float32', device: 'cpu' })));
        }
      }
    });

    it(`the dynamic map gives quantizeBlockwise's codes, absmax and dequantization (${level})`, () => {
      setSimd(level);
      for (const [n, blockSize, seed] of [[9001, 4096, 4], [3001, 64, 5], [777, 256, 6]] as const) {
        const x = data(n, seed);
        const bnb = quantizeBlockwiseSync(x, { blockSize, device: 'cpu' });
        const q = quantizeCodebookSync(x, { code: makeCode('dynamic', 8), blockSize, device: 'cpu' });
        expect(q.bits).toBe(8);
        expect(q.packed).toEqual(bnb.codes);
        expect(bitsOf(q.absmax)).toEqual(bitsOf(bnb.state.absmax as Float32Array));
        expect(bitsOf(dequantizeCodebookSync(q, { device: 'cpu' }))).toEqual(bitsOf(dequantizeBlockwiseSync(bnb, { outDtype: 'float32', device: 'cpu' })));
      }
    });
  }

  it("bnb's Python FP4 table (+0 at code 8) is recognised too", () => {
    const x = data(2048, 7);
    const python = bnbCode4('fp4');
    python[8] = 0;
    const q = quantizeCodebookSync(x, { code: python, bits: 4, device: 'cpu' });
    expect(q.packed).toEqual(quantize4bitSync(x, { quantType: 'fp4', device: 'cpu' }).packed);
  });

  interface GoldenCase {
    id: string;
    input: string;
    input_dtype: string;
    params: { quant_type?: 'nf4' | 'fp4'; blocksize: number; compress_statistics?: boolean; nested?: boolean };
    outputs: Record<string, string>;
  }
  const plain = (bnbManifest.cases_4bit_and_8bit as GoldenCase[]).filter((c) => c.input_dtype === 'float32' && !c.params.compress_statistics && !c.params.nested);

  it('covers every plain f32 golden case', () => expect(plain.length).toBeGreaterThanOrEqual(10));

  for (const c of plain) {
    it(`golden ${c.id}`, () => {
      const x = new Float32Array(loadFixtureBytes(c.input).buffer);
      const code = c.params.quant_type ? bnbCode4(c.params.quant_type) : bnbDynamicMap();
      const q = quantizeCodebookSync(x, { code, blockSize: c.params.blocksize, device: 'cpu' });
      expect(q.packed).toEqual(loadFixtureBytes(c.outputs.packed ?? c.outputs.codes!));
      expect(bitsOf(q.absmax)).toEqual(new Uint32Array(loadFixtureBytes(c.outputs.absmax!).buffer));
      const y = dequantizeCodebookSync(q, { device: 'cpu' });
      const golden = new Uint32Array(loadFixtureBytes(c.outputs.dequant_f32!).buffer);
      // f32 ±0 compare equal (bnb's Python FP4 table decodes code 8 as +0, its CUDA kernel as −0).
      expect(Array.from(bitsOf(y), (v) => (v === 0x80000000 ? 0 : v))).toEqual(Array.from(golden, (v) => (v === 0x80000000 ? 0 : v)));
    });
  }
});

describe('any codebook', () => {
  for (const level of supportedLevels()) {
    it(`matches the nearest-entry reference and the bit packing at 3 … 8 bits, any code order (${level})`, () => {
      setSimd(level);
      for (const bits of [3, 4, 5, 6, 7, 8]) {
        const next = rng(100 + bits);
        // A shuffled code with 0 and ±1, up to 2^bits entries.
        const levels = 2 ** bits - (bits % 2);
        const values = new Set<number>([0, 1, -1]);
        while (values.size < levels) values.add(Math.fround(next() * 2 - 1));
        const code = Float32Array.from([...values].sort(() => next() - 0.5));
        for (const [n, blockSize] of [[1001, 64], [37, 5], [4096, 1024]] as const) {
          const x = data(n, bits * 10 + n);
          const q = quantizeCodebookSync(x, { code, bits, blockSize, device: 'cpu' });
          const ref = referenceIndices(x, code, blockSize);
          expect(bitsOf(q.absmax)).toEqual(bitsOf(ref.absmax));
          expect(q.packed).toEqual(referencePack(ref.indices, bits));
          const y = dequantizeCodebookSync(q, { device: 'cpu' });
          const expected = Float32Array.from(ref.indices, (c, i) => Math.fround(code[c]! * ref.absmax[Math.floor(i / blockSize)]!));
          expect(bitsOf(y)).toEqual(bitsOf(expected));
        }
      }
    });
  }

  it('packs 3 bits as a little-endian bit stream', () => {
    const code = makeCode('int', 3); // 7 levels: index k is (k − 3) / 3
    const x = Float32Array.from([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1, 1, 0]); // indices 0 1 2 3 4 5 6 6 3
    const q = quantizeCodebookSync(x, { code, blockSize: 9, device: 'cpu' });
    // Each index LSB first: 000 100 010 110 001 101 011 011 110; as a stream cut into bytes (bit 0 first):
    // 00010001 01100011 01011011 110 → 0x88, 0xc6, 0xda, 0x03.
    expect(Array.from(q.packed)).toEqual([0x88, 0xc6, 0xda, 0x03]);
  });

  it('takes the even sorted index on a midpoint, as bnb', () => {
    const code = Float32Array.from([-1, -0.5, 0, 0.5, 1]);
    // Block absmax 1: s = x. Midpoints −0.75 (between sorted 0 and 1 → 0), −0.25 (1|2 → 2), 0.25 (2|3 → 2), 0.75 (3|4 → 4).
    const x = Float32Array.from([1, -0.75, -0.25, 0.25, 0.75]);
    const q = quantizeCodebookSync(x, { code, bits: 8, blockSize: 5, device: 'cpu' });
    expect(Array.from(q.packed)).toEqual([4, 0, 2, 2, 4]);
  });

  it('round trip stays within half the widest gap of the code', () => {
    const x = data(8192, 9);
    const code = makeQuantileCode(5, 'normal');
    const q = quantizeCodebookSync(x, { code, blockSize: 128, device: 'cpu' });
    const y = dequantizeCodebookSync(q, { device: 'cpu' });
    const gap = Math.max(...code.slice(1).map((v, i) => v - code[i]!));
    x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual((gap / 2 + 1e-6) * q.absmax[Math.floor(i / 128)]!));
  });

  it('async gives the Sync bytes', async () => {
    const x = data(3000, 11);
    const code = makeCode('float', 6);
    const a = await quantizeCodebook(x, { code, blockSize: 100 });
    const s = quantizeCodebookSync(x, { code, blockSize: 100 });
    expect(a.packed).toEqual(s.packed);
    expect(bitsOf(await dequantizeCodebook(a))).toEqual(bitsOf(dequantizeCodebookSync(s)));
  });

  it('rejects bad arguments, naming them', () => {
    const x = data(64, 12);
    const code = makeCode('int', 4);
    expectKquantError(() => quantizeCodebookSync(x, {} as never), 'KQ_INVALID_ARGUMENT', /options\.code/);
    expectKquantError(() => quantizeCodebookSync(x, { code, bits: 9 }), 'KQ_INVALID_ARGUMENT', /options\.bits/);
    expectKquantError(() => quantizeCodebookSync(x, { code, bits: 3 }), 'KQ_LENGTH', /options\.code/);
    expectKquantError(() => quantizeCodebookSync(x, { code: Float32Array.from([0, 0.5, 0.5]) }), 'KQ_INVALID_ARGUMENT', /distinct.*options\.code\[1\]/);
    expectKquantError(() => quantizeCodebookSync(x, { code: Float32Array.from([0, 2]) }), 'KQ_INVALID_ARGUMENT', /options\.code\[1\] in \[-1, 1\]/);
    expectKquantError(() => quantizeCodebookSync(x, { code: Float32Array.from([0, NaN]) }), 'KQ_NON_FINITE', /options\.code\[1\]/);
    expectKquantError(() => quantizeCodebookSync(x, { code, blockSize: 0 }), 'KQ_INVALID_ARGUMENT', /options\.blockSize/);
    expectKquantError(() => quantizeCodebookSync(x, { code: bnbCode4('nf4'), blockSize: 33 }), 'KQ_INVALID_ARGUMENT', /even options\.blockSize/);
    expectKquantError(() => quantizeCodebookSync(new Float32Array(0), { code }), 'KQ_SHAPE', /src/);
    const bad = x.slice();
    bad[5] = Infinity;
    expectKquantError(() => quantizeCodebookSync(bad, { code }), 'KQ_NON_FINITE', /5/);
    const q = quantizeCodebookSync(x, { code: makeCode('int', 3) });
    expectKquantError(() => dequantizeCodebookSync({ ...q, packed: q.packed.subarray(1) }), 'KQ_LENGTH', /q\.packed/);
    expectKquantError(() => dequantizeCodebookSync({ ...q, absmax: new Float32Array(3) }), 'KQ_LENGTH', /q\.absmax/);
    expectKquantError(() => dequantizeCodebookSync({ ...q, packed: new Uint8Array(q.packed.length).fill(0xff) }), 'KQ_INVALID_ARGUMENT', /below 7/);
  });
});

describe('makeCode', () => {
  it("'int' is the uniform signed grid", () => {
    for (const bits of [3, 4, 8]) {
      const top = 2 ** (bits - 1) - 1;
      expect(Array.from(makeCode('int', bits))).toEqual(Array.from({ length: 2 * top + 1 }, (_, i) => Math.fround((i - top) / top) + 0));
    }
  });

  it("'float' E2M1 is FP4's values but for the subnormal (1/12 vs bnb's 1/192)", () => {
    const e2m1 = Array.from(makeCode('float', 4));
    expect(e2m1).toEqual([-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6].map((v) => Math.fround(v / 6)));
    const fp4 = [...new Set(Array.from(bnbCode4('fp4'), (v) => v + 0))].sort((a, b) => a - b);
    expect(e2m1.filter((v) => Math.abs(v) !== Math.fround(1 / 12))).toEqual(fp4.filter((v) => Math.abs(v) !== Math.fround(1 / 192)));
  });

  it("'float' E3M0 is the powers of two 2^-6 … 1 and 0", () => {
    const pos = [0, 1, 2, 3, 4, 5, 6].map((e) => 2 ** (e - 6));
    expect(Array.from(makeCode('float', 4, { exponentBits: 3 }))).toEqual([...pos.map((v) => -v).reverse(), 0, ...pos]);
  });

  // Every finite value of the 8-bit formats, decoded from the bit patterns independently of the enumeration.
  function decodeFp8(byte: number, e: number, m: number, special: 'fn' | 'ieee'): number {
    const bias = 2 ** (e - 1) - 1;
    const exp = (byte >> m) & (2 ** e - 1);
    const man = byte & (2 ** m - 1);
    const sign = byte & 0x80 ? -1 : 1;
    if (special === 'ieee' && exp === 2 ** e - 1) return NaN;
    if (special === 'fn' && exp === 2 ** e - 1 && man === 2 ** m - 1) return NaN;
    return sign * (exp === 0 ? (man / 2 ** m) * 2 ** (1 - bias) : (1 + man / 2 ** m) * 2 ** (exp - bias));
  }

  for (const [e, m, special, max] of [[4, 3, 'fn', 448], [5, 2, 'ieee', 57344]] as const) {
    it(`'float' E${e}M${m} (${special}) holds every finite fp8 value / ${max}`, () => {
      const code = makeCode('float', 8, { exponentBits: e });
      const expected = [...new Set(Array.from({ length: 256 }, (_, b) => decodeFp8(b, e, m, special)).filter(Number.isFinite).map((v) => Math.fround(v / max) + 0))].sort((a, b) => a - b);
      expect(Array.from(code)).toEqual(expected);
      expect(code[code.length - 1]).toBe(1);
    });
  }

  it("'dynamic' is bnb's map at 8 bits and a 2^k-entry dynamic tree otherwise", () => {
    expect(bitsOf(makeCode('dynamic', 8))).toEqual(bitsOf(bnbDynamicMap()));
    for (const bits of [3, 4, 5, 6, 7]) {
      const code = makeCode('dynamic', bits);
      expect(code.length).toBe(2 ** bits);
      expect(code.includes(0) && code.includes(1)).toBe(true);
      for (let i = 1; i < code.length; i++) expect(code[i]!).toBeGreaterThan(code[i - 1]!);
      // The smallest non-zero magnitude sits in the lowest decade, 10^-(k−2) · 0.55.
      expect(Math.min(...Array.from(code).filter((v) => v > 0)) / (0.55 * 10 ** -(bits - 2)) - 1).toBeLessThan(1e-6);
    }
    const d4 = Array.from(makeCode('dynamic', 4));
    expect(d4.slice(8)).toEqual([0.0055, 0.0325, 0.0775, 0.2125, 0.4375, 0.6625, 0.8875, 1].map(Math.fround));
  });

  it('rejects bad arguments, naming them', () => {
    expectKquantError(() => makeCode('log' as never, 4), 'KQ_INVALID_ARGUMENT', /kind/);
    expectKquantError(() => makeCode('int', 2), 'KQ_INVALID_ARGUMENT', /bits/);
    expectKquantError(() => makeCode('float', 4, { exponentBits: 4 }), 'KQ_INVALID_ARGUMENT', /options\.exponentBits/);
    expectKquantError(() => makeCode('float', 8, { special: 'inf' as never }), 'KQ_INVALID_ARGUMENT', /options\.special/);
  });
});

describe('makeQuantileCode', () => {
  function expectQuantileShape(code: Float32Array, bits: number): void {
    expect(code.length).toBeLessThanOrEqual(2 ** bits);
    for (let i = 1; i < code.length; i++) expect(code[i]!).toBeGreaterThan(code[i - 1]!);
    expect(code[0]).toBe(-1);
    expect(code[code.length - 1]).toBe(1);
    expect(code.includes(0)).toBe(true);
  }

  it("'normal' at 4 bits is bnb's NF4 table bit for bit", () => {
    expect(bitsOf(makeQuantileCode(4, 'normal'))).toEqual(bitsOf(bnbCode4('nf4')));
  });

  it("'normal' gives 2^k ascending levels with 0 and ±1 at every width", () => {
    for (let bits = 3; bits <= 8; bits++) {
      const code = makeQuantileCode(bits, 'normal');
      expect(code.length).toBe(2 ** bits);
      expectQuantileShape(code, bits);
    }
  });

  it('fitted to samples, each level has its probability of samples below it', () => {
    const next = rng(21);
    const samples = Float32Array.from({ length: 100_000 }, () => normal(next) + 0.3); // shifted: sides differ
    const pos = samples.filter((v) => v > 0).sort();
    const neg = samples.filter((v) => v < 0).map((v) => -v).sort();
    for (const bits of [3, 4, 6]) {
      const code = makeQuantileCode(bits, samples);
      expect(code.length).toBe(2 ** bits);
      expectQuantileShape(code, bits);
      const half = 2 ** (bits - 1);
      const below = (sorted: Float32Array, v: number) => sorted.filter((s) => s <= v).length / sorted.length;
      code.filter((v) => v > 0).forEach((v, i) => expect(Math.abs(below(pos, v * pos[pos.length - 1]!) - (i + 1) / half)).toBeLessThan(1e-4));
      code.filter((v) => v < 0).reverse().forEach((v, i) => expect(Math.abs(below(neg, -v * neg[neg.length - 1]!) - (i + 1) / (half - 1))).toBeLessThan(1e-4));
    }
  });

  it('fitted to uniform samples it is near the uniform grid, each side scaled to its extreme', () => {
    const next = rng(22);
    const samples = Float32Array.from({ length: 100_000 }, () => next() * 3 - 1); // [-1, 2): asymmetric
    const code = makeQuantileCode(4, samples);
    expectQuantileShape(code, 4);
    code.filter((v) => v > 0).forEach((v, i) => expect(v).toBeCloseTo((i + 1) / 8, 2));
    code.filter((v) => v < 0).reverse().forEach((v, i) => expect(v).toBeCloseTo(-(i + 1) / 7, 2));
  });

  it('merges equal levels of discrete data', () => {
    const code = makeQuantileCode(4, Float32Array.from([-2, -2, -2, 1, 1, 1, 1, 3]));
    expectQuantileShape(code, 4);
    // Positive quantiles at i/8 of [1, 1, 1, 1, 3] (interpolated): 1 six times, then 2 and 3; over 3.
    expect(Array.from(code)).toEqual([-1, 0, Math.fround(1 / 3), Math.fround(2 / 3), 1]);
  });

  it('rejects bad arguments, naming them', () => {
    expectKquantError(() => makeQuantileCode(9, 'normal'), 'KQ_INVALID_ARGUMENT', /bits/);
    expectKquantError(() => makeQuantileCode(4, 'normal', { offset: 1 }), 'KQ_INVALID_ARGUMENT', /options\.offset/);
    expectKquantError(() => makeQuantileCode(4, Float32Array.from([1, 2, 3])), 'KQ_INVALID_ARGUMENT', /both positive and negative/);
    expectKquantError(() => makeQuantileCode(4, Float32Array.from([-1, NaN])), 'KQ_NON_FINITE', /source\[1\]/);
    expectKquantError(() => makeQuantileCode(4, [1, -1] as never), 'KQ_DTYPE', /source/);
  });
});
