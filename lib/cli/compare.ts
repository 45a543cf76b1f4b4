// `kquant compare`: quantizes every matrix of a model in several formats, dequantizes it, and reports what
// each format costs (bits per weight of its real storage) and loses (relative Frobenius error, SQNR, max
// error), per tensor and in total: which format should this model use? Tensors stream one at a time and
// formats run one after another, so memory holds one tensor, its f32 copy and one format's result.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { KquantError } from '../errors.js';
import { compareFormat, DEFAULT_FORMATS, FORMAT_IDS, type CompareFormat } from './compare-formats.js';
import { renderCompareHtml } from './compare-html.js';
import { openSource, type SkippedTensor, type SourceTensor } from './compare-source.js';
import { addSums, bitsPerWeight, errorSums, relativeError, sqnrDb, type ErrorSums } from './compare-stats.js';
import { renderTable } from './table.js';
import { formatBytes, formatDuration } from './units.js';
import { UsageError } from './usage.js';

export interface CompareFlags {
  formats?: string;
  /** A file, or '-' for stdout. */
  json?: string;
  html?: string;
  tensors?: string;
}

/** A format's figures for one tensor or for all it fits. sqnrDb is Infinity (null in JSON) for an exact copy. */
export interface Figures {
  bytes: number;
  elements: number;
  bitsPerWeight: number;
  relativeError: number;
  sqnrDb: number;
  maxAbsError: number;
  /** Σ W² and Σ (W − Ŵ)², for recomputing or combining the figures. */
  sumSquares: number;
  errorSumSquares: number;
}

export type Cell = Figures | { na: string };

export interface TensorReport {
  name: string;
  shape: number[];
  dtype: string;
  /** The source was a ggml block type: errors are against its dequantized values. */
  dequantized: boolean;
  elements: number;
  formats: Record<string, Cell>;
}

export interface FormatTotal extends Figures {
  format: string;
  description: string;
  /** Tensors the format fits (the totals cover only these) and those it does not. */
  tensors: number;
  naTensors: number;
}

export interface CompareReport {
  input: string;
  kind: 'safetensors' | 'gguf';
  files: string[];
  /** Ordered by total bits per weight; formats that fit no tensor are left out here. */
  totals: FormatTotal[];
  tensors: TensorReport[];
  skipped: SkippedTensor[];
  seconds: number;
}

function figures(bytes: number, elements: number, s: ErrorSums): Figures {
  return {
    bytes,
    elements,
    bitsPerWeight: bitsPerWeight(bytes, elements),
    relativeError: relativeError(s),
    sqnrDb: sqnrDb(s),
    maxAbsError: s.maxAbs,
    sumSquares: s.signal,
    errorSumSquares: s.noise,
  };
}

function parseFormats(list: string | undefined): CompareFormat[] {
  const ids = list === undefined ? [...DEFAULT_FORMATS] : [...new Set(list.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0))];
  if (ids.length === 0) throw new UsageError(`Expected --formats <a,b,...> from ${FORMAT_IDS.join(', ')}`);
  return ids.map((id) => {
    const format = compareFormat(id);
    if (!format) throw new UsageError(`Unknown format '${id}'; expected some of ${FORMAT_IDS.join(', ')}`);
    return format;
  });
}

function parseFilter(pattern: string | undefined): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new UsageError(`--tensors: ${(err as Error).message}`);
  }
}

function checkWritable(path: string, flag: string): void {
  if (!existsSync(dirname(resolve(path))) || (existsSync(path) && statSync(path).isDirectory())) throw new UsageError(`Cannot write ${flag} ${path}: not a file in an existing directory`);
}

// A redrawn bar on a terminal (one step per tensor and format), one line per tensor otherwise.
function progress(stream: NodeJS.WriteStream, total: number) {
  const width = 24;
  return {
    start(step: number, label: string): void {
      if (!stream.isTTY) return;
      const filled = Math.round((step / total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${total} ${label}`;
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(0, (stream.columns || 80) - 1))}`);
    },
    tensorDone(line: string): void {
      if (!stream.isTTY) stream.write(`${line}\n`);
    },
    finish(): void {
      if (stream.isTTY) stream.write('\r\x1b[2K');
    },
  };
}

async function compareTensor(src: SourceTensor, formats: readonly CompareFormat[], onFormat: (format: CompareFormat) => void): Promise<TensorReport> {
  const elements = src.shape.reduce((a, d) => a * d, 1);
  const cols = src.shape[src.shape.length - 1]!;
  const rows = elements / cols;
  const report: TensorReport = { name: src.name, shape: src.shape, dtype: src.dtype, dequantized: src.dequantized, elements, formats: {} };
  try {
    const weight = await src.read();
    for (const format of formats) {
      onFormat(format);
      const na = format.unfit(rows, cols);
      if (na !== undefined) {
        report.formats[format.id] = { na };
        continue;
      }
      const q = await format.run(weight, rows, cols);
      report.formats[format.id] = figures(q.bytes, elements, errorSums(weight, q.dequantized));
    }
  } catch (err) {
    if (err instanceof KquantError) throw new KquantError(err.code, `${src.name}: ${err.message}`, { cause: err });
    throw err;
  }
  return report;
}

function totals(tensors: readonly TensorReport[], formats: readonly CompareFormat[]): FormatTotal[] {
  const out: FormatTotal[] = [];
  for (const format of formats) {
    let sums: ErrorSums = { signal: 0, noise: 0, maxAbs: 0 };
    let bytes = 0;
    let elements = 0;
    let fit = 0;
    for (const t of tensors) {
      const cell = t.formats[format.id]!;
      if ('na' in cell) continue;
      fit++;
      bytes += cell.bytes;
      elements += cell.elements;
      sums = addSums(sums, { signal: cell.sumSquares, noise: cell.errorSumSquares, maxAbs: cell.maxAbsError });
    }
    if (fit > 0) out.push({ format: format.id, description: format.description, tensors: fit, naTensors: tensors.length - fit, ...figures(bytes, elements, sums) });
  }
  return out.sort((a, b) => a.bitsPerWeight - b.bitsPerWeight);
}

const num = {
  bits: (v: number) => v.toFixed(3),
  rel: (v: number) => (v === 0 ? '0' : v.toExponential(2)),
  db: (v: number) => (Number.isFinite(v) ? v.toFixed(2) : v > 0 ? 'exact' : '-inf'),
  err: (v: number) => (v === 0 ? '0' : v.toPrecision(3)),
};

const FIGURE_COLUMNS = [
  { header: 'bits/weight', align: 'right' },
  { header: 'size', align: 'right' },
  { header: 'rel. error', align: 'right' },
  { header: 'SQNR dB', align: 'right' },
  { header: 'max error', align: 'right' },
] as const;

function figureCells(f: Figures): string[] {
  return [num.bits(f.bitsPerWeight), formatBytes(f.bytes), num.rel(f.relativeError), num.db(f.sqnrDb), num.err(f.maxAbsError)];
}

export function compareText(r: CompareReport): string {
  const totalsTable = renderTable(
    [{ header: 'format', align: 'left' }, { header: 'tensors', align: 'right' }, ...FIGURE_COLUMNS],
    r.totals.map((t) => [t.format, t.naTensors > 0 ? `${t.tensors}/${t.tensors + t.naTensors}` : String(t.tensors), ...figureCells(t)]),
  );
  const rows: (string[] | null)[] = [];
  for (const t of r.tensors) {
    if (rows.length > 0) rows.push(null);
    const source = t.dequantized ? `${t.dtype} (dequantized)` : t.dtype;
    Object.entries(t.formats).forEach(([format, cell], i) => {
      const head = i === 0 ? [t.name, `[${t.shape.join(', ')}]`, source] : ['', '', ''];
      rows.push([...head, format, ...('na' in cell ? ['n/a', '', '', '', ''] : figureCells(cell))]);
    });
  }
  const tensorTable = renderTable(
    [{ header: 'tensor', align: 'left' }, { header: 'shape', align: 'left' }, { header: 'source', align: 'left' }, { header: 'format', align: 'left' }, ...FIGURE_COLUMNS],
    rows,
  );
  const na = r.tensors.flatMap((t) => Object.entries(t.formats).flatMap(([format, cell]) => ('na' in cell ? [`  ${t.name} ${format}: ${cell.na}`] : [])));
  const skipped = r.skipped.map((s) => `  ${s.name} [${s.shape.join(', ')}] ${s.dtype}: ${s.reason}`);
  const head = `${r.input}: ${r.tensors.length} matrices from ${r.files.length} ${r.kind} file(s), compared in ${formatDuration(r.seconds * 1000)}`;
  return [
    `${head}\n`,
    `Totals (over the tensors each format fits; by bits per weight):\n${totalsTable}`,
    `Per tensor:\n${tensorTable}`,
    ...(na.length > 0 ? [`n/a (the format cannot store this shape):\n${na.join('\n')}\n`] : []),
    ...(skipped.length > 0 ? [`Not compared:\n${skipped.join('\n')}\n`] : []),
  ].join('\n');
}

export async function compareCommand(positionals: readonly string[], flags: CompareFlags): Promise<void> {
  if (positionals.length !== 1) throw new UsageError(`Expected one input (a .safetensors file, a model directory or a .gguf file) but received ${positionals.length}`);
  const input = positionals[0]!;
  const formats = parseFormats(flags.formats);
  const filter = parseFilter(flags.tensors);
  if (!existsSync(input)) throw new UsageError(`No such file or directory: ${input}`);
  if (flags.json !== undefined && flags.json !== '-') checkWritable(flags.json, '--json');
  if (flags.html !== undefined) checkWritable(flags.html, '--html');

  const started = performance.now();
  const source = openSource(input, filter);
  if (source.tensors.length === 0) {
    throw new KquantError('KQ_INVALID_ARGUMENT', `${input} holds no matrices to compare${filter ? ` whose names match /${filter.source}/` : ''} (${source.skipped.length} tensor(s) skipped)`);
  }
  const bar = progress(process.stderr, source.tensors.length * formats.length);
  const tensors: TensorReport[] = [];
  try {
    for (const [i, src] of source.tensors.entries()) {
      let step = i * formats.length;
      const report = await compareTensor(src, formats, (f) => bar.start(step++, `${src.name} → ${f.id}`));
      tensors.push(report);
      bar.tensorDone(`[${i + 1}/${source.tensors.length}] ${src.name} [${src.shape.join(', ')}] ${src.dtype}`);
    }
  } finally {
    bar.finish();
  }
  const report: CompareReport = {
    input,
    kind: source.kind,
    files: source.files,
    totals: totals(tensors, formats),
    tensors,
    skipped: source.skipped,
    seconds: (performance.now() - started) / 1000,
  };

  const text = compareText(report);
  if (flags.json === '-') {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(text);
  } else {
    if (flags.json !== undefined) writeFileSync(flags.json, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(text);
  }
  if (flags.html !== undefined) writeFileSync(flags.html, renderCompareHtml(report));
}
