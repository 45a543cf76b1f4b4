// Deterministic inputs, so runs compare like with like. xorshift32 is plenty: the kernels' speed does
// not depend on the values, only on their being finite and not all equal.
export function randomFloats(length: number, seed = 0x9e3779b9): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 0x1_0000_0000 - 0.5) * 8; // uniform in [-4, 4)
  }
  return out;
}
