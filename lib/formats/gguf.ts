// GGUF reader and writer (ggml's model container; layout in the ggml vectors README section 6): magic "GGUF",
// u32 version, u64 tensor count, u64 key-value count, the key-values (key string, u32 value type, value), the
// tensor infos (name string, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml type, u64 offset relative
// to the data section), zero padding to the alignment, then the data section. Strings are u64 byte length +
// UTF-8 (no terminator), bools one byte, arrays u32 element type + u64 count + elements (arrays of arrays
// nest). All little-endian.
//
// Versions 2 and 3 are read (they share this layout); version 1 (32-bit counts and lengths, 2023 files) is
// rejected with KQ_FORMAT, and big-endian files (version read as 0x02000000 / 0x03000000) too.
//
// The reader reads the header with positioned reads in bounded chunks and never past the end of the file;
// every count and length is checked against the bytes that remain before anything is allocated, so a hostile
// file cannot cause a huge allocation or a long loop (every element consumes at least one byte). Tensor data is
// not read until `tensor.read()` is called, which does one positioned read of just that tensor (from a path it
// opens the file again). Problems are KquantError 'KQ_FORMAT' naming the key, tensor and field. Checked:
// magic, version, duplicate keys and tensor names, value types, nesting depth (≤ 16), general.alignment (a u32
// power of two; default 32), n_dims ≤ 4, each dimension ≥ 1 (a zero, or a "negative" one, i.e. ≥ 2^63, is
// rejected), the element count and byte size fitting in an int64, ne[0] a multiple of the type's block size,
// known ggml type, offsets aligned, data inside the file, tensors not overlapping. Offsets are plain numbers
// (exact up to 2^53 bytes, so files far beyond 4 GB are fine); counts and 64-bit metadata integers are BigInt.
//
// Shapes are ggml's `ne` as stored: innermost (contiguous) dimension first, i.e. the reverse of the row-major
// PyTorch / safetensors shape. A [rows, cols] matrix is ne = [cols, rows].
//
// The writer (writeGGUF streams tensor by tensor; encodeGGUF builds the file in memory) writes version 3 the
// way ggml does: key-values in the given order, tensor infos in the given order with offsets packed one after
// another, each tensor's data padded with zeros to the alignment, the file ending padded too. Reading a file
// written by ggml and writing it back reproduces it byte for byte (tested with golden-a64.gguf).
import { closeSync, fstatSync, openSync, unlinkSync } from 'node:fs';
import { KquantError } from '../errors.js';
import { readExact, writeAll } from './file-io.js';
import { describe, fail } from '../validate.js';

// ---- ggml types ----

export interface GGMLTypeInfo {
  /** ggml_type id (ggml.h). */
  id: number;
  /** Lower-case name, as gguf / llama.cpp print it ('q4_k', 'f32'). */
  name: string;
  /** Elements per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

// Ids, block sizes and bytes per block from the ggml vectors README section 4. I8..F64 (24..28) are not in the
// README; their ids are ggml.h's `enum ggml_type` (GGML_TYPE_I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
// ggml-org/ggml include/ggml.h), each a plain type with a block of one element of 1, 2, 4, 8 and 8 bytes.
// The other IQ* types, NVFP4, Q1_0 and Q2_0 are not in the README either: their ids and block sizes are ggml.h's
// enum and ggml-common.h's static_asserts at commit d99724f (QK_K = 256), so files holding them read and write
// (their blocks stay raw bytes: kquant has no quantizer for them).
export const GGML_TYPES: readonly GGMLTypeInfo[] = [
  { id: 0, name: 'f32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'f16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'q4_0', blockSize: 32, typeSize: 18 },
  { id: 3, name: 'q4_1', blockSize: 32, typeSize: 20 },
  { id: 6, name: 'q5_0', blockSize: 32, typeSize: 22 },
  { id: 7, name: 'q5_1', blockSize: 32, typeSize: 24 },
  { id: 8, name: 'q8_0', blockSize: 32, typeSize: 34 },
  { id: 9, name: 'q8_1', blockSize: 32, typeSize: 36 },
  { id: 10, name: 'q2_k', blockSize: 256, typeSize: 84 },
  { id: 11, name: 'q3_k', blockSize: 256, typeSize: 110 },
  { id: 12, name: 'q4_k', blockSize: 256, typeSize: 144 },
  { id: 13, name: 'q5_k', blockSize: 256, typeSize: 176 },
  { id: 14, name: 'q6_k', blockSize: 256, typeSize: 210 },
  { id: 15, name: 'q8_k', blockSize: 256, typeSize: 292 },
  { id: 16, name: 'iq2_xxs', blockSize: 256, typeSize: 66 },
  { id: 17, name: 'iq2_xs', blockSize: 256, typeSize: 74 },
  { id: 18, name: 'iq3_xxs', blockSize: 256, typeSize: 98 },
  { id: 19, name: 'iq1_s', blockSize: 256, typeSize: 50 },
  { id: 20, name: 'iq4_nl', blockSize: 32, typeSize: 18 },
  { id: 21, name: 'iq3_s', blockSize: 256, typeSize: 110 },
  { id: 22, name: 'iq2_s', blockSize: 256, typeSize: 82 },
  { id: 23, name: 'iq4_xs', blockSize: 256, typeSize: 136 },
  { id: 24, name: 'i8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'i16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'i32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'i64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'f64', blockSize: 1, typeSize: 8 },
  { id: 29, name: 'iq1_m', blockSize: 256, typeSize: 56 },
  { id: 30, name: 'bf16', blockSize: 1, typeSize: 2 },
  { id: 34, name: 'tq1_0', blockSize: 256, typeSize: 54 },
  { id: 35, name: 'tq2_0', blockSize: 256, typeSize: 66 },
  { id: 39, name: 'mxfp4', blockSize: 32, typeSize: 17 },
  { id: 40, name: 'nvfp4', blockSize: 64, typeSize: 36 },
  { id: 41, name: 'q1_0', blockSize: 128, typeSize: 18 },
  { id: 42, name: 'q2_0', blockSize: 64, typeSize: 18 },
];

const TYPE_BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const TYPE_BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** The ggml type for an id or a (case-insensitive) name, or undefined. */
export function ggmlType(idOrName: number | string): GGMLTypeInfo | undefined {
  if (typeof idOrName === 'number') return TYPE_BY_ID.get(idOrName);
  if (typeof idOrName === 'string') return TYPE_BY_NAME.get(idOrName.toLowerCase());
  return undefined;
}

// ---- value types ----

export type GGUFValueType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'str' | 'array' | 'u64' | 'i64' | 'f64';
export type GGUFScalarType = Exclude<GGUFValueType, 'array'>;

/** GGUF value type ids (gguf_type in gguf.h). */
export const GGUF_VALUE_TYPES: readonly GGUFValueType[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'str', 'array', 'u64', 'i64', 'f64'];

/** A metadata value as read: numbers for ≤ 32-bit integers and floats, BigInt for u64 / i64. */
export type GGUFValue = number | bigint | boolean | string | GGUFValue[];

/**
 * A metadata value with its GGUF type. `{ type: 'array', itemType, value }` holds plain values, except for
 * itemType 'array' (nested arrays), where each element is itself a typed `{ type: 'array', ... }`.
 */
export type GGUFTypedValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'str'; value: string }
  | { type: 'array'; itemType: GGUFScalarType; value: (number | bigint | boolean | string)[] }
  | { type: 'array'; itemType: 'array'; value: GGUFTypedValue[] };

export interface GGUFTensorInfo {
  name: string;
  /** Lower-case ggml type name ('q4_k'). */
  type: string;
  /** ggml_type id. */
  typeId: number;
  /** ggml `ne`, innermost dimension first (reverse of row-major order), n_dims entries. */
  shape: number[];
  /** Absolute file offset of the data. */
  offset: number;
  /** Offset relative to the data section, as stored. */
  relativeOffset: number;
  byteLength: number;
  /** Reads the tensor's bytes (one positioned read; a view into the buffer when read from one). */
  read(): Uint8Array;
}

export interface GGUFFile {
  version: number;
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  tensorCount: bigint;
  kvCount: bigint;
  /** Values by key, in file order. */
  metadata: Record<string, GGUFValue>;
  /** The same values with their GGUF types (what writeGGUF takes to reproduce them exactly). */
  typedMetadata: Record<string, GGUFTypedValue>;
  tensors: GGUFTensorInfo[];
}

export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Deepest nesting of arrays accepted. */
export const GGUF_MAX_DEPTH = 16;
const MAX_DIMS = 4;
const CHUNK = 1 << 16;
const INT64_MAX = (1n << 63n) - 1n;
const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

function bad(message: string): never {
  throw new KquantError('KQ_FORMAT', `Invalid GGUF data: ${message}`);
}

function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- reading ----

interface Source {
  size: number;
  /** Exactly `length` bytes at `position` (the caller has checked the range). */
  read(position: number, length: number): Uint8Array;
}

function fileSource(fd: number, size: number): Source {
  return {
    size,
    read: (position, length) => readExact(fd, position, length, bad),
  };
}

function bufferSource(buf: Uint8Array): Source {
  return { size: buf.byteLength, read: (position, length) => buf.subarray(position, position + length) };
}

class Cursor {
  pos = 0;
  private win: Uint8Array = new Uint8Array(0);
  private winStart = 0;
  private view = new DataView(this.win.buffer);
  private readonly dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(private readonly src: Source) {}

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Makes `n` bytes at pos available in the window; returns their offset in it. */
  private need(n: number, what: string): number {
    if (n > this.remaining) bad(`the file is truncated: ${what} needs ${n} bytes at byte ${this.pos} but only ${this.remaining} remain`);
    const rel = this.pos - this.winStart;
    if (rel >= 0 && rel + n <= this.win.byteLength) return rel;
    const len = Math.min(Math.max(n, CHUNK), this.remaining);
    this.win = this.src.read(this.pos, len);
    this.winStart = this.pos;
    this.view = new DataView(this.win.buffer, this.win.byteOffset, this.win.byteLength);
    return 0;
  }

  u8(what: string): number {
    const at = this.need(1, what);
    this.pos += 1;
    return this.view.getUint8(at);
  }

  u32(what: string): number {
    const at = this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }

  u64(what: string): bigint {
    const at = this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(at, true);
  }

  scalar(type: GGUFScalarType, what: string): number | bigint | boolean | string {
    if (type === 'str') return this.str(what);
    const size = SCALAR_SIZE[type]!;
    const at = this.need(size, what);
    this.pos += size;
    const v = this.view;
    switch (type) {
      case 'u8': return v.getUint8(at);
      case 'i8': return v.getInt8(at);
      case 'u16': return v.getUint16(at, true);
      case 'i16': return v.getInt16(at, true);
      case 'u32': return v.getUint32(at, true);
      case 'i32': return v.getInt32(at, true);
      case 'f32': return v.getFloat32(at, true);
      case 'u64': return v.getBigUint64(at, true);
      case 'i64': return v.getBigInt64(at, true);
      case 'f64': return v.getFloat64(at, true);
      case 'bool': {
        const b = v.getUint8(at);
        if (b > 1) bad(`${what} is a bool stored as ${b} (must be 0 or 1)`);
        return b === 1;
      }
    }
  }

  str(what: string): string {
    const n = this.u64(`${what} length`);
    if (n > BigInt(this.remaining)) bad(`${what}: string length ${n} is larger than the ${this.remaining} bytes that remain`);
    const len = Number(n);
    const at = this.need(len, what);
    this.pos += len;
    try {
      return this.dec.decode(this.win.subarray(at, at + len));
    } catch {
      bad(`${what} is not valid UTF-8`);
    }
  }
}

function valueType(id: number, what: string): GGUFValueType {
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) bad(`${what} has unknown value type ${id}`);
  return t;
}

function readValue(cur: Cursor, type: GGUFValueType, what: string, depth: number): { plain: GGUFValue; typed: GGUFTypedValue } {
  if (type !== 'array') {
    const value = cur.scalar(type, what);
    return { plain: value, typed: { type, value } as GGUFTypedValue };
  }
  if (depth >= GGUF_MAX_DEPTH) bad(`${what}: arrays nested deeper than ${GGUF_MAX_DEPTH}`);
  const itemType = valueType(cur.u32(`${what} element type`), `${what} element`);
  const n = cur.u64(`${what} element count`);
  // Smallest encoding of one element: a scalar's size, 8 for a string's length, 12 for a nested array's header.
  const min = itemType === 'array' ? 12 : itemType === 'str' ? 8 : SCALAR_SIZE[itemType]!;
  if (n * BigInt(min) > BigInt(cur.remaining)) {
    bad(`${what}: array of ${n} ${itemType} elements needs at least ${n * BigInt(min)} bytes but only ${cur.remaining} remain`);
  }
  const count = Number(n);
  const plain: GGUFValue[] = [];
  if (itemType === 'array') {
    const typed: GGUFTypedValue[] = [];
    for (let i = 0; i < count; i++) {
      const v = readValue(cur, 'array', `${what}[${i}]`, depth + 1);
      plain.push(v.plain);
      typed.push(v.typed);
    }
    return { plain, typed: { type: 'array', itemType, value: typed } };
  }
  for (let i = 0; i < count; i++) plain.push(cur.scalar(itemType, `${what}[${i}]`));
  return { plain, typed: { type: 'array', itemType, value: [...plain] as (number | bigint | boolean | string)[] } };
}

function parse(src: Source, readAt: (position: number, length: number) => Uint8Array): GGUFFile {
  const cur = new Cursor(src);
  if (src.size < 4) bad(`${src.size} bytes is too short for the magic "GGUF"`);
  const magic = cur.u32('magic');
  if (magic !== 0x46554747) bad(`the magic is 0x${magic.toString(16).padStart(8, '0')}, not "GGUF"`);
  const version = cur.u32('version');
  if (version === 1) bad('version 1 (32-bit counts, pre-August-2023 files) is not supported; only versions 2 and 3 are');
  if (version !== 2 && version !== 3) bad(`version ${version} is not supported (only 2 and 3${version === 0x02000000 || version === 0x03000000 ? '; this looks like a big-endian file' : ''})`);
  const tensorCount = cur.u64('tensor count');
  const kvCount = cur.u64('key-value count');
  // A key-value takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least 8 + 4 + 4 + 8.
  if (kvCount * 13n > BigInt(cur.remaining)) bad(`key-value count ${kvCount} is larger than the ${cur.remaining} remaining bytes can hold`);
  if (tensorCount * 24n > BigInt(cur.remaining)) bad(`tensor count ${tensorCount} is larger than the ${cur.remaining} remaining bytes can hold`);

  const metadata: Record<string, GGUFValue> = {};
  const typedMetadata: Record<string, GGUFTypedValue> = {};
  const seen = new Set<string>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = cur.str(`key ${i}`);
    const label = `key ${JSON.stringify(key)}`;
    if (seen.has(key)) bad(`duplicate ${label}`);
    seen.add(key);
    const type = valueType(cur.u32(`${label} type`), label);
    const v = readValue(cur, type, label, 0);
    setOwn(metadata, key, v.plain);
    setOwn(typedMetadata, key, v.typed);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (seen.has('general.alignment')) {
    const a = typedMetadata['general.alignment']!;
    if (a.type !== 'u32') bad(`key "general.alignment" must be a u32 but is a ${a.type}`);
    const n = a.value as number;
    if (n === 0 || (n & (n - 1)) !== 0) bad(`key "general.alignment" = ${n} is not a power of two`);
    alignment = n;
  }

  interface Info { name: string; type: GGMLTypeInfo; shape: number[]; rel: bigint; bytes: bigint }
  const infos: Info[] = [];
  const names = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = cur.str(`tensor ${i} name`);
    const label = `tensor ${JSON.stringify(name)}`;
    if (names.has(name)) bad(`duplicate ${label}`);
    names.add(name);
    const nDims = cur.u32(`${label} n_dims`);
    if (nDims > MAX_DIMS) bad(`${label}.n_dims ${nDims} is more than ${MAX_DIMS}`);
    const shape: number[] = [];
    let count = 1n;
    for (let d = 0; d < nDims; d++) {
      const ne = cur.u64(`${label}.ne[${d}]`);
      if (ne === 0n) bad(`${label}.ne[${d}] is 0 (empty tensor)`);
      if (ne > INT64_MAX) bad(`${label}.ne[${d}] is negative (${BigInt.asIntN(64, ne)})`);
      count *= ne;
      if (count > INT64_MAX) bad(`${label}: the element count of ne [${[...shape, ne].join(', ')}...] overflows int64`);
      shape.push(Number(ne));
    }
    const typeId = cur.u32(`${label} type`);
    const type = TYPE_BY_ID.get(typeId);
    if (type === undefined) bad(`${label} has unknown ggml type ${typeId}`);
    const ne0 = BigInt(shape[0] ?? 1);
    if (ne0 % BigInt(type.blockSize) !== 0n) bad(`${label}.ne[0] = ${ne0} is not a multiple of the ${type.name} block size ${type.blockSize}`);
    const bytes = (count / BigInt(type.blockSize)) * BigInt(type.typeSize);
    if (bytes > INT64_MAX) bad(`${label}: the byte size overflows int64`);
    const rel = cur.u64(`${label} offset`);
    if (rel % BigInt(alignment) !== 0n) bad(`${label} offset ${rel} is not a multiple of the alignment ${alignment}`);
    infos.push({ name, type, shape, rel, bytes });
  }

  const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
  const dataSize = BigInt(src.size - Math.min(dataOffset, src.size));
  if (infos.length > 0 && dataOffset > src.size) bad(`the data section (byte ${dataOffset}) starts past the end of the file (${src.size} bytes)`);
  for (const t of infos) {
    if (t.rel + t.bytes > dataSize) {
      bad(`tensor ${JSON.stringify(t.name)} offset ${t.rel} + ${t.bytes} bytes runs past the data section (${dataSize} bytes)`);
    }
  }
  const sorted = [...infos].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const t = sorted[i]!;
    if (t.rel < p.rel + p.bytes) bad(`tensor ${JSON.stringify(t.name)} [${t.rel}, ${t.rel + t.bytes}) overlaps tensor ${JSON.stringify(p.name)} [${p.rel}, ${p.rel + p.bytes})`);
  }

  const tensors = infos.map((t): GGUFTensorInfo => {
    const offset = dataOffset + Number(t.rel);
    const byteLength = Number(t.bytes);
    return {
      name: t.name,
      type: t.type.name,
      typeId: t.type.id,
      shape: t.shape,
      offset,
      relativeOffset: Number(t.rel),
      byteLength,
      read: () => readAt(offset, byteLength),
    };
  });
  return { version, alignment, dataOffset, tensorCount, kvCount, metadata, typedMetadata, tensors };
}

function readPathRange(path: string, position: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (position + length > size) bad(`${path}: the tensor at byte ${position} (${length} bytes) is past the end of the file (${size} bytes; changed since it was read?)`);
    return fileSource(fd, size).read(position, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a GGUF file's header (by path) or a whole GGUF buffer. Tensor data is read on `tensor.read()`.
 * Malformed input throws a KquantError with code KQ_FORMAT; I/O errors pass through as Node errors.
 */
export function readGGUF(source: string | Uint8Array | ArrayBuffer): GGUFFile {
  if (typeof source === 'string') {
    const fd = openSync(source, 'r');
    try {
      return parse(fileSource(fd, fstatSync(fd).size), (p, n) => readPathRange(source, p, n));
    } finally {
      closeSync(fd);
    }
  }
  const buf = source instanceof Uint8Array ? source : source instanceof ArrayBuffer ? new Uint8Array(source) : undefined;
  if (buf === undefined) fail('KQ_INVALID_ARGUMENT', `Expected a path, Uint8Array or ArrayBuffer for source but received ${describe(source)}`);
  return parse(bufferSource(buf), (p, n) => buf.subarray(p, p + n));
}

// ---- writing ----

export interface GGUFWriteTensor {
  name: string;
  /** ggml type name (any case, 'q4_k') or id. */
  type: string | number;
  /** ggml `ne`, innermost first, 1 to 4 dimensions. */
  shape: readonly number[];
  /** The raw bytes in ggml's layout for the type. */
  data: Uint8Array;
}

/**
 * Metadata values: a typed `{ type, value }` (required for numbers: GGUF has no default numeric type), or a
 * plain string ('str'), boolean ('bool'), bigint ('u64'; negative → 'i64'), or a non-empty array of strings,
 * booleans or bigints (an array of that type). Typed arrays: `{ type: 'array', itemType, value }`.
 */
export type GGUFWriteValue = GGUFTypedValue | string | boolean | bigint | string[] | boolean[] | bigint[];

export interface GGUFWriteInput {
  metadata?: Record<string, GGUFWriteValue>;
  tensors?: readonly GGUFWriteTensor[];
  /** Data alignment, a power of two (default: metadata's general.alignment, else 32). Written as general.alignment when not 32. */
  alignment?: number;
}

class Writer {
  parts: Uint8Array[] = [];
  size = 0;
  private readonly enc = new TextEncoder();

  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  num(size: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.push(b);
  }

  u32(v: number): void {
    this.num(4, (d) => d.setUint32(0, v, true));
  }

  u64(v: bigint): void {
    this.num(8, (d) => d.setBigUint64(0, v, true));
  }

  str(s: string): void {
    const b = this.enc.encode(s);
    this.u64(BigInt(b.length));
    this.push(b);
  }

  concat(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const INT_RANGE: Partial<Record<GGUFValueType, [number, number]>> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u32: [0, 4294967295], i32: [-2147483648, 2147483647],
};

function checkScalar(type: GGUFScalarType, value: unknown, what: string): void {
  const range = INT_RANGE[type];
  if (range) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      fail('KQ_INVALID_ARGUMENT', `Expected an integer in [${range[0]}, ${range[1]}] for ${what} (${type}) but received ${describe(value)}`);
    }
  } else if (type === 'f32' || type === 'f64') {
    if (typeof value !== 'number') fail('KQ_INVALID_ARGUMENT', `Expected a number for ${what} (${type}) but received ${describe(value)}`);
  } else if (type === 'u64' || type === 'i64') {
    const ok = typeof value === 'bigint' && (type === 'u64' ? value >= 0n && value < 1n << 64n : value >= -(1n << 63n) && value <= INT64_MAX);
    if (!ok) fail('KQ_INVALID_ARGUMENT', `Expected a bigint in the ${type} range for ${what} but received ${typeof value === 'bigint' ? String(value) : describe(value)}`);
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for ${what} but received ${describe(value)}`);
  } else if (typeof value !== 'string') {
    fail('KQ_INVALID_ARGUMENT', `Expected a string for ${what} but received ${describe(value)}`);
  }
}

function writeScalar(w: Writer, type: GGUFScalarType, value: unknown): void {
  switch (type) {
    case 'u8': return w.num(1, (d) => d.setUint8(0, value as number));
    case 'i8': return w.num(1, (d) => d.setInt8(0, value as number));
    case 'u16': return w.num(2, (d) => d.setUint16(0, value as number, true));
    case 'i16': return w.num(2, (d) => d.setInt16(0, value as number, true));
    case 'u32': return w.num(4, (d) => d.setUint32(0, value as number, true));
    case 'i32': return w.num(4, (d) => d.setInt32(0, value as number, true));
    case 'f32': return w.num(4, (d) => d.setFloat32(0, value as number, true));
    case 'f64': return w.num(8, (d) => d.setFloat64(0, value as number, true));
    case 'u64': return w.num(8, (d) => d.setBigUint64(0, value as bigint, true));
    case 'i64': return w.num(8, (d) => d.setBigInt64(0, value as bigint, true));
    case 'bool': return w.num(1, (d) => d.setUint8(0, value ? 1 : 0));
    case 'str': return w.str(value as string);
  }
}

function typeIdOf(type: unknown, what: string): number {
  const id = GGUF_VALUE_TYPES.indexOf(type as GGUFValueType);
  if (id < 0) fail('KQ_INVALID_ARGUMENT', `Expected one of ${GGUF_VALUE_TYPES.join(', ')} for ${what} but received ${describe(type)}`);
  return id;
}

function plainKind(v: unknown): GGUFScalarType | undefined {
  return typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : typeof v === 'bigint' ? (v < 0n ? 'i64' : 'u64') : undefined;
}

/** Normalizes a writer value to a typed one (checking it), so arrays can be written in one pass. */
function normalize(value: unknown, what: string, depth: number): GGUFTypedValue {
  const kind = plainKind(value);
  if (kind) return { type: kind, value } as GGUFTypedValue;
  if (Array.isArray(value)) {
    if (value.length === 0) fail('KQ_INVALID_ARGUMENT', `Cannot infer the element type of the empty array ${what}: use { type: 'array', itemType, value: [] }`);
    let itemType = plainKind(value[0]);
    if (itemType === 'i64' || itemType === 'u64') itemType = value.some((x) => typeof x === 'bigint' && x < 0n) ? 'i64' : 'u64';
    if (!itemType) fail('KQ_INVALID_ARGUMENT', `Expected strings, booleans or bigints in ${what} (numbers need { type: 'array', itemType, value }) but received ${describe(value[0])}`);
    value.forEach((x, i) => checkScalar(itemType!, x, `${what}[${i}]`));
    return { type: 'array', itemType, value: [...value] } as GGUFTypedValue;
  }
  if (value === null || typeof value !== 'object') {
    fail('KQ_INVALID_ARGUMENT', `Expected { type, value }, a string, boolean, bigint or array for ${what} but received ${describe(value)}${typeof value === 'number' ? " (numbers need an explicit type, e.g. { type: 'u32', value })" : ''}`);
  }
  const rec = value as Record<string, unknown>;
  typeIdOf(rec.type, `${what}.type`);
  if (rec.type !== 'array') {
    checkScalar(rec.type as GGUFScalarType, rec.value, `${what}.value`);
    return { type: rec.type, value: rec.value } as GGUFTypedValue;
  }
  if (depth >= GGUF_MAX_DEPTH) fail('KQ_INVALID_ARGUMENT', `${what}: arrays nested deeper than ${GGUF_MAX_DEPTH}`);
  typeIdOf(rec.itemType, `${what}.itemType`);
  if (!Array.isArray(rec.value)) fail('KQ_INVALID_ARGUMENT', `Expected an array for ${what}.value but received ${describe(rec.value)}`);
  if (rec.itemType === 'array') {
    const items = rec.value.map((x, i) => {
      const n = normalize(x, `${what}.value[${i}]`, depth + 1);
      if (n.type !== 'array') fail('KQ_INVALID_ARGUMENT', `Expected an array for ${what}.value[${i}] (itemType 'array') but received a ${n.type}`);
      return n;
    });
    return { type: 'array', itemType: 'array', value: items };
  }
  rec.value.forEach((x, i) => checkScalar(rec.itemType as GGUFScalarType, x, `${what}.value[${i}]`));
  return { type: 'array', itemType: rec.itemType as GGUFScalarType, value: [...rec.value] };
}

function writeTyped(w: Writer, v: GGUFTypedValue): void {
  if (v.type !== 'array') return writeScalar(w, v.type, v.value);
  w.u32(GGUF_VALUE_TYPES.indexOf(v.itemType));
  w.u64(BigInt(v.value.length));
  if (v.itemType === 'array') {
    for (const x of v.value as GGUFTypedValue[]) writeTyped(w, x);
  } else {
    for (const x of v.value) writeScalar(w, v.itemType, x);
  }
}

interface WritePlan {
  head: Uint8Array;
  alignment: number;
  /** byteLength: the tensor's data size; data is absent when planned with withData = false. */
  tensors: { data: Uint8Array; byteLength: number; padded: number }[];
  total: number;
}

// withData = false plans the header from names, types and shapes alone (encodeGGUFHeader).
function planWrite(input: unknown, withData = true): WritePlan {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    fail('KQ_INVALID_ARGUMENT', `Expected { metadata, tensors, alignment? } for input but received ${describe(input)}`);
  }
  const { metadata = {}, tensors = [], alignment: alignArg } = input as Record<string, unknown>;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    fail('KQ_INVALID_ARGUMENT', `Expected an object for metadata but received ${describe(metadata)}`);
  }
  if (!Array.isArray(tensors)) fail('KQ_INVALID_ARGUMENT', `Expected an array for tensors but received ${describe(tensors)}`);

  const kvs: [string, GGUFTypedValue][] = Object.entries(metadata as Record<string, unknown>).map(([k, v]) => [k, normalize(v, `metadata[${JSON.stringify(k)}]`, 0)]);
  const given = kvs.find(([k]) => k === 'general.alignment')?.[1];
  if (given && given.type !== 'u32') fail('KQ_INVALID_ARGUMENT', `Expected a u32 for metadata["general.alignment"] but received a ${given.type}`);
  let alignment = (given?.value as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  if (alignArg !== undefined) {
    if (typeof alignArg !== 'number' || !Number.isInteger(alignArg) || alignArg < 1 || alignArg > 2 ** 30 || (alignArg & (alignArg - 1)) !== 0) {
      fail('KQ_INVALID_ARGUMENT', `Expected a power of two for alignment but received ${describe(alignArg)}`);
    }
    if (given && given.value !== alignArg) fail('KQ_INVALID_ARGUMENT', `alignment ${alignArg} disagrees with metadata["general.alignment"] = ${String(given.value)}`);
    alignment = alignArg;
  }
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) fail('KQ_INVALID_ARGUMENT', `Expected a power of two for metadata["general.alignment"] but received ${alignment}`);
  if (!given && alignment !== GGUF_DEFAULT_ALIGNMENT) kvs.push(['general.alignment', { type: 'u32', value: alignment }]);

  const w = new Writer();
  w.u32(0x46554747);
  w.u32(3);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(kvs.length));
  for (const [k, v] of kvs) {
    w.str(k);
    w.u32(GGUF_VALUE_TYPES.indexOf(v.type));
    writeTyped(w, v);
  }
  const names = new Set<string>();
  const out: WritePlan['tensors'] = [];
  let offset = 0;
  tensors.forEach((t: unknown, i) => {
    const label = `tensors[${i}]`;
    if (t === null || typeof t !== 'object') fail('KQ_INVALID_ARGUMENT', `Expected { name, type, shape, data } for ${label} but received ${describe(t)}`);
    const { name, type, shape, data } = t as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-empty string for ${label}.name but received ${describe(name)}`);
    if (names.has(name)) fail('KQ_INVALID_ARGUMENT', `Duplicate tensor name ${JSON.stringify(name)} at ${label}`);
    names.add(name);
    const info = typeof type === 'number' || typeof type === 'string' ? ggmlType(type) : undefined;
    if (!info) fail('KQ_DTYPE', `Expected a ggml type name or id (${GGML_TYPES.map((x) => x.name).join(', ')}) for ${label}.type but received ${describe(type)}`);
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > MAX_DIMS || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1)) {
      fail('KQ_SHAPE', `Expected 1 to ${MAX_DIMS} positive integers (ggml ne, innermost first) for ${label}.shape but received ${describe(shape)}`);
    }
    const dims = shape as number[];
    if (dims[0]! % info.blockSize !== 0) fail('KQ_SHAPE', `${label}.shape[0] = ${dims[0]} is not a multiple of the ${info.name} block size ${info.blockSize}`);
    if (withData && !(data instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for ${label}.data but received ${describe(data)}`);
    const count = dims.reduce((a, d) => a * BigInt(d), 1n);
    const bytes = (count / BigInt(info.blockSize)) * BigInt(info.typeSize);
    if (withData && BigInt((data as Uint8Array).byteLength) !== bytes) fail('KQ_LENGTH', `${label}.shape [${dims.join(', ')}] of ${info.name} needs ${bytes} bytes but data has ${(data as Uint8Array).byteLength}`);
    w.str(name);
    w.u32(dims.length);
    for (const d of dims) w.u64(BigInt(d));
    w.u32(info.id);
    w.u64(BigInt(offset));
    const byteLength = Number(bytes);
    const padded = Math.ceil(byteLength / alignment) * alignment;
    out.push({ data: data as Uint8Array, byteLength, padded });
    offset += padded;
  });
  const headPadded = Math.ceil(w.size / alignment) * alignment;
  w.push(new Uint8Array(headPadded - w.size));
  return { head: w.concat(), alignment, tensors: out, total: headPadded + offset };
}

export interface GGUFHeaderTensor {
  name: string;
  /** ggml type name (any case) or id. */
  type: string | number;
  /** ggml `ne`, innermost first. */
  shape: readonly number[];
}

export interface GGUFHeaderPlan {
  /** Everything before the data section: header, key-values, tensor infos, padding. */
  header: Uint8Array;
  alignment: number;
  /** Each tensor's data size and its size padded to the alignment, in the order given. */
  tensorBytes: number[];
  paddedBytes: number[];
  /** The whole file's size. */
  total: number;
}

/**
 * The header of a GGUF v3 file whose tensors are known by name, type and shape before their data exists
 * (the same checks and layout as writeGGUF), for writers that produce the data tensor by tensor
 * (gguf-stream.ts).
 */
export function encodeGGUFHeader(input: { metadata?: Record<string, GGUFWriteValue>; tensors?: readonly GGUFHeaderTensor[]; alignment?: number }): GGUFHeaderPlan {
  const p = planWrite(input, false);
  return { header: p.head, alignment: p.alignment, tensorBytes: p.tensors.map((t) => t.byteLength), paddedBytes: p.tensors.map((t) => t.padded), total: p.total };
}

/** The complete GGUF file (version 3) as one buffer; see writeGGUF. */
export function encodeGGUF(input: GGUFWriteInput): Uint8Array {
  const p = planWrite(input);
  const out = new Uint8Array(p.total);
  out.set(p.head, 0);
  let at = p.head.length;
  for (const t of p.tensors) {
    out.set(t.data, at);
    at += t.padded;
  }
  return out;
}

/**
 * Writes a GGUF v3 file tensor by tensor (the header is built in memory, the data is never copied); returns
 * the bytes written. Key-values keep the order of `metadata`; `general.alignment` (u32) is appended when the
 * alignment is not 32 and the metadata does not already set it. On an error the partial file is removed.
 */
export function writeGGUF(path: string, input: GGUFWriteInput): number {
  if (typeof path !== 'string' || path.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a file path for path but received ${describe(path)}`);
  const p = planWrite(input);
  const fd = openSync(path, 'w');
  let ok = false;
  try {
    writeAll(fd, p.head);
    const zeros = new Uint8Array(p.alignment);
    for (const t of p.tensors) {
      writeAll(fd, t.data);
      if (t.padded > t.data.length) writeAll(fd, zeros.subarray(0, t.padded - t.data.length));
    }
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
