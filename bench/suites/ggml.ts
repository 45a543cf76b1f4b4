// ggml block types: quantize_row_<type>_ref and dequantize_row_<type> through the native driver, per type, on
// one thread ("1 thread") and on all of kquant's threads. Bytes are the f32 values plus the blocks, read or
// written once each; outputs are allocated once (see suites/linear.ts). The anchor is ggml's own Q4_K code on
// this machine kind, per thread: quantize_row_q4_K_ref at about 0.06 GB/s of f32 input, dequantize_row_q4_K
// at about 7.6 GB/s of f32 output (the table's GB/s also counts the blocks: divide it by 4.5625 / 4 for Q4_K).
import { DeviceCode, native } from '../../lib/binding.js';
import { backend, GGML_QUANT_TYPES, ggmlTypeInfo, type GGMLQuantType } from '../../lib/index.js';
import type { BenchDevice, BenchOp } from '../op.js';

const F32 = 4;
// The types the CUDA driver quantizes (native/ops/ggml/cuda.cu); it dequantizes every type.
const CUDA_QUANTIZED: readonly GGMLQuantType[] = ['q4_0', 'q8_0', 'q4_k', 'q6_k'];
// Thread counts: 1, and 0 for all of the pool.
const THREADS = [1, 0] as const;

// The suite sizes are multiples of 128; types with blocks of 256 take the largest multiple of 256.
const blockInput = (src: Float32Array, blockSize: number) => src.subarray(0, src.length - (src.length % blockSize));

// Runs calls with the pool limited to `threads` (0: all), restoring the limit found when the op was prepared.
// native.setThreads is an atomic store, cheap beside even the smallest call.
function poolLimit(threads: number): (call: () => void) => void {
  const { threads: before, threadsMax } = backend();
  const limit = threads === 0 ? threadsMax : threads;
  return (call) => {
    native.setThreads(limit);
    try {
      call();
    } finally {
      native.setThreads(before);
    }
  };
}

const suffix = (threads: number) => (threads === 1 ? '-t1' : '');
const threadLabel = (threads: number) => (threads === 1 ? '1 thread' : 'all threads');

function quantize(type: GGMLQuantType, threads: number): BenchOp {
  const info = ggmlTypeInfo(type);
  // A type without a CUDA quantizer runs its 'cuda' row on the CPU, as quantizeGGML's device 'auto' would.
  const onCuda = CUDA_QUANTIZED.includes(type);
  return {
    id: `ggml-quantize-${type}${suffix(threads)}`,
    label: `ggml ${type} quantize, ${threadLabel(threads)}${onCuda ? '' : ' (cuda row: CPU)'}`,
    prepare(src) {
      const x = blockInput(src, info.blockSize);
      const blocks = new Uint8Array((x.length / info.blockSize) * info.bytesPerBlock);
      const limited = poolLimit(threads);
      return {
        bytes: x.length * F32 + blocks.length,
        run: (device: BenchDevice) => {
          const code = device === 'cuda' && onCuda ? DeviceCode.cuda : DeviceCode.cpu;
          limited(() => native.ggmlQuantize(info.id, x, blocks, code, false));
        },
      };
    },
  };
}

function dequantize(type: GGMLQuantType, threads: number): BenchOp {
  const info = ggmlTypeInfo(type);
  return {
    id: `ggml-dequantize-${type}${suffix(threads)}`,
    label: `ggml ${type} dequantize, ${threadLabel(threads)}`,
    prepare(src) {
      const x = blockInput(src, info.blockSize);
      const blocks = new Uint8Array((x.length / info.blockSize) * info.bytesPerBlock);
      native.ggmlQuantize(info.id, x, blocks, DeviceCode.cpu, false);
      const out = new Float32Array(x.length);
      const limited = poolLimit(threads);
      return {
        bytes: blocks.length + out.length * F32,
        run: (device: BenchDevice) => {
          const code = device === 'cuda' ? DeviceCode.cuda : DeviceCode.cpu;
          limited(() => native.ggmlDequantize(info.id, blocks, out, code, false));
        },
      };
    },
  };
}

export const ggmlOps: readonly BenchOp[] = GGML_QUANT_TYPES.flatMap((type) =>
  THREADS.flatMap((threads) => [quantize(type, threads), dequantize(type, threads)]),
);
