// Ternary GEMV (BitNet b1.58 trits as plus/minus bit planes, 2 bits per weight, int8 per-token activations) at
// real layer shapes (n×k = 4096×4096, 11008×4096), beside the int4 GEMV (GPTQ 4-bit, group 128, int8
// activations) on the same shapes, m and thread count: time per call and weight bytes read per second against
// the copy bandwidth measured in the same run. One pool thread and all of them; m = 1 (the GEMV), 8 and 16;
// the scalar reference at m = 1. Where a GPU answers, CUDA rows (m = 1, 16; compiled, not yet verified on a
// GPU; time as a caller sees it: x quantized on the host, up, y down) against a device-to-device copy.
// Weights are read from wherever they sit between calls (a 4 MiB ternary layer may stay in the last-level cache).
import { native } from '../../lib/binding.js';
import {
  backend,
  int4MatmulSync,
  prepareInt4WeightsSync,
  prepareTernaryWeightsSync,
  setSimd,
  setThreads,
  ternaryMatmulSync,
  type TernaryWeights,
} from '../../lib/index.js';
import { renderTable, type Column } from '../../lib/cli/table.js';
import { formatBytes, formatDuration, formatFixed } from '../../lib/cli/units.js';
import type { Bandwidth } from '../bandwidth.js';
import { randomFloats } from '../random.js';
import { timeCall, type TimingPlan } from '../timing.js';

const FULL_SHAPES: readonly [number, number][] = [
  [4096, 4096],
  [11008, 4096],
];
const QUICK_SHAPES: readonly [number, number][] = [[4096, 4096]];
const CPU_MS = [1, 8, 16] as const;
const CUDA_MS = [1, 16] as const;
const INT4_GROUP = 128;
const CUDA_COPY_BYTES = 256 * 1024 ** 2;

export interface TernaryBenchRow {
  n: number;
  k: number;
  m: number;
  /** Pool threads (0 for CUDA rows). */
  threads: number;
  kernel: 'ternary' | 'int4';
  /** SIMD level ('scalar' = the reference), or 'cuda'. */
  variant: string;
  microseconds: number;
  /** Prepared weight bytes (ternary: bit planes + f32 row scales; int4: nibbles, f16 scales, u8 zeros). */
  weightBytes: number;
  weightGBps: number;
  /** weightGBps / the copy bandwidth (bytes read + written) measured in the same run (on the GPU for CUDA rows). */
  ratioToBandwidth: number;
  /** Ternary rows: the int4 GEMV's time at the same shape, m, threads and variant / this time. */
  speedupVsInt4?: number;
}

export interface TernaryBenchResult {
  cudaCopyGBps?: number;
  rows: TernaryBenchRow[];
}

function ternaryLayer(n: number, k: number, device: 'cpu' | 'cuda'): TernaryWeights {
  let s = 0x2545f491;
  const trits = Int8Array.from({ length: n * k }, () => ((s = (Math.imul(s, 1664525) + 1013904223) | 0) >>> 30) % 3 - 1);
  return prepareTernaryWeightsSync({ trits, scales: Float32Array.of(0.02), shape: [n, k], granularity: 'per-tensor', scheme: 'ternary' }, { device });
}

// Random asymmetric GPTQ tensors, as bench/suites/int4.ts builds them: the codes do not change the work.
function int4Layer(n: number, k: number) {
  const groups = k / INT4_GROUP;
  let s = 0x9e3779b9;
  const word = () => (s = (Math.imul(s, 1664525) + 1013904223) | 0);
  const qweight = Int32Array.from({ length: (k / 8) * n }, word);
  const qzeros = Int32Array.from({ length: groups * (n / 8) }, word);
  const scales = Uint16Array.from({ length: groups * n }, (_, i) => 0x1c00 + (i % 1024));
  return prepareInt4WeightsSync({ qweight, qzeros, scales, bits: 4, groupSize: INT4_GROUP, format: 'gptq', n, k });
}

export function runTernaryBench(quick: boolean, timing: TimingPlan, bandwidth: Bandwidth, onStep: (label: string) => void = () => {}): TernaryBenchResult {
  const info = backend();
  const threadCounts = [...new Set([1, info.threadsMax])];
  const rows: TernaryBenchRow[] = [];
  const cudaCopyGBps = info.cuda.available ? native.int4CudaCopyBandwidth(CUDA_COPY_BYTES) : undefined;
  try {
    for (const [n, k] of quick ? QUICK_SHAPES : FULL_SHAPES) {
      const ternary = ternaryLayer(n, k, 'cpu');
      const int4 = int4Layer(n, k);
      const x = randomFloats(16 * k);
      const out = new Float32Array(16 * n);
      const measure = (kernel: TernaryBenchRow['kernel'], m: number, threads: number, variant: string) => {
        onStep(`${kernel} gemv ${n}x${k} m=${m} ${variant}, ${threads} thread(s)`);
        setSimd(variant as 'scalar' | 'avx2' | 'avx512');
        const xm = x.subarray(0, m * k);
        const ym = out.subarray(0, m * n);
        const call = kernel === 'ternary' ? () => void ternaryMatmulSync(xm, m, ternary, { out: ym }) : () => void int4MatmulSync(xm, m, int4, { out: ym });
        const { msPerCall } = timeCall(call, timing);
        const weightBytes = kernel === 'ternary' ? ternary.bytes : int4.bytes;
        const weightGBps = weightBytes / (msPerCall * 1e6);
        const row: TernaryBenchRow = { n, k, m, threads, kernel, variant, microseconds: msPerCall * 1e3, weightBytes, weightGBps, ratioToBandwidth: weightGBps / bandwidth.GBps };
        rows.push(row);
        return row;
      };
      for (const threads of threadCounts) {
        setThreads(threads);
        if (threads === 1) measure('ternary', 1, threads, 'scalar');
        for (const m of quick ? [1, 16] : CPU_MS) {
          const t = measure('ternary', m, threads, info.simdBest);
          const i = measure('int4', m, threads, info.simdBest);
          t.speedupVsInt4 = i.microseconds / t.microseconds;
        }
      }
      ternary.dispose();
      int4.dispose();
      if (cudaCopyGBps !== undefined) measureCuda(n, k, timing, cudaCopyGBps, rows, onStep);
    }
  } finally {
    setThreads(info.threads);
    setSimd(info.simd);
  }
  return { ...(cudaCopyGBps === undefined ? {} : { cudaCopyGBps }), rows };
}

function measureCuda(n: number, k: number, timing: TimingPlan, copyGBps: number, rows: TernaryBenchRow[], onStep: (label: string) => void) {
  const w = ternaryLayer(n, k, 'cuda');
  const x = randomFloats(16 * k);
  const out = new Float32Array(16 * n);
  try {
    for (const m of CUDA_MS) {
      onStep(`ternary ${n}x${k} m=${m} cuda`);
      const xm = x.subarray(0, m * k);
      const ym = out.subarray(0, m * n);
      const { msPerCall } = timeCall(() => void ternaryMatmulSync(xm, m, w, { out: ym }), timing);
      const weightGBps = w.bytes / (msPerCall * 1e6);
      rows.push({ n, k, m, threads: 0, kernel: 'ternary', variant: 'cuda', microseconds: msPerCall * 1e3, weightBytes: w.bytes, weightGBps, ratioToBandwidth: weightGBps / copyGBps });
    }
  } finally {
    w.dispose();
  }
}

const COLUMNS: readonly Column[] = [
  { header: 'n x k', align: 'left' },
  { header: 'm', align: 'right' },
  { header: 'threads', align: 'right' },
  { header: 'kernel', align: 'left' },
  { header: 'variant', align: 'left' },
  { header: 'time/call', align: 'right' },
  { header: 'weights', align: 'right' },
  { header: 'weight GB/s', align: 'right' },
  { header: 'x copy bw', align: 'right' },
  { header: 'vs int4', align: 'right' },
];

export function formatTernaryTable(result: TernaryBenchResult, bandwidth: Bandwidth): string {
  const body = result.rows.map((r) => [
    `${r.n}x${r.k}`,
    String(r.m),
    r.variant === 'cuda' ? '-' : String(r.threads),
    r.kernel,
    r.variant,
    formatDuration(r.microseconds / 1e3),
    formatBytes(r.weightBytes),
    formatFixed(r.weightGBps),
    formatFixed(r.ratioToBandwidth),
    r.speedupVsInt4 === undefined ? '' : `${formatFixed(r.speedupVsInt4)}x`,
  ]);
  return [
    '',
    'ternary GEMV (ternaryMatmul: BitNet b1.58 trits as plus/minus bit planes, x int8 per token) beside int4 (GPTQ 4-bit, group 128, x int8 per block of 32), output f32',
    '',
    renderTable(COLUMNS, body),
    `weight GB/s: prepared weight bytes / time per call; x copy bw: that / ${formatFixed(bandwidth.GBps)} GB/s copy (${formatBytes(bandwidth.bufferBytes)} buffers); vs int4: int4 time / ternary time, same shape, m, threads.`,
    ...(result.cudaCopyGBps === undefined ? [] : [`cuda (compiled, not yet verified on a GPU): x copy bw against ${formatFixed(result.cudaCopyGBps)} GB/s device-to-device copy.`]),
  ].join('\n') + '\n';
}
