// LLM.int8() matmul: the int8×int8→int32 GEMM and the whole int8Matmul (activation quantization, GEMM,
// dequantization, outlier columns) with a weight prepared once, as Linear8bitLt holds it. The suite size
// is the weight's element count: w [n, k] with k = 4096 (or the largest power of two dividing the size)
// against m = 32 activation rows, a small decode batch. Compute-bound, so GOP/s is the figure to read.
import { int8MatmulInt32Sync, int8MatmulSync, int8PrepareWeightSync, int8VectorwiseQuantizeSync } from '../../lib/index.js';
import type { BenchOp } from '../op.js';
import { channelShape } from './linear.js';

const ROWS = 32;
const I8 = 1;
const I32 = 4;
const F32 = 4;

function shapes(elements: number) {
  const [n, k] = channelShape(elements);
  return { m: ROWS, n, k };
}

// Activations for [m, k]: the suite input repeated as needed (values stay N(0, 1), so few outliers).
function activations(src: Float32Array, m: number, k: number): Float32Array {
  const x = new Float32Array(m * k);
  for (let i = 0; i < x.length; i++) x[i] = src[i % src.length]!;
  return x;
}

const gemm: BenchOp = {
  id: 'int8-gemm-i32',
  label: `int8 GEMM -> int32 (m=${ROWS})`,
  prepare(src) {
    const { m, n, k } = shapes(src.length);
    const a = int8VectorwiseQuantizeSync(activations(src, m, k), [m, k]).values;
    const b = int8PrepareWeightSync(src, [n, k]).values;
    return {
      bytes: (m + n) * k * I8 + m * n * I32,
      ops: 2 * m * n * k,
      run: (device) => void int8MatmulInt32Sync(a, [m, k], b, [n, k], { device }),
    };
  },
};

const matmul: BenchOp = {
  id: 'int8-matmul',
  label: `int8Matmul LLM.int8 t=6 (m=${ROWS})`,
  prepare(src) {
    const { m, n, k } = shapes(src.length);
    const x = activations(src, m, k);
    const w = int8PrepareWeightSync(src, [n, k]);
    return {
      bytes: m * k * F32 + n * k * I8 + n * F32 + m * n * F32,
      ops: 2 * m * n * k,
      run: (device) => void int8MatmulSync(x, [m, k], w, { threshold: 6, device }),
    };
  },
};

export const int8Ops: readonly BenchOp[] = [gemm, matmul];
