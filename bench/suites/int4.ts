// int4 GEMV at real layer shapes (n×k = 4096×4096, 11008×4096, 4096×11008; 4-bit, group 128, asym, v1
// zeros): time per call and weight bytes read per second at one pool thread and all of them, against the
// copy bandwidth measured in the same run, the scalar reference, and the anchor, ggml's Q4_0×Q8_0
// GEMV on this machine kind (≈ 720 µs for 4096×4096 on one thread, ≈ 13 GB/s of weights). Rows: m = 1
// with int8 activations (the default path), m = 1 with f32 activations, m = 8; the scalar reference at m = 1.
// The weights are read from wherever they sit between calls: a layer that fits the last-level cache stays
// there, as it does in ggml's own benchmark.
import { backend, int4MatmulSync, prepareInt4WeightsSync, setSimd, setThreads, type Int4Activations, type Int4Weights } from '../../lib/index.js';
import { renderTable, type Column } from '../../lib/cli/table.js';
import { formatBytes, formatDuration, formatFixed } from '../../lib/cli/units.js';
import type { Bandwidth } from '../bandwidth.js';
import { randomFloats } from '../random.js';
import { timeCall, type TimingPlan } from '../timing.js';

export const INT4_ANCHOR = { what: "ggml Q4_0 x Q8_0 GEMV, one thread, this machine kind", n: 4096, k: 4096, microseconds: 720, weightGBps: 13 };

const GROUP_SIZE = 128;
const FULL_SHAPES: readonly [number, number][] = [
  [4096, 4096],
  [11008, 4096],
  [4096, 11008],
];
const QUICK_SHAPES: readonly [number, number][] = [[4096, 4096]];

export interface Int4BenchRow {
  n: number;
  k: number;
  m: number;
  threads: number;
  activations: Int4Activations;
  /** SIMD level the kernel ran at ('scalar' = the reference). */
  variant: string;
  microseconds: number;
  /** Prepared weight bytes (nibbles, f16 scales, u8 zeros) / time per call. */
  weightGBps: number;
  /** weightGBps / the copy bandwidth (bytes read + written) measured in the same run. */
  ratioToBandwidth: number;
  /** Time of the scalar reference (same shape, m, threads) / this time, where it ran. */
  speedupVsScalar?: number;
  /** The anchor's time / this time (4096×4096, m = 1, int8 activations). */
  speedupVsAnchor?: number;
}

export interface Int4BenchResult {
  groupSize: number;
  anchor: typeof INT4_ANCHOR;
  rows: Int4BenchRow[];
}

// Random asymmetric GPTQ tensors: codes, zero points and scales do not change the work.
function layer(n: number, k: number): Int4Weights {
  const groups = k / GROUP_SIZE;
  let s = 0x9e3779b9;
  const word = () => (s = (Math.imul(s, 1664525) + 1013904223) | 0);
  const qweight = Int32Array.from({ length: (k / 8) * n }, word);
  const qzeros = Int32Array.from({ length: groups * (n / 8) }, word);
  const scales = Uint16Array.from({ length: groups * n }, (_, i) => 0x1c00 + (i % 1024));
  return prepareInt4WeightsSync({ qweight, qzeros, scales, bits: 4, groupSize: GROUP_SIZE, format: 'gptq', n, k }, { device: 'cpu' });
}

export function runInt4Bench(quick: boolean, timing: TimingPlan, bandwidth: Bandwidth, onStep: (label: string) => void = () => {}): Int4BenchResult {
  const info = backend();
  const threadCounts = [...new Set([1, info.threadsMax])];
  const rows: Int4BenchRow[] = [];
  try {
    for (const [n, k] of quick ? QUICK_SHAPES : FULL_SHAPES) {
      const w = layer(n, k);
      const x = randomFloats(8 * k);
      const out = new Float32Array(8 * n);
      const measure = (m: number, threads: number, activations: Int4Activations, variant: string) => {
        onStep(`int4 gemv ${n}x${k} m=${m} ${activations} ${variant}, ${threads} thread(s)`);
        setSimd(variant as 'scalar' | 'avx2' | 'avx512');
        const xm = x.subarray(0, m * k);
        const ym = out.subarray(0, m * n);
        const { msPerCall } = timeCall(() => void int4MatmulSync(xm, m, w, { activations, out: ym }), timing);
        const weightGBps = w.bytes / (msPerCall * 1e6);
        const row: Int4BenchRow = { n, k, m, threads, activations, variant, microseconds: msPerCall * 1e3, weightGBps, ratioToBandwidth: weightGBps / bandwidth.GBps };
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
    }
  } finally {
    setThreads(info.threads);
    setSimd(info.simd);
  }
  return { groupSize: GROUP_SIZE, anchor: INT4_ANCHOR, rows };
}

const COLUMNS: readonly Column[] = [
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
    `${r.n}x${r.k}`,
    String(r.m),
    String(r.threads),
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
    `int4 GEMV (int4Matmul on a prepared GPTQ weight, 4-bit, group ${result.groupSize}, asym), output f32`,
    '',
    renderTable(COLUMNS, body),
    `weight GB/s: prepared weight bytes (nibbles, f16 scales, u8 zeros) / time per call; x copy bw: that / ${formatFixed(bandwidth.GBps)} GB/s copy (${formatBytes(bandwidth.bufferBytes)} buffers).`,
    "x: 'int8' quantizes activations per block of 32 (the default); 'float32' dequantizes weights against f32 activations.",
    `vs ggml: ${a.what}: ${a.microseconds} us for ${a.n}x${a.k} (about ${a.weightGBps} GB/s of weights) / this time.`,
  ].join('\n') + '\n';
}
