// Test layers for the int4 GEMV and an f64 reference read straight from the checkpoint tensors as
// test/fixtures/gptq/README.md section 4 specifies them (independent of kquant's kernels and of unpackGPTQ).
import { packGPTQSync, type GPTQFormat, type Int4Tensors } from '../../lib/index.js';
import { rng } from './random.js';

/** f16 bits to a number, exactly (no NaN/Inf in scales here). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

export interface LayerSpec {
  n: number;
  k: number;
  groupSize: number;
  sym: boolean;
  actOrder: boolean;
  format: GPTQFormat;
  seed: number;
}

/** Random codes, scales and zero points packed with packGPTQ (n a multiple of 8). */
export function makeLayer(spec: LayerSpec): Int4Tensors {
  const { n, k, groupSize, sym, actOrder, format } = spec;
  const next = rng(spec.seed);
  const groups = groupSize === -1 ? 1 : Math.ceil(k / groupSize);
  const codes = Uint8Array.from({ length: n * k }, () => Math.floor(next() * 16));
  const scales = Float32Array.from({ length: n * groups }, () => 0.002 + 0.05 * next());
  const zeros = Int32Array.from({ length: n * groups }, () => (sym ? 8 : Math.floor(next() * 16)));
  const gIdx = Int32Array.from({ length: k }, (_, c) => (groupSize === -1 ? 0 : Math.floor(c / groupSize)));
  if (actOrder) {
    for (let i = k - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [gIdx[i], gIdx[j]] = [gIdx[j]!, gIdx[i]!];
    }
  }
  // packGPTQ's result goes to prepareInt4Weights as it is (rows/cols name n/k).
  return packGPTQSync({ codes, scales, zeros, gIdx, rows: n, cols: k, bits: 4, groupSize, format, sym });
}

/** A symmetric layer without qzeros (every zero point 8), packed here so n need not be a multiple of 8. */
export function makeSymmetricLayer(n: number, k: number, groupSize: number, seed: number): Int4Tensors {
  const next = rng(seed);
  const groups = groupSize === -1 ? 1 : Math.ceil(k / groupSize);
  const qweight = new Int32Array((k / 8) * n);
  for (let o = 0; o < n; o++) {
    for (let c = 0; c < k; c++) {
      const at = (c >> 3) * n + o;
      qweight[at] = qweight[at]! | (Math.floor(next() * 16) << (4 * (c % 8)));
    }
  }
  // f16 bits of scales in [2^-9, 2^-5): exponent 6..9, random mantissa.
  const scales = Uint16Array.from({ length: groups * n }, () => ((6 + Math.floor(next() * 4)) << 10) | Math.floor(next() * 1024));
  return { qweight, scales, bits: 4, groupSize, format: 'gptq', n, k };
}

export interface F64Result {
  y: Float64Array;
  /** Σ s·(q + z)·|x|: the scale of f32 rounding (zero-point term included). */
  mag: Float64Array;
  /** Σ s·(q + z)·max|x row|: the scale of the int8 path's activation rounding (≤ max|x|/254 per element). */
  magX: Float64Array;
}

/** f64 x · dequant(W)ᵀ + bias from the packed tensors; x [m, k] as numbers (already widened). */
export function referenceMatmul(t: Int4Tensors, x: ArrayLike<number>, m: number, bias?: Float32Array): F64Result {
  const n = (t.n ?? t.rows)!;
  const k = (t.k ?? t.cols)!;
  const groups = t.scales.length / n;
  const w = new Float64Array(n * k);
  const wAbs = new Float64Array(n * k);
  for (let c = 0; c < k; c++) {
    const g = t.gIdx ? t.gIdx[c]! : t.groupSize === -1 ? 0 : Math.floor(c / t.groupSize);
    if (g >= groups) throw new Error('bad gIdx');
    for (let o = 0; o < n; o++) {
      const q = (t.qweight[(c >> 3) * n + o]! >>> (4 * (c % 8))) & 0xf;
      let z = 8;
      if (t.qzeros) {
        let word = t.qzeros[g * (n / 8) + (o >> 3)]! >>> 0;
        if (t.format === 'gptq') word = (word + 0x11111111) >>> 0; // v1: the whole word holds zero − 1
        z = (word >>> (4 * (o % 8))) & 0xf;
      }
      const s = f16ToNumber(t.scales[g * n + o]!);
      w[o * k + c] = s * (q - z);
      wAbs[o * k + c] = s * (q + z);
    }
  }
  const y = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  const magX = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let xmax = 0;
    for (let c = 0; c < k; c++) xmax = Math.max(xmax, Math.abs(x[i * k + c]!));
    for (let o = 0; o < n; o++) {
      let s = bias ? bias[o]! : 0;
      let a = 0;
      let ax = 0;
      for (let c = 0; c < k; c++) {
        const xv = x[i * k + c]!;
        s += xv * w[o * k + c]!;
        a += Math.abs(xv) * wAbs[o * k + c]!;
        ax += wAbs[o * k + c]!;
      }
      y[i * n + o] = s;
      mag[i * n + o] = a;
      magX[i * n + o] = ax * xmax;
    }
  }
  return { y, mag, magX };
}
