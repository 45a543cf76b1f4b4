// `kquant quantize`: a Hugging Face llama-family checkpoint (one .safetensors file, or a directory of shards
// with model.safetensors.index.json, plus config.json) to a GGUF file under a llama.cpp preset. Tensors are
// read, converted to f32, quantized and written one at a time (positioned reads, a streaming GGUF writer),
// so peak memory is about the largest tensor in f32 plus its source and quantized bytes, not the model.
// Names, q/k permutation, hyper-parameters and per-tensor types follow llama.cpp (lib/formats/gguf-presets.ts).
// The tokenizer (tokenizer.ggml.*) comes from tokenizer.json, else tokenizer.model, beside the weights
// (lib/formats/gguf-tokenizer.ts); without one, or with one kquant cannot convert, the file is written without
// it and a warning says so.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { KquantError } from '../errors.js';
import { fromBFloat16, fromFloat16, toBFloat16, toFloat16 } from '../ops/convert.js';
import { quantizeGGML, type GGMLQuantType } from '../ops/ggml.js';
import type { GGUFWriteValue } from '../formats/gguf.js';
import {
  choosePresetTypes,
  ggufPreset,
  ggufTensorName,
  llamaMetadata,
  llamaPermuteHeads,
  unpermuteLlamaRows,
  GGUF_PRESETS,
  LLAMA_HF_ARCHITECTURES,
  type GGUFPresetInfo,
  type LlamaConfig,
} from '../formats/gguf-presets.js';
import { writeGGUFStream } from '../formats/gguf-stream.js';
import { readGGUFTokenizer, type GGUFTokenizer } from '../formats/gguf-tokenizer.js';
import { readSafetensorsHeader, type SafetensorsArray, type SafetensorsDType, type SafetensorsEntry } from '../formats/safetensors.js';
import { renderTable } from './table.js';
import { formatBytes, formatDuration, formatFixed } from './units.js';
import { UsageError } from './usage.js';

export interface QuantizeFlags {
  to?: string;
  output?: string;
  json: boolean;
}

const SOURCE_DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16', 'F64'];
const INDEX_FILE = 'model.safetensors.index.json';

interface SourceTensor {
  hfName: string;
  name: string;
  dtype: SafetensorsDType;
  /** ggml ne (innermost first): the safetensors shape reversed. */
  ne: number[];
  entry: SafetensorsEntry;
  /** Heads for the llama q/k row permutation, when it applies. */
  permuteHeads?: number;
}

interface Model {
  files: string[];
  name: string;
  config?: LlamaConfig;
  tensors: SourceTensor[];
  tokenizer?: GGUFTokenizer;
  warnings: string[];
}

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', message);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    bad(`${path} is not valid JSON (${(err as Error).message})`);
  }
}

// The shard files: the index's weight_map (checked against the shards' headers later), else every
// *.safetensors in the directory.
function shardFiles(dir: string): { files: string[]; weightMap?: Record<string, string> } {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = readJson(indexPath) as { weight_map?: unknown };
    const map = index?.weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map) || Object.values(map).some((f) => typeof f !== 'string' || basename(f) !== f)) {
      bad(`${indexPath}: expected "weight_map": { tensor name: shard file name }`);
    }
    const weightMap = map as Record<string, string>;
    const files = [...new Set(Object.values(weightMap))].map((f) => join(dir, f));
    for (const f of files) if (!existsSync(f)) bad(`${indexPath} names the shard ${basename(f)}, which is not in ${dir}`);
    return { files, weightMap };
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new KquantError('KQ_INVALID_ARGUMENT', `${dir} holds no .safetensors files`);
  return { files };
}

function loadConfig(path: string, warnings: string[]): LlamaConfig | undefined {
  if (!existsSync(path)) {
    warnings.push(`no config.json beside the weights: architecture assumed llama, hyper-parameters not written, q_proj/k_proj not permuted`);
    return undefined;
  }
  const config = readJson(path) as LlamaConfig | null;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) bad(`${path}: expected a JSON object`);
  const arch = config.architectures?.[0];
  if (arch !== undefined && !(LLAMA_HF_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new KquantError('KQ_INVALID_ARGUMENT', `${path}: architecture ${arch} is not supported; kquant quantize converts llama-family models (${LLAMA_HF_ARCHITECTURES.join(', ')})`);
  }
  if (config.rope_scaling) warnings.push('config.json has rope_scaling, which is not converted (no rope_freqs tensor or rope scaling keys)');
  return config;
}

// llama.cpp needs the token count to equal the embedding rows: the list is padded to them.
function loadTokenizer(dir: string, vocabRows: number | undefined, warnings: string[]): GGUFTokenizer | undefined {
  try {
    const tokenizer = readGGUFTokenizer(dir, vocabRows);
    if (tokenizer === undefined) warnings.push('no tokenizer.json or tokenizer.model: the GGUF has no tokenizer, llama.cpp cannot run it');
    else warnings.push(...tokenizer.warnings);
    return tokenizer;
  } catch (err) {
    if (!(err instanceof KquantError)) throw err;
    warnings.push(`${err.message}: the GGUF has no tokenizer, llama.cpp cannot run it`);
    return undefined;
  }
}

function loadModel(input: string): Model {
  const warnings: string[] = [];
  const isDir = statSync(input).isDirectory();
  const dir = isDir ? input : dirname(input);
  const { files, weightMap } = isDir ? shardFiles(input) : { files: [input], weightMap: undefined };
  const config = loadConfig(join(dir, 'config.json'), warnings);
  const heads = config?.num_attention_heads;
  const tensors: SourceTensor[] = [];
  const seen = new Map<string, string>();
  const present = new Set<string>();
  let unpermuted = false;
  for (const file of files) {
    for (const entry of readSafetensorsHeader(file).tensors) {
      present.add(entry.name);
      const where = `${basename(file)}: tensor ${JSON.stringify(entry.name)}`;
      if (weightMap && weightMap[entry.name] !== basename(file)) bad(`${where} is not listed for this shard in ${INDEX_FILE}`);
      const name = ggufTensorName(entry.name);
      if (name === undefined) continue;
      if (seen.has(name)) bad(`${where} maps to ${name}, like ${JSON.stringify(seen.get(name))} before it`);
      seen.set(name, entry.name);
      if (!SOURCE_DTYPES.includes(entry.dtype)) throw new KquantError('KQ_DTYPE', `${where} is ${entry.dtype}; expected one of ${SOURCE_DTYPES.join(', ')}`);
      if (entry.shape.length > 4 || entry.shape.includes(0)) throw new KquantError('KQ_SHAPE', `${where} has shape [${entry.shape.join(', ')}]; GGUF holds 1 to 4 non-zero dimensions`);
      const ne = entry.shape.length === 0 ? [1] : [...entry.shape].reverse();
      const hfNamed = name !== entry.name;
      let permuteHeads: number | undefined;
      if (hfNamed && heads !== undefined) permuteHeads = llamaPermuteHeads(entry.name, heads, config?.num_key_value_heads);
      else if (hfNamed && llamaPermuteHeads(entry.name, 1) !== undefined) unpermuted = true;
      tensors.push({ hfName: entry.name, name, dtype: entry.dtype, ne, entry, permuteHeads });
    }
  }
  if (weightMap) {
    const missing = Object.keys(weightMap).filter((n) => !present.has(n));
    if (missing.length > 0) bad(`${INDEX_FILE} lists ${missing.length} tensor(s) no shard holds, e.g. ${JSON.stringify(missing[0])}`);
  }
  if (tensors.length === 0) throw new KquantError('KQ_INVALID_ARGUMENT', `${input} holds no tensors to convert`);
  if (unpermuted && config) warnings.push('config.json has no num_attention_heads: q_proj/k_proj rows not permuted (llama.cpp will compute rotary embeddings wrongly)');
  const embedding = tensors.find((t) => t.name === 'token_embd.weight');
  const tokenizer = loadTokenizer(dir, embedding?.ne[1] ?? config?.vocab_size, warnings);
  // general.name: the model directory's name, as the converter names a model.
  return { files, name: basename(resolve(dir)), config, tensors, tokenizer, warnings };
}

async function toFloat32(data: SafetensorsArray, dtype: SafetensorsDType): Promise<Float32Array> {
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'F16') return fromFloat16(data as Uint16Array);
  if (dtype === 'BF16') return fromBFloat16(data as Uint16Array);
  return Float32Array.from(data as Float64Array);
}

const bytesOf = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function encode(type: string, values: Float32Array): Promise<Uint8Array> {
  if (type === 'f32') return bytesOf(values);
  if (type === 'f16') return bytesOf(await toFloat16(values));
  if (type === 'bf16') return bytesOf(await toBFloat16(values));
  return quantizeGGML(type as GGMLQuantType, values);
}

function metadataFor(model: Model, preset: GGUFPresetInfo): Record<string, GGUFWriteValue> {
  return {
    'general.architecture': 'llama',
    'general.name': model.name,
    ...(model.config ? llamaMetadata(model.config) : {}),
    'general.file_type': { type: 'u32', value: preset.fileType },
    'general.quantization_version': { type: 'u32', value: 2 },
    ...model.tokenizer?.metadata,
  };
}

interface TensorReport {
  name: string;
  source: string;
  sourceDtype: string;
  type: string;
  fallbackFrom?: string;
  shape: number[];
  elements: number;
  bytesIn: number;
  bytesOut: number;
}

// A redrawn bar on a terminal, one line per tensor otherwise (as lib/cli/progress.ts does for bench).
function progress(stream: NodeJS.WriteStream, total: number) {
  const width = 24;
  return {
    start(i: number, label: string): void {
      if (!stream.isTTY) return;
      const filled = Math.round((i / total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${i}/${total} ${label}`;
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(0, (stream.columns || 80) - 1))}`);
    },
    done(i: number, line: string): void {
      if (!stream.isTTY) stream.write(`[${i + 1}/${total}] ${line}\n`);
    },
    finish(): void {
      if (stream.isTTY) stream.write('\r\x1b[2K');
    },
  };
}

function summarize(reports: readonly TensorReport[]) {
  const byType = new Map<string, { type: string; tensors: number; elements: number; bytes: number }>();
  for (const r of reports) {
    const row = byType.get(r.type) ?? { type: r.type, tensors: 0, elements: 0, bytes: 0 };
    row.tensors++;
    row.elements += r.elements;
    row.bytes += r.bytesOut;
    byType.set(r.type, row);
  }
  const types = [...byType.values()].sort((a, b) => b.elements - a.elements).map((t) => ({ ...t, bitsPerWeight: (t.bytes * 8) / t.elements }));
  const elements = reports.reduce((a, r) => a + r.elements, 0);
  const bytesIn = reports.reduce((a, r) => a + r.bytesIn, 0);
  const bytesOut = reports.reduce((a, r) => a + r.bytesOut, 0);
  return { types, elements, bytesIn, bytesOut, bitsPerWeightIn: (bytesIn * 8) / elements, bitsPerWeight: (bytesOut * 8) / elements };
}

export async function quantizeCommand(positionals: readonly string[], flags: QuantizeFlags): Promise<void> {
  if (positionals.length !== 1) throw new UsageError(`Expected one input (a .safetensors file or a model directory) but received ${positionals.length}`);
  if (flags.to === undefined) throw new UsageError(`Expected --to <preset> (${GGUF_PRESETS.join(', ')})`);
  if (flags.output === undefined) throw new UsageError('Expected -o <out.gguf>');
  const input = positionals[0]!;
  let preset: GGUFPresetInfo;
  try {
    preset = ggufPreset(flags.to);
  } catch {
    throw new UsageError(`Unknown preset '${flags.to}'; expected one of ${GGUF_PRESETS.join(', ')}`);
  }
  if (!existsSync(input)) throw new UsageError(`No such file or directory: ${input}`);
  const output = flags.output;
  if (!existsSync(dirname(resolve(output))) || (existsSync(output) && statSync(output).isDirectory())) throw new UsageError(`Cannot write ${output}: not a file in an existing directory`);
  const started = performance.now();
  const model = loadModel(input);
  if (model.files.some((f) => resolve(f) === resolve(output))) throw new UsageError(`The output ${output} is one of the inputs`);
  const cfg = model.config;
  const choices = choosePresetTypes(preset.name, model.tensors.map((t) => ({ name: t.name, shape: t.ne })), {
    blockCount: cfg?.num_hidden_layers,
    headCount: cfg?.num_attention_heads,
    headCountKv: cfg?.num_key_value_heads,
  });
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  for (const w of model.warnings) process.stderr.write(`kquant: warning: ${w}\n`);

  const bar = progress(process.stderr, choices.length);
  const reports: TensorReport[] = [];
  const tensors = choices.map((choice, i) => {
    const src = byName.get(choice.name)!;
    return {
      name: choice.name,
      type: choice.type,
      shape: choice.shape,
      data: async (): Promise<Uint8Array> => {
        bar.start(i, `${choice.name} → ${choice.type}`);
        try {
          let values = await toFloat32(src.entry.read(), src.dtype);
          if (src.permuteHeads !== undefined) values = unpermuteLlamaRows(values, src.ne[src.ne.length - 1]!, src.permuteHeads);
          return await encode(choice.type, values);
        } catch (err) {
          if (err instanceof KquantError) throw new KquantError(err.code, `${src.hfName}: ${err.message}`, { cause: err });
          throw err;
        }
      },
    };
  });
  try {
    await writeGGUFStream(output, { metadata: metadataFor(model, preset), tensors }, (i, data) => {
      const choice = choices[i]!;
      const src = byName.get(choice.name)!;
      const elements = choice.shape.reduce((a, d) => a * d, 1);
      const report: TensorReport = { name: choice.name, source: src.hfName, sourceDtype: src.dtype, type: choice.type, shape: [...choice.shape], elements, bytesIn: src.entry.byteLength, bytesOut: data.byteLength };
      if (choice.fallbackFrom) report.fallbackFrom = choice.fallbackFrom;
      reports.push(report);
      bar.done(i, `${choice.name} [${choice.shape.join(', ')}] ${src.dtype.toLowerCase()} → ${choice.type}${choice.fallbackFrom ? ` (row length: not ${choice.fallbackFrom})` : ''}, ${formatBytes(report.bytesIn)} → ${formatBytes(report.bytesOut)}`);
    });
  } finally {
    bar.finish();
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(reports);
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;

  if (flags.json) {
    const tokenizer = model.tokenizer ? { model: model.tokenizer.model, pre: model.tokenizer.pre, tokens: model.tokenizer.tokenCount } : null;
    const result = { input, output, preset: preset.name, fileType: preset.fileType, seconds, maxRssBytes, tokenizer, ...summary, tensors: reports, warnings: model.warnings };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const rows = summary.types.map((t) => [t.type, String(t.tensors), String(t.elements), formatBytes(t.bytes), formatFixed(t.bitsPerWeight)]);
  const table = renderTable(
    [
      { header: 'type', align: 'left' },
      { header: 'tensors', align: 'right' },
      { header: 'weights', align: 'right' },
      { header: 'size', align: 'right' },
      { header: 'bits/weight', align: 'right' },
    ],
    rows,
  );
  const ratio = summary.bytesIn / summary.bytesOut;
  process.stdout.write(
    `${output}: ${preset.name} (general.file_type ${preset.fileType}), ${reports.length} tensors from ${model.files.length} file(s)` +
      `${model.tokenizer ? `, tokenizer ${model.tokenizer.model} (pre ${model.tokenizer.pre}, ${model.tokenizer.tokenCount} tokens)` : ', no tokenizer'}\n\n${table}\n` +
      `${formatBytes(summary.bytesIn)} (${formatFixed(summary.bitsPerWeightIn)} bits/weight) → ${formatBytes(summary.bytesOut)} (${formatFixed(summary.bitsPerWeight)} bits/weight), ${formatFixed(ratio)}x smaller, in ${formatDuration(seconds * 1000)}, peak RSS ${formatBytes(maxRssBytes)}\n`,
  );
}
