// Linear int8 quantization kernels, called through the native binding with outputs allocated once: a
// fresh output per call would time the OS's first-touch page faults (~2 GB/s on some VMs), not the op.
import { DeviceCode, native, Scheme } from '../../lib/binding.js';
import { quantizeAbsmaxSync, type LinearOptions } from '../../lib/index.js';
import { groupLayout } from '../../lib/ops/layout.js';
import type { BenchDevice, BenchOp } from '../op.js';

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

const deviceCode = (device: BenchDevice) => (device === 'cuda' ? DeviceCode.cuda : DeviceCode.cpu);

function layoutOf(g: Grouping, elements: number) {
  const options = g.options(elements);
  return groupLayout(options.shape ?? [elements], options.axis, options.blockSize);
}

function quantize(scheme: Scheme, g: Grouping): BenchOp {
  const name = scheme === Scheme.absmax ? 'absmax' : 'zero-point';
  return {
    id: `quantize-${name.replace('-', '')}-${g.suffix}`,
    label: `int8 quantize ${name} ${g.label}`,
    prepare(src) {
      const { outer, channels, inner } = layoutOf(g, src.length);
      const values = new Int8Array(src.length);
      const scales = new Float32Array(channels);
      const zeroPoints = scheme === Scheme.zeroPoint ? new Int32Array(channels) : null;
      return {
        bytes: src.length * (F32 + I8) + channels * (F32 + (zeroPoints ? I32 : 0)),
        run: (device) => native.linearQuantize(src, values, outer, channels, inner, scheme, false, scales, zeroPoints, deviceCode(device), false),
      };
    },
  };
}

function absmaxDequantize(g: Grouping): BenchOp {
  return {
    id: `dequantize-absmax-${g.suffix}`,
    label: `int8 dequantize absmax ${g.label}`,
    prepare(src) {
      const q = quantizeAbsmaxSync(src, g.options(src.length));
      const scales = q.scales ?? Float32Array.of(q.scale!);
      const { outer, channels, inner } = layoutOf(g, src.length);
      const out = new Float32Array(src.length);
      return {
        bytes: src.length * (I8 + F32) + channels * F32,
        run: (device) => native.linearDequantize(q.values, out, outer, channels, inner, scales, null, deviceCode(device), false),
      };
    },
  };
}

export const linearOps: readonly BenchOp[] = [
  quantize(Scheme.absmax, perTensor),
  quantize(Scheme.absmax, perChannel),
  quantize(Scheme.absmax, perBlock(64)),
  quantize(Scheme.absmax, perBlock(128)),
  quantize(Scheme.zeroPoint, perTensor),
  absmaxDequantize(perBlock(64)),
];
