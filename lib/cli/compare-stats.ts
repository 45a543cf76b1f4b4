// The error figures `kquant compare` reports, in f64: a report, not a kernel, so the sums are plain loops in
// double precision (f32 sums of squares of a large tensor would lose digits the table shows).

/** Sums over one tensor (or several: they add) for the error of an approximation Ŵ of W. */
export interface ErrorSums {
  /** Σ W². */
  signal: number;
  /** Σ (W − Ŵ)². */
  noise: number;
  /** max |W − Ŵ|. */
  maxAbs: number;
}

export function errorSums(w: Float32Array, approx: Float32Array): ErrorSums {
  if (approx.length !== w.length) throw new RangeError(`Expected ${w.length} dequantized values but received ${approx.length}`);
  let signal = 0;
  let noise = 0;
  let maxAbs = 0;
  for (let i = 0; i < w.length; i++) {
    const x = w[i]!;
    const d = x - approx[i]!;
    signal += x * x;
    noise += d * d;
    const a = Math.abs(d);
    if (a > maxAbs) maxAbs = a;
  }
  return { signal, noise, maxAbs };
}

export function addSums(a: ErrorSums, b: ErrorSums): ErrorSums {
  return { signal: a.signal + b.signal, noise: a.noise + b.noise, maxAbs: Math.max(a.maxAbs, b.maxAbs) };
}

/** ‖W − Ŵ‖ / ‖W‖; 0 for an exact copy (also of an all-zero W), Infinity for noise on an all-zero W. */
export function relativeError(s: ErrorSums): number {
  if (s.noise === 0) return 0;
  return Math.sqrt(s.noise / s.signal);
}

/** 10·log10(ΣW² / Σ(W − Ŵ)²) in dB: Infinity for an exact copy. */
export function sqnrDb(s: ErrorSums): number {
  if (s.noise === 0) return Infinity;
  return 10 * Math.log10(s.signal / s.noise);
}

/** Bits of storage per weight. */
export function bitsPerWeight(bytes: number, elements: number): number {
  return (bytes * 8) / elements;
}
