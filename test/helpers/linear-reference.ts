// An independent reference for linear int8 quantization, written from the spec (lib/ops/linear.ts,
// native/ops/linear/linear.h) in float64 with Math.fround at each f32 rounding step.
const FLT_MAX = 3.4028234663852886e38;

export function rintHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface RefParams {
  scale: number;
  zeroPoint: number;
}

export function refParams(scheme: 'absmax' | 'zeroPoint', qmin: number, qmax: number, lo: number, hi: number): RefParams {
  const min = Math.min(lo, 0);
  const max = Math.max(hi, 0);
  if (scheme === 'absmax') {
    const absmax = Math.max(-min, max);
    const s = absmax === 0 ? 1 : Math.fround(qmax / absmax);
    return { scale: Math.min(s, FLT_MAX), zeroPoint: 0 };
  }
  const width = Math.fround(max - min);
  const s = Math.min(width === 0 ? 1 : Math.fround((qmax - qmin) / width), FLT_MAX);
  const z = qmin - rintHalfEven(Math.fround(s * min));
  return { scale: s, zeroPoint: Math.min(Math.max(z, qmin), qmax) };
}

export function refQuantize(x: number, p: RefParams, qmin: number, qmax: number): number {
  const shifted = Math.fround(Math.fround(x * p.scale) + p.zeroPoint);
  return Math.min(Math.max(rintHalfEven(shifted), qmin), qmax);
}

export function refDequantize(q: number, p: RefParams): number {
  return Math.fround(Math.fround(q - p.zeroPoint) / p.scale);
}

// Element index -> group index for the layout [outer, channels, inner].
export function groupOf(index: number, channels: number, inner: number): number {
  return Math.floor(index / inner) % channels;
}

export function groupRanges(x: Float32Array, channels: number, inner: number): { mins: number[]; maxs: number[] } {
  const mins = new Array<number>(channels).fill(Infinity);
  const maxs = new Array<number>(channels).fill(-Infinity);
  for (let i = 0; i < x.length; i++) {
    const g = groupOf(i, channels, inner);
    mins[g] = Math.min(mins[g]!, x[i]!);
    maxs[g] = Math.max(maxs[g]!, x[i]!);
  }
  return { mins, maxs };
}
