// The GPTQ layer benchmark as a table, with the reference figures it is compared against.
import type { GPTQBenchResult } from '../../bench/gptq.js';
import { renderTable, type Column } from './table.js';
import { formatDuration, formatFixed } from './units.js';

const COLUMNS: readonly Column[] = [
  { header: 'threads', align: 'right' },
  { header: 'hessian', align: 'right' },
  { header: 'GB/s in', align: 'right' },
  { header: 'GFLOP/s', align: 'right' },
  { header: 'solve', align: 'right' },
  { header: '+ errors', align: 'right' },
  { header: 'vs ref hessian', align: 'right' },
  { header: 'vs ref solve', align: 'right' },
];

export function formatGPTQTable(result: GPTQBenchResult): string {
  const { rows, cols, tokens, config, reference } = result;
  const body = result.runs.map((r) => [
    String(r.threads),
    formatDuration(r.hessianSeconds * 1e3),
    formatFixed(r.hessianGBps),
    formatFixed(r.hessianGFLOPS),
    formatDuration(r.solveSeconds * 1e3),
    formatDuration(r.solveWithErrorsSeconds * 1e3),
    r.speedupVsReference ? `${formatFixed(r.speedupVsReference.hessian)}x` : '',
    r.speedupVsReference ? `${formatFixed(r.speedupVsReference.solve)}x` : '',
  ]);
  const peer = result.peer;
  const last = result.runs[result.runs.length - 1]!;
  const peerLine =
    'unavailable' in peer
      ? `peer (PyTorch formulation, bench/peers/gptq_torch.py): not run (${peer.unavailable})`
      : `peer ${peer.peer}, ${peer.threads} threads, same shape, this run: hessian ${formatDuration(peer.hessianSeconds * 1e3)}, ` +
        `solve ${formatDuration(peer.solveSeconds * 1e3)}; kquant at ${last.threads} threads is ` +
        `${formatFixed(peer.hessianSeconds / last.hessianSeconds)}x (hessian) and ${formatFixed(peer.solveSeconds / last.solveSeconds)}x (solve) as fast`;
  return [
    '',
    `GPTQ, one ${rows}x${cols} layer, ${tokens} calibration tokens (f32), ${config.bits}-bit, group ${config.groupSize}, sym, block ${config.blockSize}, damp ${config.damp}`,
    '',
    renderTable(COLUMNS, body),
    'hessian: GPTQHessian.addSync of all tokens; GB/s in: activation bytes read / time; GFLOP/s: 2 flops per multiply-add of the triangle.',
    'solve: solveGPTQSync without the error report; + errors: with the GPTQ and RTN output errors (two SYRKs of the weight).',
    `vs ref: the IST-DASLab reference on PyTorch CPU + OpenBLAS, ${reference.threads} threads, this machine kind: ` +
      `${reference.hessianSeconds} s hessian, ${reference.solveSeconds} s solve for ${reference.rows}x${reference.cols}, ${reference.tokens} tokens (only at that shape).`,
    peerLine,
  ].join('\n') + '\n';
}
