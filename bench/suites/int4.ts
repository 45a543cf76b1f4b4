// int4 GEMV at real layer shapes (n×k = 4096×4096, 11008×4096, 4096×11008; 4-bit, group 128, asym, v1
// zeros): time per call and weight bytes read per second at one pool thread and all of them, against the
// copy bandwidth measured in the same run, the scalar reference, and the anchor, ggml's Q4_0×Q8_0
// GEMV on this machine kind (≈ 720 µs for 4096×4096 on one thread, ≈ 13 GB/s of weights). Rows: m = 1
// with int8 activations (the default path), m = 1 with f32 activations, m = 8; the scalar reference at m = 1.
// Where a GPU answers, CUDA rows too (m = 1, 16, 64, 256; compiled in CI, not yet verified on a GPU): time per
// call as a caller sees it (x up, y down, three synchronizations included) and device weight bytes per second
// against a device-to-device copy measured in the same run.
// Beside them, at 4096×4096, the other 4-bit weights int4Matmul takes: ggml Q4_0 (int4TensorsFromQ4_0, the GPTQ
// kernels), bnb NF4 (blocksize 64, double-quantized absmax; f32 activations through the 16-entry table) and
// ggml Q4_K (int8 activations by default, float32 too), against the Q4_K anchor: ggml's Q4_K × Q8_K
// GEMV on this machine kind, ≈ 530 µs for 4096×4096 on one thread.
// The weights are read from wherever they sit between calls: a layer that fits the last-level cache stays
// there, as it does in ggml's own benchmark.
import { native } from '../../lib/binding.js';
import {
  backend,
  int4MatmulSync,
  int4TensorsFromQ4_0,
  prepareInt4WeightsSync,
  prepareNF4WeightsSync,
  prepareQ4KWeightsSync,
  quantize4bitSync,
  quantizeGGMLSync,
  setSimd,
  setThreads,
  type Int4Activations,
  type Int4Weights,
} from '../../lib/index.js';
import { renderTable, type Column } from '../../lib/cli/table.js';
import { formatBytes, formatDuration, formatFixed } from '../../lib/cli/units.js';
import type { Bandwidth } from '../bandwidth.js';
import { randomFloats } from '../random.js';
import { timeCall, type TimingPlan } from '../timing.js';

export const INT4_ANCHOR = { what: "ggml Q4_0 x Q8_0 GEMV, one thread, this machine kind", n: 4096, k: 4096, microseconds: 720, weightGBps: 13 };
export const Q4_K_ANCHOR = { what: 'ggml Q4_K x Q8_K GEMV, one thread, this machine kind', n: 4096, k: 4096, microseconds: 530 };
const FORMAT_SHAPE = [4096, 4096] as const;

const GROUP_SIZE = 128;
const FULL_SHAPES: readonly [number, number][] = [
  [4096, 4096],
  [11008, 4096],
  [4096, 11008],
];
const QUICK_SHAPES: readonly [number, number][] = [[4096, 4096]];
const CUDA_MS = [1, 16, 64, 256] as const;
const CUDA_COPY_BYTES = 256 * 1024 ** 2;

export interface Int4BenchRow {
  /** The weight int4Matmul ran on: GPTQ tensors, ggml Q4_0 through them, bnb NF4, or ggml Q4_K. */
  weights: 'gptq' | 'q4_0' | 'nf4' | 'q4_k';
  n: number;
  k: number;
  m: number;
  /** Pool threads (0 for CUDA rows). */
  threads: number;
  /** 'float16' on the CUDA tensor-core path (m > 4). */
  activations: Int4Activations | 'float16';
  /** SIMD level the kernel ran at ('scalar' = the reference), or 'cuda'. */
  variant: string;
  microseconds: number;
  /** Prepared weight bytes (nibbles, f16 scales, u8 zeros) / time per call. */
  weightGBps: number;
  /** weightGBps / the copy bandwidth (bytes read + written) measured in the same run (on the GPU for CUDA rows). */
  ratioToBandwidth: number;
  /** Time of the scalar reference (same shape, m, threads) / this time, where it ran. */
  speedupVsScalar?: number;
  /** The anchor's time / this time (4096×4096, m = 1, one thread; GPTQ int8 vs INT4_ANCHOR, Q4_K vs Q4_K_ANCHOR). */
  speedupVsAnchor?: number;
}

export interface Int4BenchResult {
  groupSize: number;
  anchor: typeof INT4_ANCHOR;
  q4kAnchor: typeof Q4_K_ANCHOR;
  /** Device-to-device copy GB/s (read + written), where a GPU answered. */
  cudaCopyGBps?: number;
  rows: Int4BenchRow[];
}

// Random asymmetric GPTQ tensors: codes, zero points and scales do not change the work.
function layer(n: number, k: number, device: 'cpu' | 'cuda'): Int4Weights {
  const groups = k / GROUP_SIZE;
  let s = 0x9e3779b9;
  const word = () => (s = (Math.imul(s, 1664525) + 1013904223) | 0);
  const qweight = Int32Array.from({ length: (k / 8) * n }, word);
  const qzeros = Int32Array.from({ length: groups * (n / 8) }, word);
  const scales = Uint16Array.from({ length: groups * n }, (_, i) => 0x1c00 + (i % 1024));
  return prepareInt4WeightsSync({ qweight, qzeros, scales, bits: 4, groupSize: GROUP_SIZE, format: 'gptq', n, k }, { device });
}

export function runInt4Bench(quick: boolean, timing: TimingPlan, bandwidth: Bandwidth, onStep: (label: string) => void = () => {}): Int4BenchResult {
  const info = backend();
  const threadCounts = [...new Set([1, info.threadsMax])];
  const rows: Int4BenchRow[] = [];
  const cudaCopyGBps = info.cuda.available ? native.int4CudaCopyBandwidth(CUDA_COPY_BYTES) : undefined;
  try {
    for (const [n, k] of quick ? QUICK_SHAPES : FULL_SHAPES) {
      const w = layer(n, k, 'cpu');
      const x = randomFloats(8 * k);
      const out = new Float32Array(8 * n);
      const measure = (m: number, threads: number, activations: Int4Activations, variant: string) => {
        onStep(`int4 gemv ${n}x${k} m=${m} ${activations} ${variant}, ${threads} thread(s)`);
        setSimd(variant as 'scalar' | 'avx2' | 'avx512');
        const xm = x.subarray(0, m * k);
        const ym = out.subarray(0, m * n);
        const { msPerCall } = timeCall(() => void int4MatmulSync(xm, m, w, { activations, out: ym }), timing);
        const weightGBps = w.bytes / (msPerCall * 1e6);
        const row: Int4BenchRow = { weights: 'gptq', n, k, m, threads, activations, variant, microseconds: msPerCall * 1e3, weightGBps, ratioToBandwidth: weightGBps / bandwidth.GBps };
        rows.push(row);
        return row;
      };
      for (const threads of threadCounts) {
        setThreads(threads);
        const scalar = measure(1, threads, 'int8', 'scalar');
        const best = measure(1, threads, 'int8', info.simdBest);
        best.speedupVsScalar = scalar.microseconds / best.microseconds;
        if (threads === 1 && n === INT4_ANCHOR.n && k === INT4_ANCHOR.k) best.speedupVsAnchor = INT4_ANCHOR.microseconds / best.microseconds;
        measure(1, threads, 'float32', info.simdBest);
        measure(8, threads, 'int8', info.simdBest);
      }
      w.dispose();
      if (cudaCopyGBps !== undefined) measureCuda(n, k, timing, cudaCopyGBps, rows, onStep);
    }
    measureFormats(threadCounts, info.simdBest, timing, bandwidth, rows, onStep);
  } finally {
    setThreads(info.threads);
    setSimd(info.simd);
  }
  return { groupSize: GROUP_SIZE, anchor: INT4_ANCHOR, q4kAnchor: Q4_K_ANCHOR, ...(cudaCopyGBps === undefined ? {} : { cudaCopyGBps }), rows };
}

function measureCuda(n: number, k: number, timing: TimingPlan, copyGBps: number, rows: Int4BenchRow[], onStep: (label: string) => void) {
  const w = layer(n, k, 'cuda');
  const maxM = CUDA_MS[CUDA_MS.length - 1]!;
  const x = randomFloats(maxM * k);
  const out = new Float32Array(maxM * n);
  try {
    for (const m of CUDA_MS) {
      onStep(`int4 ${n}x${k} m=${m} cuda`);
      const xm = x.subarray(0, m * k);
      const ym = out.subarray(0, m * n);
      const { msPerCall } = timeCall(() => void int4MatmulSync(xm, m, w, { out: ym }), timing);
      const weightGBps = w.bytes / (msPerCall * 1e6);
      const activations = m <= 4 ? 'float32' : 'float16';
      rows.push({ weights: 'gptq', n, k, m, threads: 0, activations, variant: 'cuda', microseconds: msPerCall * 1e3, weightGBps, ratioToBandwidth: weightGBps / copyGBps });
    }
  } finally {
    w.dispose();
  }
}

// Q4_0, NF4 and Q4_K weights quantized from one random f32 weight, at the best SIMD level.
function measureFormats(threadCounts: number[], variant: string, timing: TimingPlan, bandwidth: Bandwidth, rows: Int4BenchRow[], onStep: (label: string) => void) {
  const [n, k] = FORMAT_SHAPE;
  onStep(`int4 ${n}x${k}: quantizing Q4_0, NF4 and Q4_K weights`);
  const src = randomFloats(n * k).map((v) => v / 200);
  const formats: [Int4BenchRow['weights'], Int4Weights, Int4Activations[]][] = [
    ['q4_0', prepareInt4WeightsSync(int4TensorsFromQ4_0(quantizeGGMLSync('q4_0', src), n, k)), ['int8']],
    ['nf4', prepareNF4WeightsSync(quantize4bitSync(src, { quantType: 'nf4', blockSize: 64, compressStatistics: true }), { shape: [n, k] }), ['float32']],
    ['q4_k', prepareQ4KWeightsSync(quantizeGGMLSync('q4_k', src), n, k), ['int8', 'float32']],
  ];
  const x = randomFloats(8 * k);
  const out = new Float32Array(8 * n);
  setSimd(variant as 'scalar' | 'avx2' | 'avx512');
  try {
    for (const [weights, w, paths] of formats) {
      for (const threads of threadCounts) {
        setThreads(threads);
        for (const [m, activations] of [...paths.map((a) => [1, a] as const), [8, paths[0]!] as const]) {
          onStep(`int4 ${weights} gemv ${n}x${k} m=${m} ${activations}, ${threads} thread(s)`);
          const xm = x.subarray(0, m * k);
          const ym = out.subarray(0, m * n);
          const { msPerCall } = timeCall(() => void int4MatmulSync(xm, m, w, { activations, out: ym }), timing);
          const weightGBps = w.bytes / (msPerCall * 1e6);
          const row: Int4BenchRow = { weights, n, k, m, threads, activations, variant, microseconds: msPerCall * 1e3, weightGBps, ratioToBandwidth: weightGBps / bandwidth.GBps };
          if (weights === 'q4_k' && activations === 'int8' && threads === 1 && m === 1) row.speedupVsAnchor = Q4_K_ANCHOR.microseconds / row.microseconds;
          rows.push(row);
        }
      }
    }
  } finally {
    for (const [, w] of formats) w.dispose();
  }
}

const COLUMNS: readonly Column[] = [
  { header: 'weights', align: 'left' },
  { header: 'n x k', align: 'left' },
  { header: 'm', align: 'right' },
  { header: 'threads', align: 'right' },
  { header: 'x', align: 'left' },
  { header: 'variant', align: 'left' },
  { header: 'time/call', align: 'right' },
  { header: 'weight GB/s', align: 'right' },
  { header: 'x copy bw', align: 'right' },
  { header: 'vs scalar', align: 'right' },
  { header: 'vs ggml', align: 'right' },
];

export function formatInt4Table(result: Int4BenchResult, bandwidth: Bandwidth): string {
  const body = result.rows.map((r) => [
    r.weights,
    `${r.n}x${r.k}`,
    String(r.m),
    r.variant === 'cuda' ? '-' : String(r.threads),
    r.activations,
    r.variant,
    formatDuration(r.microseconds / 1e3),
    formatFixed(r.weightGBps),
    formatFixed(r.ratioToBandwidth),
    r.speedupVsScalar === undefined ? '' : `${formatFixed(r.speedupVsScalar)}x`,
    r.speedupVsAnchor === undefined ? '' : `${formatFixed(r.speedupVsAnchor)}x`,
  ]);
  const a = result.anchor;
  return [
    '',
    `int4 GEMV (int4Matmul on a prepared GPTQ weight, 4-bit, group ${result.groupSize}, asym; ggml Q4_0, bnb NF4 (block 64, nested absmax) and ggml Q4_K at 4096x4096), output f32`,
    '',
    renderTable(COLUMNS, body),
    `weight GB/s: prepared weight bytes (nibbles plus GPTQ f16 scales and u8 zeros / NF4 f32 absmax / Q4_K f32 d, dmin and u8 sub-block scales, mins) / time per call; x copy bw: that / ${formatFixed(bandwidth.GBps)} GB/s copy (${formatBytes(bandwidth.bufferBytes)} buffers).`,
    "x: 'int8' quantizes activations per block of 32 (the default); 'float32' dequantizes weights against f32 activations.",
    ...(result.cudaCopyGBps === undefined
      ? []
      : [
          `cuda (compiled, not yet verified on a GPU): f32 GEMV for m <= 4, f16 tensor cores beyond; time per call includes x up and y down; x copy bw: weight GB/s / ${formatFixed(result.cudaCopyGBps)} GB/s device-to-device copy.`,
        ]),
    `vs ggml: ${a.what}: ${a.microseconds} us for ${a.n}x${a.k} (about ${a.weightGBps} GB/s of weights) / this time; q4_k rows: ${result.q4kAnchor.what}: ${result.q4kAnchor.microseconds} us / this time.`,
  ].join('\n') + '\n';
}
