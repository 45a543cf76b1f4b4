// Runs the suite: the copy bandwidth first, then every selected op at every size on every variant.
import { backend } from '../lib/index.js';
import { bandwidthBufferBytes, measureCopyBandwidth } from './bandwidth.js';
import { runLayerBench, type LayerBenchId } from './layers.js';
import type { BenchOp } from './op.js';
import { randomFloats } from './random.js';
import { buildReport, type BenchReport, type Measurement } from './report.js';
import { DEFAULT_TIMING, QUICK_TIMING, timeCall } from './timing.js';
import { availableVariants, selectVariant, type Variant } from './variants.js';

export interface BenchOptions {
  quick: boolean;
  ops: readonly BenchOp[];
  sizes: readonly number[];
  /** Layer-shape benchmarks to run after the ops (bench/layers.ts). */
  layers?: readonly LayerBenchId[];
}

export type BenchStep =
  | { kind: 'bandwidth'; bufferBytes: number }
  | { kind: 'op'; op: BenchOp; variant: Variant; elements: number }
  | { kind: 'layer'; label: string };

/** Sent when a step starts (no GBps) and when it ends (with the GB/s it measured). */
export interface ProgressEvent {
  /** Steps finished so far. */
  done: number;
  total: number;
  step: BenchStep;
  GBps?: number;
}

export function runBench(options: BenchOptions, onProgress: (event: ProgressEvent) => void = () => {}): BenchReport {
  const info = backend();
  const variants = availableVariants(info);
  const timing = options.quick ? QUICK_TIMING : DEFAULT_TIMING;
  const layers = options.layers ?? [];
  const total = 1 + options.ops.length * options.sizes.length * variants.length + layers.length;
  let done = 0;

  const bandwidthStep: BenchStep = { kind: 'bandwidth', bufferBytes: bandwidthBufferBytes(options.quick) };
  onProgress({ done, total, step: bandwidthStep });
  const bandwidth = measureCopyBandwidth(bandwidthStep.bufferBytes, timing);
  onProgress({ done: ++done, total, step: bandwidthStep, GBps: bandwidth.GBps });

  // One input for everything; smaller sizes use its start.
  const input = randomFloats(Math.max(...options.sizes));
  const measurements: Measurement[] = [];
  try {
    for (const op of options.ops) {
      for (const elements of options.sizes) {
        const workload = op.prepare(input.subarray(0, elements));
        for (const variant of variants) {
          const step: BenchStep = { kind: 'op', op, variant, elements };
          onProgress({ done, total, step });
          const device = selectVariant(variant);
          const { msPerCall, reps } = timeCall(() => workload.run(device), timing);
          measurements.push({ op: op.id, variant, elements, bytes: workload.bytes, msPerCall, reps, ...(workload.ops !== undefined && { ops: workload.ops }) });
          onProgress({ done: ++done, total, step, GBps: workload.bytes / (msPerCall * 1e6) });
        }
      }
    }
  } finally {
    selectVariant(info.simd);
  }
  const report = buildReport(info, bandwidth, measurements);
  for (const id of layers) {
    runLayerBench(id, report, { quick: options.quick, timing, bandwidth, onStep: (label) => onProgress({ done, total, step: { kind: 'layer', label } }) });
    onProgress({ done: ++done, total, step: { kind: 'layer', label: id } });
  }
  return report;
}
