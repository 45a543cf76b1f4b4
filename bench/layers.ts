// Benchmarks at fixed layer shapes, beside the element-count sweep of the ops: each runs once per bench, takes the
// copy bandwidth measured at the start, and fills its own section of the report. `--ops` names them by id.
import type { Bandwidth } from './bandwidth.js';
import { runGPTQBench } from './gptq.js';
import type { BenchReport } from './report.js';
import { runInt4Bench } from './suites/int4.js';
import { runTernaryBench } from './suites/ternary.js';
import type { TimingPlan } from './timing.js';

export const LAYER_BENCH_IDS = ['gptq', 'int4', 'ternary'] as const;
export type LayerBenchId = (typeof LAYER_BENCH_IDS)[number];

export interface LayerContext {
  quick: boolean;
  timing: TimingPlan;
  bandwidth: Bandwidth;
  onStep: (label: string) => void;
}

/** Runs one layer benchmark and stores its result under its id in the report. */
export function runLayerBench(id: LayerBenchId, report: BenchReport, ctx: LayerContext): void {
  switch (id) {
    case 'gptq':
      report.gptq = runGPTQBench(ctx.quick, ctx.onStep);
      return;
    case 'int4':
      report.int4 = runInt4Bench(ctx.quick, ctx.timing, ctx.bandwidth, ctx.onStep);
      return;
    case 'ternary':
      report.ternary = runTernaryBench(ctx.quick, ctx.timing, ctx.bandwidth, ctx.onStep);
      return;
  }
}
