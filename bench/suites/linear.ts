// Linear int8 quantization ops, called through the public Sync API so the time includes what a caller
// pays: argument checks and allocating the outputs as well as the kernel.
import {
  dequantizeAbsmaxSync,
  quantizeAbsmaxSync,
  quantizeZeroPointSync,
  type LinearOptions,
} from '../../lib/index.js';
import type { BenchOp } from '../op.js';

const F32 = 4;
const I8 = 1;
const I32 = 4;

// Per-channel inputs are [rows, cols] with one scale per row; cols is the largest power of two up to
// 4096 that divides the size, so any size the suite accepts has a 2-D shape.
export function channelShape(elements: number): [number, number] {
  let cols = 4096;
  while (elements % cols !== 0) cols >>= 1;
  return [elements / cols, cols];
}

interface Grouping {
  suffix: string;
  label: string;
  options(elements: number): LinearOptions;
  groups(elements: number): number;
}

const perTensor: Grouping = { suffix: 'tensor', label: 'per-tensor', options: () => ({}), groups: () => 1 };
const perChannel: Grouping = {
  suffix: 'channel',
  label: 'per-channel (axis 0)',
  options: (n) => ({ shape: channelShape(n), axis: 0 }),
  groups: (n) => channelShape(n)[0],
};
function perBlock(blockSize: number): Grouping {
  return { suffix: `block${blockSize}`, label: `per-block ${blockSize}`, options: () => ({ blockSize }), groups: (n) => n / blockSize };
}

function absmaxQuantize(g: Grouping): BenchOp {
  return {
    id: `quantize-absmax-${g.suffix}`,
    label: `int8 quantize absmax ${g.label}`,
    prepare(src) {
      const options = g.options(src.length);
      return {
        bytes: src.length * (F32 + I8) + g.groups(src.length) * F32,
        run: (device) => void quantizeAbsmaxSync(src, { ...options, device }),
      };
    },
  };
}

const zeroPointPerTensor: BenchOp = {
  id: 'quantize-zeropoint-tensor',
  label: 'int8 quantize zero-point per-tensor',
  prepare(src) {
    return {
      bytes: src.length * (F32 + I8) + F32 + I32,
      run: (device) => void quantizeZeroPointSync(src, { device }),
    };
  },
};

function absmaxDequantize(g: Grouping): BenchOp {
  return {
    id: `dequantize-absmax-${g.suffix}`,
    label: `int8 dequantize absmax ${g.label}`,
    prepare(src) {
      const q = quantizeAbsmaxSync(src, g.options(src.length));
      return {
        bytes: src.length * (I8 + F32) + g.groups(src.length) * F32,
        run: (device) => void dequantizeAbsmaxSync(q, { device }),
      };
    },
  };
}

export const linearOps: readonly BenchOp[] = [
  absmaxQuantize(perTensor),
  absmaxQuantize(perChannel),
  absmaxQuantize(perBlock(64)),
  absmaxQuantize(perBlock(128)),
  zeroPointPerTensor,
  absmaxDequantize(perBlock(64)),
];
