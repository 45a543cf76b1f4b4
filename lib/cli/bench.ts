// `kquant bench`: turns the options into a suite selection, runs it with progress on stderr, and
// prints the table and/or the JSON.
import { writeFileSync } from 'node:fs';
import { LAYER_BENCH_IDS, type LayerBenchId } from '../../bench/layers.js';
import { runBench } from '../../bench/run.js';
import { DEFAULT_SIZES, QUICK_SIZES, parseSize } from '../../bench/sizes.js';
import { ALL_OPS, selectOps } from '../../bench/suites/index.js';
import { formatGPTQTable } from './bench-gptq-table.js';
import { formatInt4Table } from '../../bench/suites/int4.js';
import { formatTernaryTable } from '../../bench/suites/ternary.js';
import { formatBenchTable } from './bench-table.js';
import { createProgress } from './progress.js';
import { UsageError } from './usage.js';

export interface BenchFlags {
  json?: string;
  quick: boolean;
  ops?: string;
  sizes?: string;
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

// Mistakes in --ops and --sizes are usage errors (exit status 2), found before anything runs.
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function benchCommand(flags: BenchFlags): void {
  // The layer-shape benchmarks (gptq, int4, ternary) run by default and are named in --ops like the ops.
  const named = flags.ops === undefined ? undefined : list(flags.ops);
  const isLayer = (id: string): id is LayerBenchId => (LAYER_BENCH_IDS as readonly string[]).includes(id);
  const layers = named === undefined ? LAYER_BENCH_IDS : named.filter(isLayer);
  const ops = named === undefined ? ALL_OPS : asUsage(() => selectOps(named.filter((id) => !isLayer(id))));
  const sizes = flags.sizes === undefined ? (flags.quick ? QUICK_SIZES : DEFAULT_SIZES) : asUsage(() => list(flags.sizes!).map(parseSize));
  if (ops.length === 0 && layers.length === 0) throw new UsageError('Expected at least one op in --ops');
  if (sizes.length === 0) throw new UsageError('Expected at least one size in --sizes');

  const progress = createProgress(process.stderr);
  let report;
  try {
    report = runBench({ quick: flags.quick, ops, sizes, layers }, (event) => progress.update(event));
  } finally {
    progress.finish();
  }

  const table = formatBenchTable(report, ops) + (report.gptq ? formatGPTQTable(report.gptq) : '') + (report.int4 ? formatInt4Table(report.int4, report.bandwidth) : '') + (report.ternary ? formatTernaryTable(report.ternary, report.bandwidth) : '');
  const json = JSON.stringify(report, null, 2) + '\n';
  if (flags.json === '-') {
    process.stderr.write(table);
    process.stdout.write(json);
    return;
  }
  process.stdout.write(table);
  if (flags.json !== undefined) {
    writeFileSync(flags.json, json);
    process.stderr.write(`results written to ${flags.json}\n`);
  }
}
