// `kquant bench`: turns the options into a suite selection, runs it with progress on stderr, and
// prints the table and/or the JSON.
import { writeFileSync } from 'node:fs';
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
  // 'gptq' in --ops selects the GPTQ layer benchmark, which runs by default.
  const named = flags.ops === undefined ? undefined : list(flags.ops);
  const gptq = named === undefined || named.includes('gptq');
  // Likewise 'int4' for the int4 GEMV at layer shapes.
  const int4 = named === undefined || named.includes('int4');
  // And 'ternary' for the ternary GEMV beside int4.
  const ternary = named === undefined || named.includes('ternary');
  const ops = named === undefined ? ALL_OPS : asUsage(() => selectOps(named.filter((id) => id !== 'gptq' && id !== 'int4' && id !== 'ternary')));
  const sizes = flags.sizes === undefined ? (flags.quick ? QUICK_SIZES : DEFAULT_SIZES) : asUsage(() => list(flags.sizes!).map(parseSize));
  if (ops.length === 0 && !gptq && !int4 && !ternary) throw new UsageError('Expected at least one op in --ops');
  if (sizes.length === 0) throw new UsageError('Expected at least one size in --sizes');

  const progress = createProgress(process.stderr);
  let report;
  try {
    report = runBench({ quick: flags.quick, ops, sizes, gptq, int4, ternary }, (event) => progress.update(event));
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
