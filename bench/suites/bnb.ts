// bitsandbytes blockwise kernels (NF4 / FP4 4-bit, 8-bit with the signed dynamic map) through the native
// binding, outputs allocated once (see suites/linear.ts for why). Block sizes are bnb's defaults: 64 for
// 4-bit, 4096 for quantize_blockwise; a last partial block is allowed, so every suite size works.
import { DeviceCode, native, Quant4 } from '../../lib/binding.js';
import type { BenchDevice, BenchOp } from '../op.js';

const F32 = 4;
const U8 = 1;

const deviceCode = (device: BenchDevice) => (device === 'cuda' ? DeviceCode.cuda : DeviceCode.cpu);
const blockCount = (n: number, blocksize: number) => Math.ceil(n / blocksize);
const typeName = (type: Quant4) => (type === Quant4.nf4 ? 'nf4' : 'fp4');

function quantize4(type: Quant4, blocksize: number): BenchOp {
  return {
    id: `bnb-quantize-${typeName(type)}-block${blocksize}`,
    label: `bnb ${typeName(type).toUpperCase()} quantize block ${blocksize}`,
    prepare(src) {
      const packed = new Uint8Array((src.length + 1) >> 1);
      const absmax = new Float32Array(blockCount(src.length, blocksize));
      return {
        bytes: src.length * F32 + packed.length * U8 + absmax.length * F32,
        run: (device) => native.bnbQuantize4bit(src, blocksize, type, packed, absmax, deviceCode(device), false),
      };
    },
  };
}

function dequantize4(type: Quant4, blocksize: number): BenchOp {
  return {
    id: `bnb-dequantize-${typeName(type)}-block${blocksize}`,
    label: `bnb ${typeName(type).toUpperCase()} dequantize block ${blocksize}`,
    prepare(src) {
      const packed = new Uint8Array((src.length + 1) >> 1);
      const absmax = new Float32Array(blockCount(src.length, blocksize));
      native.bnbQuantize4bit(src, blocksize, type, packed, absmax, DeviceCode.cpu, false);
      const out = new Float32Array(src.length);
      return {
        bytes: packed.length * U8 + absmax.length * F32 + out.length * F32,
        run: (device) => native.bnbDequantize4bit(packed, src.length, blocksize, type, absmax, out, deviceCode(device), false),
      };
    },
  };
}

function quantize8(blocksize: number): BenchOp {
  return {
    id: `bnb-quantize-8bit-block${blocksize}`,
    label: `bnb 8-bit dynamic quantize block ${blocksize}`,
    prepare(src) {
      const code = native.bnbDynamicMap();
      const codes = new Uint8Array(src.length);
      const absmax = new Float32Array(blockCount(src.length, blocksize));
      return {
        bytes: src.length * (F32 + U8) + absmax.length * F32,
        run: (device) => native.bnbQuantize8bit(src, blocksize, code, codes, absmax, deviceCode(device), false),
      };
    },
  };
}

function dequantize8(blocksize: number): BenchOp {
  return {
    id: `bnb-dequantize-8bit-block${blocksize}`,
    label: `bnb 8-bit dynamic dequantize block ${blocksize}`,
    prepare(src) {
      const code = native.bnbDynamicMap();
      const codes = new Uint8Array(src.length);
      const absmax = new Float32Array(blockCount(src.length, blocksize));
      native.bnbQuantize8bit(src, blocksize, code, codes, absmax, DeviceCode.cpu, false);
      const out = new Float32Array(src.length);
      return {
        bytes: src.length * (U8 + F32) + absmax.length * F32,
        run: (device) => native.bnbDequantize8bit(codes, blocksize, code, absmax, out, deviceCode(device), false),
      };
    },
  };
}

export const bnbOps: readonly BenchOp[] = [
  quantize4(Quant4.nf4, 64),
  dequantize4(Quant4.nf4, 64),
  quantize4(Quant4.fp4, 64),
  dequantize4(Quant4.fp4, 64),
  quantize8(4096),
  dequantize8(4096),
];
