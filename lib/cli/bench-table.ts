// The bench results as a table, with the ceiling stated above it and what the columns mean below.
import type { BenchOp } from '../../bench/op.js';
import type { BenchReport, BenchResult } from '../../bench/report.js';
import { renderTable, type Column } from './table.js';
import { formatBytes, formatCount, formatDuration, formatFixed } from './units.js';

const COLUMNS: readonly Column[] = [
  { header: 'op', align: 'left' },
  { header: 'variant', align: 'left' },
  { header: 'elements', align: 'right' },
  { header: 'bytes r+w', align: 'right' },
  { header: 'time/call', align: 'right' },
  { header: 'GB/s', align: 'right' },
  { header: 'x copy bw', align: 'right' },
  { header: 'vs scalar', align: 'right' },
  { header: 'GOP/s', align: 'right' },
];

function header(report: BenchReport): string[] {
  const { machine, bandwidth } = report;
  const llc = bandwidth.lastLevelCacheBytes;
  const lines = [
    `kquant ${report.kquant} bench, ${report.date}`,
    `machine: ${machine.cpu}, ${machine.cores} logical cores, best SIMD ${machine.simdBest}, kquant pool ${machine.threads} threads`,
    `ceiling: ${bandwidth.method}: ${formatFixed(bandwidth.GBps)} GB/s`,
    `         (two ${formatBytes(bandwidth.bufferBytes)} buffers; last-level cache ${llc === null ? 'unknown' : formatBytes(llc)})`,
  ];
  if (llc !== null && bandwidth.bufferBytes < 4 * llc) {
    lines.push('         the buffers are smaller than 4x the last-level cache, so the copy may partly run from cache');
  }
  return lines;
}

function footer(report: BenchReport): string[] {
  const lines = [
    'time/call: median over repetitions of the native kernel call (synchronous, outputs allocated once beforehand);',
    '  the int8 matmul ops time the public Sync call, whose small [m, n] output is allocated per call.',
    'GB/s: (bytes read + bytes written, codes and scales included, each counted once) / time per call; 1 GB = 1e9 bytes.',
    `x copy bw: GB/s / the copy bandwidth above, measured on the same ${report.machine.threads} pool threads the CPU ops use;`,
    '  1.0 means the op moves its bytes as fast as memcpy does (a ratio above 1 can happen where data stays in cache).',
    'vs scalar: time of the scalar variant of the same op and size / this time.',
    'GOP/s: for compute-bound ops, arithmetic operations (a multiply-add counts as two) / time per call / 1e9.',
    'per-channel inputs are [rows, cols] with cols = the largest power of two up to 4096 dividing the size.',
  ];
  if (report.results.some((r) => r.variant === 'cuda')) {
    lines.push('cuda: times include copying the input host -> device and the output device -> host on every call.');
  }
  return lines;
}

function row(r: BenchResult, label: string): string[] {
  return [
    label,
    r.variant,
    formatCount(r.elements),
    formatBytes(r.bytes),
    formatDuration(r.msPerCall),
    formatFixed(r.GBps),
    formatFixed(r.ratioToBandwidth),
    formatFixed(r.speedupVsScalar),
    r.GOPS === undefined ? '' : formatFixed(r.GOPS),
  ];
}

// The op's label appears on its first row only, and a blank line separates ops.
export function formatBenchTable(report: BenchReport, ops: readonly BenchOp[]): string {
  const rows: (string[] | null)[] = [];
  let previousOp: string | undefined;
  for (const r of report.results) {
    const first = r.op !== previousOp;
    if (first && previousOp !== undefined) rows.push(null);
    rows.push(row(r, first ? (ops.find((op) => op.id === r.op)?.label ?? r.op) : ''));
    previousOp = r.op;
  }
  return [...header(report), '', renderTable(COLUMNS, rows), ...footer(report)].join('\n') + '\n';
}
