// GPTQ checkpoints as GPTQModel / AutoGPTQ save them and transformers/optimum load them (README section 4 in
// test/fixtures/gptq): one .safetensors file with, per quantized Linear `<name>`,
//   <name>.qweight I32 [cols·bits/32, rows]   <name>.qzeros I32 [G, rows·bits/32]
//   <name>.scales  F16 [G, rows]              <name>.g_idx  I32 [cols]          <name>.bias F16 [rows] (optional)
// next to quantize_config.json: quant_method "gptq", bits, group_size, desc_act, sym, the zero-point format under
// both keys (`checkpoint_format` for transformers and older GPTQModel, `format` for GPTQModel 7.x), and the
// informational damp_percent, true_sequential, static_groups, pack_dtype, meta.quantizer.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { kquantVersion } from '../cli/package-version.js';
import { KquantError } from '../errors.js';
import { toFloat16Sync } from '../ops/convert.js';
import { checkGPTQTensors, gptqGroupCount, GPTQ_FORMATS, GPTQ_PACK_BITS, type GPTQFormat, type GPTQPackBits, type GPTQTensors } from '../ops/gptq-pack.js';
import { describe, expectObject, fail } from '../validate.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';

export const GPTQ_CONFIG_FILE = 'quantize_config.json';
export const GPTQ_WEIGHTS_FILE = 'model.safetensors';

export interface GPTQCheckpointConfig {
  bits: GPTQPackBits;
  /** -1 = one group per row. */
  groupSize: number;
  descAct: boolean;
  sym: boolean;
  format: GPTQFormat;
  /** Default 0.01 (the reference's). */
  dampPercent?: number;
  /** Default true. */
  trueSequential?: boolean;
  /** Default false. */
  staticGroups?: boolean;
}

export interface GPTQCheckpointLayer {
  /** Module prefix, e.g. 'model.layers.0.self_attn.q_proj'. */
  name: string;
  tensors: GPTQTensors;
  /** [rows]: f16 bits (Uint16Array) or f32 (rounded to f16 when written). Read back as f16 bits. */
  bias?: Uint16Array | Float32Array;
}

export interface GPTQCheckpoint {
  config: GPTQCheckpointConfig;
  /** The quantize_config.json object as read. */
  rawConfig: Record<string, unknown>;
  layers: GPTQCheckpointLayer[];
  /** Tensors that belong to no quantized layer (embeddings, norms, …), by name. */
  others: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', `Invalid GPTQ checkpoint: ${message}`);
}

// ---- config ----

function checkConfig(configArg: unknown): Required<GPTQCheckpointConfig> {
  const c = expectObject(configArg, 'config');
  if (!(GPTQ_PACK_BITS as readonly unknown[]).includes(c.bits)) fail('KQ_INVALID_ARGUMENT', `Expected 2, 3, 4 or 8 for config.bits but received ${describe(c.bits)}`);
  if (c.groupSize !== -1 && !(Number.isSafeInteger(c.groupSize) && (c.groupSize as number) >= 1)) {
    fail('KQ_INVALID_ARGUMENT', `Expected -1 or a positive integer for config.groupSize but received ${describe(c.groupSize)}`);
  }
  if (!(GPTQ_FORMATS as readonly unknown[]).includes(c.format)) fail('KQ_INVALID_ARGUMENT', `Expected 'gptq' or 'gptq_v2' for config.format but received ${describe(c.format)}`);
  const bool = (key: string, fallback?: boolean): boolean => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for config.${key} but received ${describe(v)}`);
    return v;
  };
  const damp = c.dampPercent ?? 0.01;
  if (typeof damp !== 'number' || !Number.isFinite(damp) || damp < 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-negative number for config.dampPercent but received ${describe(damp)}`);
  return {
    bits: c.bits as GPTQPackBits,
    groupSize: c.groupSize as number,
    descAct: bool('descAct'),
    sym: bool('sym'),
    format: c.format as GPTQFormat,
    dampPercent: damp,
    trueSequential: bool('trueSequential', true),
    staticGroups: bool('staticGroups', false),
  };
}

/** The quantize_config.json object for a config (key order as GPTQModel writes the core keys). */
export function gptqConfigJson(config: GPTQCheckpointConfig): Record<string, unknown> {
  const c = checkConfig(config);
  return {
    bits: c.bits,
    group_size: c.groupSize,
    desc_act: c.descAct,
    sym: c.sym,
    quant_method: 'gptq',
    checkpoint_format: c.format,
    format: c.format,
    damp_percent: c.dampPercent,
    true_sequential: c.trueSequential,
    static_groups: c.staticGroups,
    pack_dtype: 'int32',
    meta: { quantizer: [`kquant:${kquantVersion()}`] },
  };
}

// Reads the keys transformers/optimum and GPTQModel read; anything they could not load is KQ_FORMAT.
function parseConfig(raw: Record<string, unknown>, where: string): GPTQCheckpointConfig {
  if (raw.quant_method !== undefined && raw.quant_method !== 'gptq') bad(`${where}: quant_method is ${describe(raw.quant_method)}, not "gptq"`);
  if (!(GPTQ_PACK_BITS as readonly unknown[]).includes(raw.bits)) bad(`${where}: bits must be 2, 3, 4 or 8 but is ${describe(raw.bits)}`);
  const g = raw.group_size;
  if (g !== -1 && !(Number.isSafeInteger(g) && (g as number) >= 1)) bad(`${where}: group_size must be -1 or a positive integer but is ${describe(g)}`);
  const flag = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'boolean') bad(`${where}: ${key} must be a boolean but is ${describe(v)}`);
    return v;
  };
  const a = raw.checkpoint_format;
  const b = raw.format;
  if (a !== undefined && b !== undefined && a !== b) bad(`${where}: checkpoint_format ${describe(a)} and format ${describe(b)} disagree`);
  const format = a ?? b ?? 'gptq'; // transformers' default: v1
  if (!(GPTQ_FORMATS as readonly unknown[]).includes(format)) bad(`${where}: format ${describe(format)} is not "gptq" or "gptq_v2"`);
  const damp = raw.damp_percent;
  return {
    bits: raw.bits as GPTQPackBits,
    groupSize: g as number,
    descAct: flag('desc_act', false),
    sym: flag('sym', true),
    format: format as GPTQFormat,
    ...(typeof damp === 'number' ? { dampPercent: damp } : {}),
    trueSequential: flag('true_sequential', true),
    staticGroups: flag('static_groups', false),
  };
}

// ---- write ----

function targetPaths(pathArg: unknown): { weights: string; config: string } {
  if (typeof pathArg !== 'string' || pathArg.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a directory or .safetensors path for path but received ${describe(pathArg)}`);
  if (pathArg.endsWith('.safetensors')) return { weights: pathArg, config: join(dirname(pathArg), GPTQ_CONFIG_FILE) };
  mkdirSync(pathArg, { recursive: true });
  return { weights: join(pathArg, GPTQ_WEIGHTS_FILE), config: join(pathArg, GPTQ_CONFIG_FILE) };
}

/**
 * Writes layers as one safetensors file plus quantize_config.json. `path` is a directory (created if needed;
 * the weights go to model.safetensors) or a .safetensors file (the config goes beside it). Every layer must
 * match the config's bits, group size and format. Returns the paths written.
 */
export function writeGPTQCheckpoint(path: string, layers: GPTQCheckpointLayer[], config: GPTQCheckpointConfig): { weights: string; config: string; bytes: number } {
  const c = checkConfig(config);
  if (!Array.isArray(layers) || layers.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-empty array for layers but received ${describe(layers)}`);
  const tensors = new Map<string, SafeTensor>();
  layers.forEach((layerArg, i) => {
    const layer = expectObject(layerArg, `layers[${i}]`);
    const name = layer.name;
    if (typeof name !== 'string' || name.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-empty string for layers[${i}].name but received ${describe(name)}`);
    const label = `layers[${i}] (${JSON.stringify(name)})`;
    if (tensors.has(`${name}.qweight`)) fail('KQ_INVALID_ARGUMENT', `${label}: the name is used twice`);
    const t = checkGPTQTensors(layer.tensors, `${label}.tensors`);
    for (const [key, want] of [['bits', c.bits], ['groupSize', c.groupSize], ['format', c.format]] as const) {
      if (t[key] !== want) fail('KQ_INVALID_ARGUMENT', `${label}.tensors.${key} is ${describe(t[key])} but config.${key} is ${describe(want)}`);
    }
    const groups = gptqGroupCount(t.cols, t.groupSize);
    tensors.set(`${name}.qweight`, { dtype: 'I32', shape: [(t.cols * t.bits) / 32, t.rows], data: t.qweight });
    tensors.set(`${name}.qzeros`, { dtype: 'I32', shape: [groups, (t.rows * t.bits) / 32], data: t.qzeros });
    tensors.set(`${name}.scales`, { dtype: 'F16', shape: [groups, t.rows], data: t.scales });
    tensors.set(`${name}.g_idx`, { dtype: 'I32', shape: [t.cols], data: t.gIdx });
    if (layer.bias !== undefined) {
      const bias = layer.bias;
      if (!(bias instanceof Uint16Array) && !(bias instanceof Float32Array)) {
        fail('KQ_DTYPE', `Expected a Uint16Array (f16 bits) or Float32Array for ${label}.bias but received ${describe(bias)}`);
      }
      if (bias.length !== t.rows) fail('KQ_LENGTH', `Expected ${label}.bias to hold rows = ${t.rows} values but received ${bias.length}`);
      tensors.set(`${name}.bias`, { dtype: 'F16', shape: [t.rows], data: bias instanceof Float32Array ? toFloat16Sync(bias) : bias });
    }
  });
  const paths = targetPaths(path);
  const bytes = writeSafetensors(paths.weights, tensors, { format: 'pt' });
  writeFileSync(paths.config, JSON.stringify(gptqConfigJson(c), null, 2) + '\n');
  return { ...paths, bytes };
}

// ---- read ----

function sourcePaths(path: string): { weights: string; configDir: string } {
  if (typeof path !== 'string' || path.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a directory or .safetensors path for path but received ${describe(path)}`);
  if (!statSync(path).isDirectory()) return { weights: path, configDir: dirname(path) };
  if (existsSync(join(path, GPTQ_WEIGHTS_FILE))) return { weights: join(path, GPTQ_WEIGHTS_FILE), configDir: path };
  const found = readdirSync(path).filter((f) => f.endsWith('.safetensors'));
  if (found.length !== 1) bad(`${path} holds ${found.length} .safetensors files; pass the file`);
  return { weights: join(path, found[0]!), configDir: path };
}

// quantize_config.json, else config.json's quantization_config.
function readConfig(dir: string): { raw: Record<string, unknown>; source: string } {
  const parse = (file: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      bad(`${basename(file)} is not valid JSON (${(err as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`${basename(file)} is not a JSON object`);
    return v as Record<string, unknown>;
  };
  const own = join(dir, GPTQ_CONFIG_FILE);
  if (existsSync(own)) return { raw: parse(own), source: GPTQ_CONFIG_FILE };
  const model = join(dir, 'config.json');
  if (existsSync(model)) {
    const q = parse(model).quantization_config;
    if (q !== null && typeof q === 'object' && !Array.isArray(q)) return { raw: q as Record<string, unknown>, source: 'config.json quantization_config' };
  }
  bad(`no ${GPTQ_CONFIG_FILE} (or config.json with quantization_config) in ${dir}`);
}

function tensorOf(all: Map<string, SafeTensor>, name: string, dtype: SafeTensor['dtype'], shape: number[]): SafeTensor {
  const t = all.get(name);
  if (!t) bad(`tensor ${JSON.stringify(name)} is missing`);
  if (t.dtype !== dtype) bad(`tensor ${JSON.stringify(name)} has dtype ${t.dtype}, expected ${dtype}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    bad(`tensor ${JSON.stringify(name)} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/**
 * Reads a GPTQ checkpoint written by kquant, GPTQModel or AutoGPTQ (formats "gptq" and "gptq_v2"): a directory
 * (model.safetensors or its one .safetensors file, plus quantize_config.json or config.json) or a .safetensors
 * path. Every layer's tensors are checked against the config; a missing g_idx is rebuilt as c // group_size
 * unless desc_act is set. Problems are KQ_FORMAT errors naming the tensor.
 */
export function readGPTQCheckpoint(path: string): GPTQCheckpoint {
  const src = sourcePaths(path);
  const { raw, source } = readConfig(src.configDir);
  const config = parseConfig(raw, source);
  const file = readSafetensors(src.weights);
  const { bits, groupSize, format } = config;
  const others = new Map(file.tensors);
  const layers: GPTQCheckpointLayer[] = [];
  for (const key of file.tensors.keys()) {
    if (!key.endsWith('.qweight')) continue;
    const name = key.slice(0, -'.qweight'.length);
    const qw = file.tensors.get(key)!;
    if (qw.dtype !== 'I32' || qw.shape.length !== 2) bad(`tensor ${JSON.stringify(key)} must be I32 [cols·bits/32, rows] but is ${qw.dtype} [${qw.shape.join(', ')}]`);
    const [packedRows, rows] = qw.shape as [number, number];
    const unit = bits === 3 ? 32 : 32 / bits;
    const cols = (packedRows * 32) / bits;
    if (!Number.isInteger(cols) || cols % unit !== 0 || cols === 0) bad(`tensor ${JSON.stringify(key)}: ${packedRows} packed rows do not hold whole ${bits}-bit runs of input columns`);
    if (rows === 0 || rows % unit !== 0) bad(`tensor ${JSON.stringify(key)}: ${rows} output features is not a multiple of ${unit} (needed to pack ${bits}-bit zero points)`);
    const groups = gptqGroupCount(cols, groupSize);
    const qzeros = tensorOf(file.tensors, `${name}.qzeros`, 'I32', [groups, (rows * bits) / 32]);
    const scales = tensorOf(file.tensors, `${name}.scales`, 'F16', [groups, rows]);
    let gIdx: Int32Array;
    if (file.tensors.has(`${name}.g_idx`)) {
      gIdx = tensorOf(file.tensors, `${name}.g_idx`, 'I32', [cols]).data as Int32Array;
      const badAt = gIdx.findIndex((g) => g < 0 || g >= groups);
      if (badAt >= 0) bad(`tensor ${JSON.stringify(`${name}.g_idx`)}[${badAt}] = ${gIdx[badAt]} is outside [0, ${groups - 1}]`);
    } else {
      if (config.descAct) bad(`tensor ${JSON.stringify(`${name}.g_idx`)} is missing and desc_act needs it`);
      gIdx = Int32Array.from({ length: cols }, (_, c) => (groupSize === -1 ? 0 : Math.floor(c / groupSize)));
    }
    const layer: GPTQCheckpointLayer = {
      name,
      tensors: {
        qweight: qw.data as Int32Array,
        qzeros: qzeros.data as Int32Array,
        scales: scales.data as Uint16Array,
        gIdx,
        rows,
        cols,
        bits,
        groupSize,
        format,
        sym: config.sym,
        descAct: config.descAct,
      },
    };
    if (file.tensors.has(`${name}.bias`)) layer.bias = tensorOf(file.tensors, `${name}.bias`, 'F16', [rows]).data as Uint16Array;
    for (const suffix of ['qweight', 'qzeros', 'scales', 'g_idx', 'bias']) others.delete(`${name}.${suffix}`);
    layers.push(layer);
  }
  if (layers.length === 0) bad(`${src.weights} holds no <name>.qweight tensor`);
  return { config, rawConfig: raw, layers, others, metadata: file.metadata };
}
