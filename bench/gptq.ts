// GPTQ on one layer, the shape of the anchor: Hessian accumulation from calibration tokens and the
// solve (4-bit, group 128, sym, block 128, damp 0.01), at one pool thread and at all of them. The reference
// implementation (IST-DASLab gptq.py on PyTorch CPU with OpenBLAS, 2 threads, this machine kind) takes
// 4.08 s for the solve and 0.23 s for the Hessian of a 4096×4096 layer with 2048 tokens
// (test/fixtures/gptq/README.md section 7); the ratios below are against those figures.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backend, setThreads } from '../lib/index.js';
import { GPTQHessian, solveGPTQSync } from '../lib/ops/gptq.js';
import { randomFloats } from './random.js';

export const GPTQ_REFERENCE = { solveSeconds: 4.08, hessianSeconds: 0.23, rows: 4096, cols: 4096, tokens: 2048, threads: 2 };

export interface GPTQBenchRun {
  threads: number;
  /** Median seconds of one GPTQHessian.addSync of all tokens (f32 input) into an existing accumulator. */
  hessianSeconds: number;
  /** Activation bytes read per second (f32 input). */
  hessianGBps: number;
  /** Multiply-adds of the upper triangle (cols·(cols+1)/2·tokens) ×2 per second / 1e9. */
  hessianGFLOPS: number;
  /** Median seconds of the solve without the error report (what the reference's fasterquant does). */
  solveSeconds: number;
  /** Seconds of the solve with the GPTQ and RTN output errors (two SYRKs of the weight's size) added. */
  solveWithErrorsSeconds: number;
  /** Reference seconds / kquant seconds, when the shape is the reference's. */
  speedupVsReference?: { hessian: number; solve: number };
}

/** The PyTorch formulation (bench/peers/gptq_torch.py) timed in the same run, when python3 has torch. */
export type GPTQPeer =
  | { peer: string; threads: number; hessianSeconds: number; solveSeconds: number }
  | { unavailable: string };

export interface GPTQBenchResult {
  rows: number;
  cols: number;
  tokens: number;
  config: { bits: 4; groupSize: 128; sym: true; blockSize: 128; damp: 0.01 };
  runs: GPTQBenchRun[];
  reference: typeof GPTQ_REFERENCE;
  peer: GPTQPeer;
}

// The peer lives in the source tree (bench/peers), next to bench/gptq.ts or above dist/bench/gptq.js.
function peerScript(): string | undefined {
  for (const rel of ['./peers/gptq_torch.py', '../../bench/peers/gptq_torch.py']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

function runPeer(rows: number, cols: number, tokens: number, threads: number): GPTQPeer {
  const script = peerScript();
  if (!script) return { unavailable: 'bench/peers/gptq_torch.py is not in this install' };
  for (const python of ['python3', '/usr/bin/python3']) {
    const run = spawnSync(python, [script, String(rows), String(cols), String(tokens), String(threads)], { encoding: 'utf8', timeout: 600_000 });
    if (run.status === 0) {
      const { peer, hessianSeconds, solveSeconds } = JSON.parse(run.stdout.trim().split('\n').pop()!);
      return { peer, threads, hessianSeconds, solveSeconds };
    }
  }
  return { unavailable: 'no python3 with torch' };
}

function medianSeconds(call: () => void, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = process.hrtime.bigint();
    call();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

// Correlated activations (a few latent factors plus noise), so H is well conditioned but not diagonal.
function activations(tokens: number, cols: number): Float32Array {
  const noise = randomFloats(tokens * cols);
  const factors = randomFloats(tokens * 8);
  const x = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++)
    for (let c = 0; c < cols; c++) x[t * cols + c] = noise[t * cols + c]! * 0.5 + factors[t * 8 + (c & 7)]!;
  return x;
}

export function runGPTQBench(quick: boolean, onStep: (label: string) => void = () => {}): GPTQBenchResult {
  const { rows, cols, tokens } = quick ? { rows: 512, cols: 512, tokens: 256 } : GPTQ_REFERENCE;
  const reps = quick ? 1 : 3;
  const x = activations(tokens, cols);
  const w = randomFloats(rows * cols).map((v) => v * 0.02);
  const config = { bits: 4, groupSize: 128, sym: true, blockSize: 128, damp: 0.01 } as const;
  const info = backend();
  const threadCounts = [...new Set([1, info.threadsMax])];
  const runs: GPTQBenchRun[] = [];
  try {
    for (const threads of threadCounts) {
      setThreads(threads);
      onStep(`gptq hessian ${cols}x${cols}, ${tokens} tokens, ${threads} thread(s)`);
      // One accumulator, as a calibration run streams batches into it: each timed add is a full update of H.
      const hessian = new GPTQHessian(cols);
      hessian.addSync(x, tokens);
      const hessianSeconds = medianSeconds(() => hessian.addSync(x, tokens), reps);
      onStep(`gptq solve ${rows}x${cols}, ${threads} thread(s)`);
      const solveSeconds = medianSeconds(() => void solveGPTQSync(w, [rows, cols], hessian, { ...config, errors: false }), reps);
      const solveWithErrorsSeconds = medianSeconds(() => void solveGPTQSync(w, [rows, cols], hessian, config), 1);
      const atReferenceShape = rows === GPTQ_REFERENCE.rows && cols === GPTQ_REFERENCE.cols && tokens === GPTQ_REFERENCE.tokens;
      runs.push({
        threads,
        hessianSeconds,
        hessianGBps: (tokens * cols * 4) / hessianSeconds / 1e9,
        hessianGFLOPS: (cols * (cols + 1) * tokens) / hessianSeconds / 1e9,
        solveSeconds,
        solveWithErrorsSeconds,
        ...(atReferenceShape && {
          speedupVsReference: { hessian: GPTQ_REFERENCE.hessianSeconds / hessianSeconds, solve: GPTQ_REFERENCE.solveSeconds / solveSeconds },
        }),
      });
    }
  } finally {
    setThreads(info.threads);
  }
  onStep(`gptq peer (PyTorch), ${info.threadsMax} thread(s)`);
  return { rows, cols, tokens, config, runs, reference: GPTQ_REFERENCE, peer: runPeer(rows, cols, tokens, info.threadsMax) };
}
