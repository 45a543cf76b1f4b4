// BitNet ternary / binary quantization and the ternary GEMV against f64 re-derivations on fresh random data
// (a new seed per run, named in every failure): trits and scales as the papers define them, both packings
// (and base-3 bytes equal to TQ1_0's), TQ1_0/TQ2_0 through GGUF, ternaryMatmul against Σ t·q · γ / s in
// f64 with x quantized per token as quantizePerToken does (integer part exact, the two f32 roundings within
// 2^-22 relative), every SIMD level bit-identical to the scalar reference, bad input, CUDA or its refusal.
import { afterAll, describe, expect, it } from 'vitest';
import {
  backend,
  dequantizeGGMLSync,
  dequantizeTernary,
  dequantizeTernarySync,
  encodeGGUF,
  fromFloat16Sync,
  packTrits,
  prepareTernaryWeights,
  prepareTernaryWeightsSync,
  quantizeBinary,
  quantizeBinarySync,
  quantizeGGMLSync,
  quantizePerTokenSync,
  quantizeTernary,
  quantizeTernarySync,
  readGGUF,
  setSimd,
  ternaryFromGGML,
  ternaryMatmul,
  ternaryMatmulSync,
  ternaryToGGML,
  TERNARY_EPSILON,
  toFloat16Sync,
  unpackTrits,
  type SimdLevel,
  type TernaryQuantized,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { randomFloats, rng } from './helpers/random.js';
import { supportedLevels } from './helpers/simd.js';

const SEED = (Date.now() ^ (process.pid << 8)) >>> 0;
const at = (what: string) => `${what} (seed ${SEED})`;
let seedStep = 0;
const fresh = (n: number, spread = 1) => randomFloats(n, SEED + 7919 * ++seedStep, spread);
const initialSimd = backend().simd;
afterAll(() => setSimd(initialSimd));

// Two f32 roundings after an exact integer: (f32(dot)·γ) / s.
const GEMV_RELATIVE = 2 ** -22;

function f16(v: number): number {
  return fromFloat16Sync(toFloat16Sync(Float32Array.of(v)))[0]!;
}

function rintEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

describe('quantizeTernarySync (BitNet b1.58 absmean)', () => {
  for (const granularity of ['per-tensor', 'per-row'] as const) {
    it(`${granularity}: γ = mean |W|, trits = RoundClip(W / (γ + ε), −1, 1)`, () => {
      const n = 37;
      const k = 129;
      const w = fresh(n * k, 0.02);
      const q = quantizeTernarySync(w, [n, k], { scale: 'absmean', granularity });
      const groups = granularity === 'per-row' ? n : 1;
      expect(q.scales.length).toBe(groups);
      expect(q.shape).toEqual([n, k]);
      const per = (n * k) / groups;
      let zeros = 0;
      for (let g = 0; g < groups; g++) {
        const row = Array.from(w.subarray(g * per, (g + 1) * per));
        const gamma = row.reduce((s, v) => s + Math.abs(v), 0) / per;
        expect(Math.abs(q.scales[g]! - gamma), at(`γ of group ${g}`)).toBeLessThanOrEqual(gamma * 2 ** -24);
        // Trits from the stored γ (the quotient is never within 1e-9 of a tie on random data).
        const divisor = q.scales[g]! + 1e-5;
        row.forEach((v, i) => {
          const want = Math.max(-1, Math.min(1, Math.round(v / divisor)));
          if (q.trits[g * per + i] !== want) expect(q.trits[g * per + i], at(`trit ${g * per + i} of ${v}`)).toBe(want);
          if (want === 0) zeros++;
        });
      }
      // Gaussian weights: |w| < γ/2 with γ = σ·√(2/π) holds for ≈ 31 % of them.
      expect(zeros / (n * k), at('fraction of zero trits')).toBeGreaterThan(0.25);
      expect(zeros / (n * k), at('fraction of zero trits')).toBeLessThan(0.37);
      if (granularity === 'per-tensor') expect(q.scale).toBe(q.scales[0]);
      const back = dequantizeTernarySync(q);
      for (let i = 0; i < n * k; i++) expect(back[i]).toBe(q.trits[i]! * q.scales[granularity === 'per-row' ? Math.floor(i / k) : 0]!);
    });
  }

  it('an all-zero tensor gives zero trits and scale 0; a small worked example', () => {
    expect(TERNARY_EPSILON).toBe(1e-5);
    const z = quantizeTernarySync(new Float32Array(6), [2, 3]);
    expect(Array.from(z.trits)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(z.scale).toBe(0);
    // γ = (1 + 1 + 3 + 0.5) / 4 = 1.375; W / (γ + ε) = 0.727, −0.727, 2.18, 0.364.
    const q = quantizeTernarySync(Float32Array.of(1, -1, 3, 0.5), [1, 4]);
    expect(Array.from(q.trits)).toEqual([1, -1, 1, 0]);
    expect(q.scale).toBe(1.375);
  });

  it('rejects bad input', () => {
    expectKquantError(() => quantizeTernarySync(new Float32Array(6), [4, 2]), 'KQ_LENGTH', /shape/);
    expectKquantError(() => quantizeTernarySync(Float32Array.of(1, NaN), [1, 2]), 'KQ_NON_FINITE', /weight\[1\]/);
    expectKquantError(() => quantizeTernarySync(new Float32Array(2), [1, 2], { scale: 'absmax' as 'absmean' }), 'KQ_INVALID_ARGUMENT', /options.scale/);
    expectKquantError(() => quantizeTernarySync([1, 2] as unknown as Float32Array, [1, 2]), 'KQ_DTYPE', /weight/);
  });
});

describe('quantizeBinarySync (BitNet 2023)', () => {
  for (const scale of ['per-tensor', 'per-row'] as const) {
    it(`${scale}: trits = Sign(W − α), α = mean W, β = mean |W|`, () => {
      const n = 11;
      const k = 53;
      const w = fresh(n * k, 0.5);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! + 0.1; // a non-zero mean, so α matters
      const q = quantizeBinarySync(w, [n, k], { scale });
      const groups = scale === 'per-row' ? n : 1;
      const per = (n * k) / groups;
      for (let g = 0; g < groups; g++) {
        const row = Array.from(w.subarray(g * per, (g + 1) * per));
        const alpha = row.reduce((s, v) => s + v, 0) / per;
        const beta = row.reduce((s, v) => s + Math.abs(v), 0) / per;
        expect(Math.abs(q.scales[g]! - beta), at(`β of group ${g}`)).toBeLessThanOrEqual(beta * 2 ** -24);
        row.forEach((v, i) => {
          const want = v - alpha > 0 ? 1 : -1;
          if (q.trits[g * per + i] !== want) expect(q.trits[g * per + i], at(`bit ${g * per + i}`)).toBe(want);
        });
      }
      expect(q.scheme).toBe('binary');
    });
  }

  it('Sign(0) is −1: a weight equal to the mean', () => {
    const q = quantizeBinarySync(Float32Array.of(1, 2, 3), [1, 3]);
    expect(Array.from(q.trits)).toEqual([-1, -1, 1]);
    expect(q.scale).toBe(2);
  });
});

describe('packed trits', () => {
  const randomTrits = (count: number) => {
    const next = rng(SEED + 17 * count);
    return Int8Array.from({ length: count }, () => Math.floor(next() * 3) - 1);
  };

  for (const packing of ['2bit', 'base3'] as const) {
    it(`${packing} round trips odd lengths`, () => {
      for (const count of [1, 4, 5, 7, 1001]) {
        const t = randomTrits(count);
        const bytes = packTrits(t, packing);
        expect(bytes.length).toBe(Math.ceil(count / (packing === '2bit' ? 4 : 5)));
        expect(Array.from(unpackTrits(bytes, count, packing)), at(`${packing} ${count}`)).toEqual(Array.from(t));
      }
    });
  }

  it('2bit layout: trit 4j + i in bits 2i as t + 1', () => {
    expect(Array.from(packTrits(Int8Array.of(-1, 0, 1, 1, 1), '2bit'))).toEqual([0 | (1 << 2) | (2 << 4) | (2 << 6), 2 | (1 << 2) | (1 << 4) | (1 << 6)]);
  });

  it('base3: all 243 five-trit groups round trip, 1.6 bits per trit', () => {
    const t = new Int8Array(243 * 5);
    for (let q = 0; q < 243; q++) for (let i = 0; i < 5; i++) t[q * 5 + i] = (Math.floor(q / 3 ** (4 - i)) % 3) - 1;
    const bytes = packTrits(t, 'base3');
    expect(bytes.length).toBe(243);
    expect(new Set(bytes).size).toBe(243);
    expect(Array.from(unpackTrits(bytes, t.length, 'base3'))).toEqual(Array.from(t));
  });

  it("base3 bytes are TQ1_0's qs bytes for the same five trits", () => {
    const t = randomTrits(256);
    const block = quantizeGGMLSync('tq1_0', Float32Array.from(t));
    // TQ1_0 byte m (m < 32) packs elements m, m + 32, …, m + 128 (test/fixtures/ggml/README.md 5.1).
    for (let m = 0; m < 32; m++) {
      const five = Int8Array.from([0, 1, 2, 3, 4], (i) => t[m + 32 * i]!);
      expect(packTrits(five, 'base3')[0], at(`qs[${m}]`)).toBe(block[m]);
    }
  });

  it('rejects non-trits and wrong lengths', () => {
    expectKquantError(() => packTrits(Int8Array.of(0, 2), '2bit'), 'KQ_INVALID_ARGUMENT', /trits\[1\]/);
    expectKquantError(() => unpackTrits(new Uint8Array(2), 11, 'base3'), 'KQ_LENGTH', /Expected 3 bytes for 11 trits/);
    expectKquantError(() => unpackTrits(Uint8Array.of(3), 1, '2bit'), 'KQ_INVALID_ARGUMENT', /code 3/);
  });
});

describe('TQ1_0 / TQ2_0 in GGUF', () => {
  for (const type of ['tq1_0', 'tq2_0'] as const) {
    for (const granularity of ['per-tensor', 'per-row'] as const) {
      it(`${type} ${granularity}: written, read back, dequantized to trits · f16(scale)`, () => {
        const n = 6;
        const k = 512;
        const q = quantizeTernarySync(fresh(n * k, 0.05), [n, k], { granularity });
        const data = ternaryToGGML(q, type);
        const file = readGGUF(encodeGGUF({ metadata: { 'general.architecture': 'bitnet' }, tensors: [{ name: 'blk.0.ffn_down.weight', type, shape: [k, n], data }] }));
        const info = file.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!;
        expect(info.type).toBe(type);
        expect(info.shape).toEqual([k, n]);
        const values = dequantizeGGMLSync(type, info.read(), n * k);
        for (let i = 0; i < n * k; i++) {
          const s = f16(q.scales[granularity === 'per-row' ? Math.floor(i / k) : 0]!);
          if (values[i] !== q.trits[i]! * s) expect(values[i], at(`${type} element ${i}`)).toBe(q.trits[i]! * s);
        }
        const back = ternaryFromGGML(type, info.read(), [n, k]);
        expect(Array.from(back.trits)).toEqual(Array.from(q.trits));
        for (let o = 0; o < n; o++) expect(back.scales[o]).toBe(f16(q.scales[granularity === 'per-row' ? o : 0]!));
      });
    }
  }

  it('refuses rows that are not whole blocks, scales past f16 and mixed block scales', () => {
    const q = quantizeTernarySync(fresh(2 * 100), [2, 100]);
    expectKquantError(() => ternaryToGGML(q, 'tq2_0'), 'KQ_SHAPE', /multiple of 256/);
    const big: TernaryQuantized = { ...quantizeTernarySync(fresh(256), [1, 256]), scales: Float32Array.of(1e6) };
    expectKquantError(() => ternaryToGGML(big, 'tq1_0'), 'KQ_INVALID_ARGUMENT', /f16/);
    const mixed = quantizeGGMLSync('tq2_0', Float32Array.from({ length: 512 }, (_, i) => (i < 256 ? 1 : 2) * (i % 2)));
    expectKquantError(() => ternaryFromGGML('tq2_0', mixed, [1, 512]), 'KQ_INVALID_ARGUMENT', /one scale per row/);
  });
});

describe('native quantizers: async, SIMD levels, devices', () => {
  const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const shapes: [number, number][] = [
    [1, 1],
    [3, 7],
    [37, 129],
    [5, 1003],
  ];
  for (const [n, k] of shapes) {
    it(`${n}x${k}: async = Sync, and every SIMD level gives the scalar trits, scales and values`, async () => {
      const w = fresh(n * k, 0.3);
      for (let i = 0; i < w.length; i += 3) w[i] = w[i]! + 0.05; // binary's α away from 0
      const runs = (level: SimdLevel) => {
        setSimd(level);
        const out = [];
        for (const granularity of ['per-tensor', 'per-row'] as const) {
          const t = quantizeTernarySync(w, [n, k], { granularity });
          const b = quantizeBinarySync(w, [n, k], { scale: granularity });
          out.push(Array.from(t.trits), bitsOf(t.scales), bitsOf(dequantizeTernarySync(t)), Array.from(b.trits), bitsOf(b.scales), bitsOf(dequantizeTernarySync(b)));
        }
        return out;
      };
      const levels = supportedLevels();
      const scalar = runs(levels[0]!);
      for (const level of levels.slice(1)) expect(runs(level), at(`${level} vs ${levels[0]} ${n}x${k}`)).toEqual(scalar);
      setSimd(initialSimd);
      for (const granularity of ['per-tensor', 'per-row'] as const) {
        const sync = quantizeTernarySync(w, [n, k], { granularity });
        const async = await quantizeTernary(w, [n, k], { granularity });
        expect(async).toEqual(sync);
        expect(bitsOf(await dequantizeTernary(async))).toEqual(bitsOf(dequantizeTernarySync(sync)));
        expect(await quantizeBinary(w, [n, k], { scale: granularity })).toEqual(quantizeBinarySync(w, [n, k], { scale: granularity }));
      }
    });
  }

  it('the async forms reject with the same codes; Infinity is named', async () => {
    await expect(quantizeTernary(Float32Array.of(1, 2, -Infinity), [1, 3])).rejects.toMatchObject({ code: 'KQ_NON_FINITE', message: /weight\[2\] is -Infinity/ });
    await expect(quantizeBinary(Float32Array.of(Infinity, 2), [2, 1])).rejects.toMatchObject({ code: 'KQ_NON_FINITE', message: /weight\[0\] is Infinity/ });
    await expect(quantizeTernary(new Float32Array(6), [4, 2])).rejects.toMatchObject({ code: 'KQ_LENGTH' });
    await expect(dequantizeTernary({} as TernaryQuantized)).rejects.toMatchObject({ code: 'KQ_DTYPE' });
  });

  it("device 'cuda': KQ_CUDA_UNAVAILABLE without a GPU, else the CPU's bits", async () => {
    const n = 9;
    const k = 333;
    const w = fresh(n * k);
    const cpu = quantizeTernarySync(w, [n, k], { granularity: 'per-row' });
    if (!backend().cuda.available) {
      expectKquantError(() => quantizeTernarySync(w, [n, k], { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /.+/);
      expectKquantError(() => quantizeBinarySync(w, [n, k], { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /.+/);
      expectKquantError(() => dequantizeTernarySync(cpu, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /.+/);
      await expect(quantizeTernary(w, [n, k], { device: 'cuda' })).rejects.toMatchObject({ code: 'KQ_CUDA_UNAVAILABLE' });
      expect(quantizeTernarySync(w, [n, k], { device: 'auto', granularity: 'per-row' })).toEqual(cpu);
      return;
    }
    for (const granularity of ['per-tensor', 'per-row'] as const) {
      expect(quantizeTernarySync(w, [n, k], { granularity, device: 'cuda' }), at(`cuda ternary ${granularity}`)).toEqual(quantizeTernarySync(w, [n, k], { granularity }));
      expect(quantizeBinarySync(w, [n, k], { scale: granularity, device: 'cuda' }), at(`cuda binary ${granularity}`)).toEqual(quantizeBinarySync(w, [n, k], { scale: granularity }));
    }
    expect(bitsOf(dequantizeTernarySync(cpu, { device: 'cuda' }))).toEqual(bitsOf(dequantizeTernarySync(cpu)));
  });
});

// Σ t·q · γ / s in f64 with q as quantizePerToken makes it (checked against it here).
function referenceGemv(q: TernaryQuantized, x: Float32Array, m: number) {
  const [n, k] = q.shape;
  const pt = quantizePerTokenSync(x, [m, k]);
  const y = new Float64Array(m * n);
  const dots = new Float64Array(m * n);
  const xs = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let amax = 0;
    for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(x[i * k + c]!));
    const s = amax === 0 ? 1 : Math.fround(127 / amax);
    xs[i] = s;
    const xq = new Int32Array(k);
    for (let c = 0; c < k; c++) xq[c] = Math.max(-127, Math.min(127, rintEven(Math.fround(x[i * k + c]! * s))));
    for (let c = 0; c < k; c++) {
      if (pt.values[i * k + c] !== xq[c]) expect(pt.values[i * k + c], at(`quantizePerToken [${i}, ${c}]`)).toBe(xq[c]);
    }
    for (let o = 0; o < n; o++) {
      let dot = 0;
      for (let c = 0; c < k; c++) dot += q.trits[o * k + c]! * xq[c]!;
      dots[i * n + o] = dot;
      y[i * n + o] = (dot * q.scales[q.scales.length === 1 ? 0 : o]!) / s;
    }
  }
  return { y, dots, xs };
}

function expectGemv(q: TernaryQuantized, x: Float32Array, m: number, y: Float32Array, what: string) {
  const [n] = q.shape;
  const ref = referenceGemv(q, x, m);
  for (let e = 0; e < m * n; e++) {
    const want = ref.y[e]!;
    const gamma = q.scales[q.scales.length === 1 ? 0 : e % n]!;
    const ok = Math.abs(y[e]! - want) <= Math.abs(want) * GEMV_RELATIVE && (gamma === 0 || Math.abs(ref.dots[e]!) >= 2 ** 19 || Math.round((y[e]! * ref.xs[Math.floor(e / n)]!) / gamma) === ref.dots[e]);
    if (!ok) expect(y[e], at(`${what} y[${e}] vs f64 ${want} (dot ${ref.dots[e]})`)).toBe(Math.fround(want));
  }
}

describe('ternaryMatmul', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [7, 63],
    [33, 65],
    [61, 300],
    [130, 1027],
    [9, 8300],
  ];
  for (const [n, k] of shapes) {
    it(`${n}x${k}, m = 1, 2, 3, 8, 16: f64 reference; every SIMD level gives the scalar bits`, () => {
      const q = quantizeTernarySync(fresh(n * k, 0.02), [n, k], { granularity: n % 2 ? 'per-row' : 'per-tensor' });
      const w = prepareTernaryWeightsSync(q);
      expect(w.n).toBe(n);
      expect(w.k).toBe(k);
      expect(w.device).toBe('cpu');
      expect(w.bytes).toBeGreaterThanOrEqual(n * Math.ceil(k / 64) * 16);
      for (const m of [1, 2, 3, 8, 16]) {
        const x = fresh(m * k, 3);
        let scalar: Float32Array | undefined;
        for (const level of supportedLevels()) {
          setSimd(level);
          const y = ternaryMatmulSync(x, m, w);
          if (!scalar) {
            scalar = y;
            expectGemv(q, x, m, y, `${n}x${k} m=${m}`);
          } else {
            expect(Buffer.from(y.buffer).equals(Buffer.from(scalar.buffer)), at(`${level} == scalar bits, ${n}x${k} m=${m}`)).toBe(true);
          }
        }
        setSimd(initialSimd);
      }
      w.dispose();
      expect(w.disposed).toBe(true);
      expectKquantError(() => ternaryMatmulSync(new Float32Array(k), 1, w), 'KQ_INVALID_ARGUMENT', /disposed/);
    });
  }

  it('binary weights run on the same GEMV', async () => {
    const n = 19;
    const k = 200;
    const q = quantizeBinarySync(fresh(n * k), [n, k], { scale: 'per-row' });
    const w = await prepareTernaryWeights(q);
    const x = fresh(3 * k);
    const y = await ternaryMatmul(x, 3, w);
    expectGemv(q, x, 3, y, 'binary');
    const out = new Float32Array(3 * n);
    expect(ternaryMatmulSync(x, 3, w, { out })).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(y));
    w.dispose();
  });

  it('a GGUF TQ2_0 tensor read back runs as the original trits with f16 scales', () => {
    const n = 5;
    const k = 256;
    const q = quantizeTernarySync(fresh(n * k, 0.1), [n, k], { granularity: 'per-row' });
    const back = ternaryFromGGML('tq2_0', ternaryToGGML(q, 'tq2_0'), [n, k]);
    const x = fresh(2 * k);
    const rounded: TernaryQuantized = { ...q, scales: back.scales };
    const a = ternaryMatmulSync(x, 2, prepareTernaryWeightsSync(back));
    const b = ternaryMatmulSync(x, 2, prepareTernaryWeightsSync(rounded));
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('rejects bad input', () => {
    const q = quantizeTernarySync(fresh(4 * 10), [4, 10]);
    const w = prepareTernaryWeightsSync(q);
    expectKquantError(() => ternaryMatmulSync(new Float32Array(9), 1, w), 'KQ_LENGTH', /x to hold/);
    expectKquantError(() => ternaryMatmulSync(new Float32Array(10), 1, w, { out: new Float32Array(3) }), 'KQ_LENGTH', /options.out/);
    expectKquantError(() => ternaryMatmulSync(Float32Array.from({ length: 10 }, (_, i) => (i === 4 ? NaN : 1)), 1, w), 'KQ_NON_FINITE', /NaN|Inf|non-finite|finite/);
    expectKquantError(() => ternaryMatmulSync(new Float32Array(10), 1, {} as never), 'KQ_INVALID_ARGUMENT', /TernaryWeights/);
    const bad: TernaryQuantized = { ...q, trits: Int8Array.from(q.trits, (t, i) => (i === 5 ? 3 : t)) };
    expectKquantError(() => prepareTernaryWeightsSync(bad), 'KQ_INVALID_ARGUMENT', /trits\[5\] = 3/);
    expectKquantError(() => prepareTernaryWeightsSync({ ...q, scales: new Float32Array(3) }), 'KQ_LENGTH', /scales/);
    w.dispose();
  });

  it("device 'cuda': KQ_CUDA_UNAVAILABLE without a GPU, else the CPU's bits", () => {
    const n = 40;
    const k = 700;
    const q = quantizeTernarySync(fresh(n * k), [n, k]);
    if (!backend().cuda.available) {
      expectKquantError(() => prepareTernaryWeightsSync(q, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /.+/);
      return;
    }
    const gpu = prepareTernaryWeightsSync(q, { device: 'cuda' });
    const cpu = prepareTernaryWeightsSync(q);
    for (const m of [1, 16, 20]) {
      const x = fresh(m * k);
      expect(Array.from(ternaryMatmulSync(x, m, gpu)), at(`cuda m=${m}`)).toEqual(Array.from(ternaryMatmulSync(x, m, cpu)));
    }
    gpu.dispose();
    cpu.dispose();
  });
});
