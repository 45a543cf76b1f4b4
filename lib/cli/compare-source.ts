// The weights `kquant compare` reads: a .safetensors file, a directory of shards (the index's weight_map, else
// every *.safetensors in it) or a GGUF file. Only headers are read up front; each tensor is read with one
// positioned read when its turn comes, so memory holds one tensor at a time.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KquantError } from '../errors.js';
import { fromBFloat16, fromFloat16 } from '../ops/convert.js';
import { dequantizeGGML, GGML_QUANT_TYPES, type GGMLQuantType } from '../ops/ggml.js';
import { readGGUF, type GGUFTensorInfo } from '../formats/gguf.js';
import { readSafetensorsHeader, type SafetensorsEntry } from '../formats/safetensors.js';

export interface SourceTensor {
  name: string;
  /** Row-major shape (GGUF's ne reversed). */
  shape: number[];
  /** The stored type: 'BF16' (safetensors) or 'q4_k' (GGUF). */
  dtype: string;
  /** Whether the weights compared against are themselves a dequantized ggml block type. */
  dequantized: boolean;
  read(): Promise<Float32Array>;
}

export interface SkippedTensor {
  name: string;
  shape: number[];
  dtype: string;
  reason: string;
}

export interface ModelSource {
  kind: 'safetensors' | 'gguf';
  files: string[];
  tensors: SourceTensor[];
  skipped: SkippedTensor[];
}

const INDEX_FILE = 'model.safetensors.index.json';

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', message);
}

function isGGUF(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

function shardFiles(dir: string): string[] {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    let map: unknown;
    try {
      map = (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown } | null)?.weight_map;
    } catch (err) {
      bad(`${indexPath} is not valid JSON (${(err as Error).message})`);
    }
    if (map === null || typeof map !== 'object' || Array.isArray(map) || Object.values(map).some((f) => typeof f !== 'string' || basename(f) !== f)) {
      bad(`${indexPath}: expected "weight_map": { tensor name: shard file name }`);
    }
    const files = [...new Set(Object.values(map as Record<string, string>))].map((f) => join(dir, f));
    for (const f of files) if (!existsSync(f)) bad(`${indexPath} names the shard ${basename(f)}, which is not in ${dir}`);
    return files;
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new KquantError('KQ_INVALID_ARGUMENT', `${dir} holds no .safetensors files`);
  return files;
}

// Only matrices are compared: 1-D tensors (norms, biases) and scalars stay in high precision in every format.
function notMatrix(shape: readonly number[]): string | undefined {
  if (shape.length < 2) return `${shape.length}-D: norms and biases are not quantized`;
  if (shape.includes(0)) return 'empty (a dimension of 0)';
  return undefined;
}

function safetensorsTensor(entry: SafetensorsEntry): SourceTensor | string {
  const read = async (): Promise<Float32Array> => {
    const data = entry.read();
    if (entry.dtype === 'F32') return data as Float32Array;
    if (entry.dtype === 'F16') return fromFloat16(data as Uint16Array);
    if (entry.dtype === 'BF16') return fromBFloat16(data as Uint16Array);
    return Float32Array.from(data as Float64Array);
  };
  if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) return `${entry.dtype} is not a float type`;
  return { name: entry.name, shape: entry.shape, dtype: entry.dtype, dequantized: false, read };
}

// GGUF bytes come from a positioned read; copied only when they sit at an offset the typed view cannot take.
function aligned(bytes: Uint8Array, size: number): [ArrayBuffer, number, number] {
  const a = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return [a.buffer as ArrayBuffer, a.byteOffset, a.byteLength / size];
}

function ggufTensor(t: GGUFTensorInfo): SourceTensor | string {
  const shape = [...t.shape].reverse();
  const count = t.shape.reduce((a, d) => a * d, 1);
  const plain: Record<string, (bytes: Uint8Array) => Promise<Float32Array>> = {
    f32: async (b) => new Float32Array(...aligned(b, 4)),
    f16: (b) => fromFloat16(new Uint16Array(...aligned(b, 2))),
    bf16: (b) => fromBFloat16(new Uint16Array(...aligned(b, 2))),
    f64: async (b) => Float32Array.from(new Float64Array(...aligned(b, 8))),
  };
  const convert = plain[t.type];
  if (convert) return { name: t.name, shape, dtype: t.type, dequantized: false, read: () => convert(t.read()) };
  if ((GGML_QUANT_TYPES as readonly string[]).includes(t.type)) {
    return { name: t.name, shape, dtype: t.type, dequantized: true, read: () => dequantizeGGML(t.type as GGMLQuantType, t.read(), count) };
  }
  return `kquant cannot dequantize ${t.type}`;
}

/** The model's tensors whose names match `filter`, split into matrices to compare and the rest. */
export function openSource(input: string, filter: RegExp | undefined): ModelSource {
  const kind = statSync(input).isFile() && isGGUF(input) ? 'gguf' : 'safetensors';
  const tensors: SourceTensor[] = [];
  const skipped: SkippedTensor[] = [];
  const add = (name: string, shape: number[], dtype: string, make: () => SourceTensor | string): void => {
    if (filter && !filter.test(name)) return;
    const reason = notMatrix(shape);
    const tensor = reason ?? make();
    if (typeof tensor === 'string') skipped.push({ name, shape, dtype, reason: tensor });
    else tensors.push(tensor);
  };
  let files: string[];
  if (kind === 'gguf') {
    files = [input];
    for (const t of readGGUF(input).tensors) add(t.name, [...t.shape].reverse(), t.type, () => ggufTensor(t));
  } else {
    files = statSync(input).isDirectory() ? shardFiles(input) : [input];
    for (const file of files) for (const e of readSafetensorsHeader(file).tensors) add(e.name, e.shape, e.dtype, () => safetensorsTensor(e));
  }
  return { kind, files, tensors, skipped };
}
