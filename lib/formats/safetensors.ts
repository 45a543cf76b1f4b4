// safetensors reader and writer (https://github.com/huggingface/safetensors): an 8-byte little-endian u64
// header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}}, then the data buffer. Offsets are relative to the start of the data buffer.
//
// The reader checks the header as strictly as the reference implementation: known dtype, shape × dtype size
// equals the byte range, ranges inside the data buffer, contiguous (no overlap, no gap) and covering it
// exactly. Anything else is a KquantError with code KQ_FORMAT naming the tensor and field. Files are read with
// positioned reads, never past the size the header and the file agree on; every tensor gets its own buffer.
// From an in-memory buffer the tensors are views (no copy) when aligned for their dtype, else copies.
//
// The writer orders tensors as safetensors does (its dtype enum order descending, i.e. largest dtype first,
// then name; __metadata__ first in the header) and pads the header with spaces to a multiple of 8, so every
// tensor is naturally aligned in the file. Typed arrays are
// taken as little-endian, which is what every platform kquant builds for uses.
import { closeSync, fstatSync, openSync, unlinkSync } from 'node:fs';
import { KquantError } from '../errors.js';
import { readExact, writeAll } from './file-io.js';
import { describe, fail } from '../validate.js';

export const SAFETENSORS_DTYPES = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPES;

export type SafetensorsArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface SafeTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** The elements, row-major; f16 / bf16 as Uint16Array bits, BOOL and F8 as Uint8Array. */
  data: SafetensorsArray;
}

export type SafetensorsMetadata = Record<string, string>;

export interface SafetensorsFile {
  metadata: SafetensorsMetadata;
  /** In header order. */
  tensors: Map<string, SafeTensor>;
}

export type SafeTensors = Map<string, SafeTensor> | Record<string, SafeTensor>;

interface ArrayCtor {
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsArray;
  new (length: number): SafetensorsArray;
}

// safetensors' Rust Dtype enum order; the writer sorts by it descending (then by name), so sizes never grow.
const WRITE_RANK: readonly SafetensorsDType[] = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

/** The reference implementation's limit on the header size. */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

function ctorOf(dtype: SafetensorsDType): ArrayCtor {
  return SAFETENSORS_DTYPES[dtype] as unknown as ArrayCtor;
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(SAFETENSORS_DTYPES, value);
}

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', `Invalid safetensors data: ${message}`);
}

// ---- header ----

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

function shapeCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return count;
}

function parseLength(prefix: Uint8Array, total: number): number {
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) bad(`header length ${n} exceeds the limit of ${SAFETENSORS_MAX_HEADER} bytes`);
  const len = Number(n);
  if (len > total - 8) bad(`header length ${len} runs past the end of the data (${total} bytes, ${total - 8} after the length prefix)`);
  if (len < 2) bad(`header length ${len} is too short for a JSON object`);
  return len;
}

function parseHeader(bytes: Uint8Array, dataSize: number): { metadata: SafetensorsMetadata; entries: Entry[] } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    bad('the header is not valid UTF-8');
  }
  if (text[0] !== '{') bad(`the header must start with '{' but starts with ${describe(text.slice(0, 8))}`);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    bad(`the header is not valid JSON (${(err as Error)?.message ?? String(err)})`);
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) bad('the header is not a JSON object');

  let metadata: SafetensorsMetadata = Object.create(null) as SafetensorsMetadata;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(root as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null) continue;
      if (typeof info !== 'object' || Array.isArray(info)) bad(`__metadata__ must be an object of strings but is ${describe(info)}`);
      const pairs = Object.entries(info as Record<string, unknown>);
      for (const [k, v] of pairs) if (typeof v !== 'string') bad(`__metadata__[${JSON.stringify(k)}] must be a string but is ${describe(v)}`);
      metadata = Object.fromEntries(pairs) as SafetensorsMetadata;
      continue;
    }
    const label = `tensor ${JSON.stringify(name)}`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) bad(`${label} must be an object but is ${describe(info)}`);
    const rec = info as Record<string, unknown>;
    if (!isDType(rec.dtype)) bad(`${label}.dtype ${describe(rec.dtype)} is not one of ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`);
    const dtype = rec.dtype;
    const shape = rec.shape;
    if (!Array.isArray(shape)) bad(`${label}.shape must be an array but is ${describe(shape)}`);
    shape.forEach((d: unknown, i) => {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) bad(`${label}.shape[${i}] must be a non-negative integer but is ${describe(d)}`);
    });
    const offsets = rec.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) bad(`${label}.data_offsets must be [begin, end] but is ${describe(offsets)}`);
    const [begin, end] = offsets as unknown[];
    for (const [which, v] of [['begin', begin], ['end', end]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${label}.data_offsets ${which} must be a non-negative integer but is ${describe(v)}`);
    }
    const b = begin as number;
    const e = end as number;
    if (e < b) bad(`${label}.data_offsets [${b}, ${e}] end before begin`);
    if (e > dataSize) bad(`${label}.data_offsets [${b}, ${e}] run past the data buffer of ${dataSize} bytes`);
    const dims = shape as number[];
    const count = shapeCount(dims);
    const size = ctorOf(dtype).BYTES_PER_ELEMENT;
    if (count * size !== e - b) {
      bad(`${label}: shape [${dims.join(', ')}] of ${dtype} needs ${count * size} bytes but data_offsets [${b}, ${e}] hold ${e - b}`);
    }
    entries.push({ name, dtype, shape: [...dims], count, begin: b, end: e });
  }

  const sorted = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const t of sorted) {
    if (t.begin < pos) bad(`tensor ${JSON.stringify(t.name)}.data_offsets [${t.begin}, ${t.end}] overlap tensor ${JSON.stringify(prev?.name)} [${prev?.begin}, ${prev?.end}]`);
    if (t.begin > pos) bad(`tensor ${JSON.stringify(t.name)}.data_offsets [${t.begin}, ${t.end}] leave a gap after byte ${pos}`);
    pos = t.end;
    prev = t;
  }
  if (pos !== dataSize) bad(`the tensors cover ${pos} bytes but the data buffer has ${dataSize}`);
  return { metadata, entries };
}

// ---- reading ----

function readBuffer(buf: Uint8Array): SafetensorsFile {
  if (buf.byteLength < 8) bad(`${buf.byteLength} bytes is too short for the 8-byte header length`);
  const n = parseLength(buf.subarray(0, 8), buf.byteLength);
  const dataStart = 8 + n;
  const { metadata, entries } = parseHeader(buf.subarray(8, dataStart), buf.byteLength - dataStart);
  const tensors = new Map<string, SafeTensor>();
  for (const t of entries) {
    const Ctor = ctorOf(t.dtype);
    const offset = buf.byteOffset + dataStart + t.begin;
    let data: SafetensorsArray;
    if (offset % Ctor.BYTES_PER_ELEMENT === 0) {
      data = new Ctor(buf.buffer, offset, t.count);
    } else {
      const copy = buf.slice(dataStart + t.begin, dataStart + t.end);
      data = new Ctor(copy.buffer, 0, t.count);
    }
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  return { metadata, tensors };
}

function readFile(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) bad(`${path}: ${size} bytes is too short for the 8-byte header length`);
    const n = parseLength(readExact(fd, 0, 8, bad), size);
    const dataStart = 8 + n;
    const { metadata, entries } = parseHeader(readExact(fd, 8, n, bad), size - dataStart);
    const tensors = new Map<string, SafeTensor>();
    for (const t of entries) {
      const bytes = readExact(fd, dataStart + t.begin, t.end - t.begin, bad);
      tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: new (ctorOf(t.dtype))(bytes.buffer, 0, t.count) });
    }
    return { metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  byteLength: number;
  /** The tensor's elements: one positioned read of just this tensor (the file is opened again). */
  read(): SafetensorsArray;
}

/**
 * A safetensors file's header, checked as readSafetensors checks it, without reading any tensor: each entry
 * reads its own data on demand, so a model larger than memory can be processed tensor by tensor. Entries
 * are in header order.
 */
export function readSafetensorsHeader(path: string): { metadata: SafetensorsMetadata; tensors: SafetensorsEntry[] } {
  if (typeof path !== 'string' || path.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a file path for path but received ${describe(path)}`);
  const fd = openSync(path, 'r');
  let parsed: { metadata: SafetensorsMetadata; entries: Entry[] };
  let dataStart: number;
  try {
    const size = fstatSync(fd).size;
    if (size < 8) bad(`${path}: ${size} bytes is too short for the 8-byte header length`);
    const n = parseLength(readExact(fd, 0, 8, bad), size);
    dataStart = 8 + n;
    parsed = parseHeader(readExact(fd, 8, n, bad), size - dataStart);
  } finally {
    closeSync(fd);
  }
  const readEntry = (t: Entry): SafetensorsArray => {
    const f = openSync(path, 'r');
    try {
      const bytes = readExact(f, dataStart + t.begin, t.end - t.begin, bad);
      return new (ctorOf(t.dtype))(bytes.buffer, 0, t.count);
    } finally {
      closeSync(f);
    }
  };
  const tensors = parsed.entries.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, byteLength: t.end - t.begin, read: () => readEntry(t) }));
  return { metadata: parsed.metadata, tensors };
}

/**
 * Reads a safetensors file (by path) or buffer. Malformed input throws a KquantError with code KQ_FORMAT;
 * I/O errors (a missing file) pass through as Node errors. Tensors read from a buffer may share its memory.
 */
export function readSafetensors(source: string | Uint8Array | ArrayBuffer): SafetensorsFile {
  if (typeof source === 'string') return readFile(source);
  if (source instanceof Uint8Array) return readBuffer(source);
  if (source instanceof ArrayBuffer) return readBuffer(new Uint8Array(source));
  fail('KQ_INVALID_ARGUMENT', `Expected a path, Uint8Array or ArrayBuffer for source but received ${describe(source)}`);
}

// ---- writing ----

interface Plan {
  head: Uint8Array;
  parts: Uint8Array[];
  total: number;
}

function entriesOf(tensors: unknown): [string, unknown][] {
  if (tensors instanceof Map) return [...(tensors as Map<unknown, unknown>).entries()].map(([k, v]) => [k as string, v]);
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors)) {
    fail('KQ_INVALID_ARGUMENT', `Expected a Map or object of tensors for tensors but received ${describe(tensors)}`);
  }
  return Object.entries(tensors as Record<string, unknown>);
}

function plan(tensorsArg: unknown, metadataArg: unknown): Plan {
  const list: { name: string; dtype: SafetensorsDType; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of entriesOf(tensorsArg)) {
    if (typeof name !== 'string' || name.length === 0 || name === '__metadata__') {
      fail('KQ_INVALID_ARGUMENT', `Expected a non-empty tensor name other than "__metadata__" but received ${describe(name)}`);
    }
    const label = `tensors[${JSON.stringify(name)}]`;
    if (t === null || typeof t !== 'object') fail('KQ_INVALID_ARGUMENT', `Expected {dtype, shape, data} for ${label} but received ${describe(t)}`);
    const { dtype, shape, data } = t as Record<string, unknown>;
    if (!isDType(dtype)) fail('KQ_DTYPE', `Expected one of ${Object.keys(SAFETENSORS_DTYPES).join(', ')} for ${label}.dtype but received ${describe(dtype)}`);
    const Ctor = ctorOf(dtype);
    if (!(data instanceof (Ctor as unknown as typeof Uint8Array))) {
      fail('KQ_DTYPE', `Expected a ${Ctor.name} for ${label}.data (dtype ${dtype}) but received ${describe(data)}`);
    }
    const arr = data as unknown as SafetensorsArray;
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
      fail('KQ_SHAPE', `Expected an array of non-negative integers for ${label}.shape but received ${describe(shape)}`);
    }
    const dims = shape as number[];
    if (shapeCount(dims) !== arr.length) {
      fail('KQ_LENGTH', `${label}.shape [${dims.join(', ')}] holds ${shapeCount(dims)} elements but the data has ${arr.length}`);
    }
    list.push({ name, dtype, shape: [...dims], bytes: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) });
  }
  list.sort((a, b) => WRITE_RANK.indexOf(b.dtype) - WRITE_RANK.indexOf(a.dtype) || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));

  const header: Record<string, unknown> = {};
  if (metadataArg !== undefined) {
    if (metadataArg === null || typeof metadataArg !== 'object' || Array.isArray(metadataArg)) {
      fail('KQ_INVALID_ARGUMENT', `Expected an object of strings for metadata but received ${describe(metadataArg)}`);
    }
    const pairs = Object.entries(metadataArg as Record<string, unknown>);
    for (const [k, v] of pairs) {
      if (typeof v !== 'string') fail('KQ_INVALID_ARGUMENT', `Expected a string for metadata[${JSON.stringify(k)}] but received ${describe(v)}`);
    }
    Object.defineProperty(header, '__metadata__', { value: Object.fromEntries(pairs), enumerable: true, writable: true, configurable: true });
  }
  let pos = 0;
  for (const t of list) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + t.bytes.byteLength] };
    Object.defineProperty(header, t.name, { value: info, enumerable: true, writable: true, configurable: true });
    pos += t.bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + n).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  return { head, parts: list.map((t) => t.bytes), total: head.length + pos };
}

/** The complete safetensors file as one buffer. */
export function encodeSafetensors(tensors: SafeTensors, metadata?: SafetensorsMetadata): Uint8Array {
  const p = plan(tensors, metadata);
  const out = new Uint8Array(p.total);
  out.set(p.head, 0);
  let pos = p.head.length;
  for (const part of p.parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/** Writes a safetensors file tensor by tensor (no full copy in memory); returns the bytes written. */
export function writeSafetensors(path: string, tensors: SafeTensors, metadata?: SafetensorsMetadata): number {
  if (typeof path !== 'string' || path.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a file path for path but received ${describe(path)}`);
  const p = plan(tensors, metadata);
  const fd = openSync(path, 'w');
  let ok = false;
  try {
    writeAll(fd, p.head);
    for (const part of p.parts) writeAll(fd, part);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) {
      try {
        unlinkSync(path);
      } catch {
        // best effort: the write error is the one to report
      }
    }
  }
  return p.total;
}
