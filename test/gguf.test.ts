// GGUF reader / writer: the ggml-written goldens (test/fixtures/ggml/gguf, copied from the ggml vectors, README
// section 6) checked key by key and tensor by tensor against their JSON descriptions, byte-exact rewrites of
// both goldens, round trips of every value type, alignment, hostile headers naming the field, a mutation /
// truncation fuzz (only KQ_FORMAT errors), and bad writer arguments.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GGML_TYPES,
  KquantError,
  encodeGGUF,
  ggmlType,
  readGGUF,
  toFloat16Sync,
  writeGGUF,
  type GGUFFile,
  type GGUFTypedValue,
  type GGUFWriteInput,
} from '../lib/index.js';
import { rng } from './helpers/random.js';
import { expectKquantError } from './helpers/errors.js';

const dir = fileURLToPath(new URL('./fixtures/ggml/gguf/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'kquant-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface JsonKv { key: string; type: string; type_id: number; value: unknown; array_type?: string; n?: number }
interface JsonTensor { name: string; type: string; type_id: number; n_dims: number; ne: number[]; offset: number; abs_offset: number; nbytes: number; sha256: string; fnv1a64: string; source?: { f32_offset_bytes: number; n_elements: number; quantizer: string } }
interface JsonFile { version: number; alignment: number; data_offset: number; n_kv: number; n_tensors: number; kv: JsonKv[]; tensors: JsonTensor[]; file_bytes: number; file_sha256: string }

const load = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as JsonFile;
const golden = { path: join(dir, 'golden.gguf'), json: load('golden.json') };
const a64 = { path: join(dir, 'golden-a64.gguf'), json: load('golden-a64.json') };
const sources = new Uint8Array(readFileSync(join(dir, 'golden-a64.sources.f32')));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
function fnv1a64(b: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

const GGUF_NAMES: Record<string, string> = { str: 'str', arr: 'array' };

function expectScalar(type: string, got: unknown, want: unknown, what: string): void {
  if (type === 'u64' || type === 'i64') expect(got, what).toBe(BigInt(want as string));
  else if (type === 'f32') expect(Object.is(got, Math.fround(want as number)), `${what}: ${String(got)} vs ${String(want)}`).toBe(true);
  else if (type === 'f64') expect(Object.is(got, want), `${what}: ${String(got)} vs ${String(want)}`).toBe(true);
  else expect(got, what).toBe(want);
}

function checkAgainstJson(f: GGUFFile, json: JsonFile, bytes: Uint8Array): void {
  expect(f.version).toBe(json.version);
  expect(f.alignment).toBe(json.alignment);
  expect(f.dataOffset).toBe(json.data_offset);
  expect(f.kvCount).toBe(BigInt(json.n_kv));
  expect(f.tensorCount).toBe(BigInt(json.n_tensors));
  expect(Object.keys(f.metadata)).toEqual(json.kv.map((k) => k.key));
  for (const kv of json.kv) {
    const typed = f.typedMetadata[kv.key]!;
    const plain = f.metadata[kv.key];
    expect(typed.type, kv.key).toBe(GGUF_NAMES[kv.type] ?? kv.type);
    if (kv.type === 'arr') {
      expect(typed.type === 'array' && typed.itemType, kv.key).toBe(GGUF_NAMES[kv.array_type!] ?? kv.array_type);
      const want = kv.value as unknown[];
      expect((plain as unknown[]).length, kv.key).toBe(kv.n);
      want.forEach((w, i) => expectScalar(kv.array_type!, (plain as unknown[])[i], w, `${kv.key}[${i}]`));
      expect(typed.value, kv.key).toEqual(plain);
    } else {
      expectScalar(kv.type, plain, kv.value, kv.key);
      expect(Object.is(typed.value, plain), kv.key).toBe(true);
    }
  }
  expect(f.tensors.map((t) => t.name)).toEqual(json.tensors.map((t) => t.name));
  for (const [i, jt] of json.tensors.entries()) {
    const t = f.tensors[i]!;
    expect(t.type, jt.name).toBe(jt.type.toLowerCase());
    expect(t.typeId, jt.name).toBe(jt.type_id);
    expect(t.shape, jt.name).toEqual(jt.ne.slice(0, jt.n_dims));
    expect(t.relativeOffset, jt.name).toBe(jt.offset);
    expect(t.offset, jt.name).toBe(jt.abs_offset);
    expect(t.offset % json.alignment, jt.name).toBe(0);
    expect(t.byteLength, jt.name).toBe(jt.nbytes);
    const data = t.read();
    expect(data.length, jt.name).toBe(jt.nbytes);
    expect(sha256(data), jt.name).toBe(jt.sha256);
    expect(fnv1a64(data), jt.name).toBe(jt.fnv1a64);
    expect(data, jt.name).toEqual(bytes.subarray(jt.abs_offset, jt.abs_offset + jt.nbytes));
  }
  expect(bytes.length).toBe(json.file_bytes);
  expect(sha256(bytes)).toBe(json.file_sha256);
}

function rewrite(f: GGUFFile): GGUFWriteInput {
  return { metadata: f.typedMetadata, tensors: f.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, data: t.read() })) };
}

// float32 -> bfloat16 bits, round to nearest even (the sources hold no NaNs).
function toBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  return Uint16Array.from(u, (x) => (x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
}

describe('gguf goldens written by ggml', () => {
  for (const g of [golden, a64]) {
    const name = g.path.split('/').pop()!;
    it(`${name}: every key and tensor as its JSON says (from a path and from a buffer)`, () => {
      const bytes = new Uint8Array(readFileSync(g.path));
      checkAgainstJson(readGGUF(g.path), g.json, bytes);
      checkAgainstJson(readGGUF(bytes), g.json, bytes);
      checkAgainstJson(readGGUF(bytes.slice().buffer), g.json, bytes);
    });

    it(`${name}: rewriting what was read reproduces the file byte for byte`, () => {
      const bytes = new Uint8Array(readFileSync(g.path));
      const f = readGGUF(g.path);
      expect(encodeGGUF(rewrite(f))).toEqual(bytes);
      const out = join(tmp, `re-${name}`);
      expect(writeGGUF(out, rewrite(f))).toBe(bytes.length);
      expect(new Uint8Array(readFileSync(out))).toEqual(bytes);
    });
  }

  it('golden.gguf offsets match what ggml reads back', () => {
    const lines = readFileSync(join(dir, 'golden.readback.txt'), 'utf8').trim().split('\n');
    const f = readGGUF(golden.path);
    expect(lines[0]).toBe(`version ${f.version} kv ${f.kvCount} tensors ${f.tensorCount} data_offset ${f.dataOffset} alignment ${f.alignment}`);
    expect(lines.slice(1)).toEqual(f.tensors.map((t) => `${t.name} offset ${t.relativeOffset}`));
  });

  it('golden.tensors.json agrees', () => {
    const tj = JSON.parse(readFileSync(join(dir, 'golden.tensors.json'), 'utf8')) as { tensors: (JsonTensor & { ggml_type_id: number })[] };
    const f = readGGUF(golden.path);
    expect(tj.tensors.map((t) => [t.name, t.ggml_type_id, t.ne.slice(0, t.n_dims), t.nbytes, t.offset, t.fnv1a64])).toEqual(
      f.tensors.map((t) => [t.name, t.typeId, t.shape, t.byteLength, t.relativeOffset, fnv1a64(t.read())]),
    );
  });

  it('golden-a64.gguf: f32 / f16 / bf16 tensors are their sources', () => {
    const f = readGGUF(a64.path);
    let checked = 0;
    for (const jt of a64.json.tensors) {
      const src = new Float32Array(sources.slice(jt.source!.f32_offset_bytes, jt.source!.f32_offset_bytes + 4 * jt.source!.n_elements).buffer);
      const data = f.tensors.find((t) => t.name === jt.name)!.read();
      let want: Uint8Array | undefined;
      if (jt.type === 'f32') want = new Uint8Array(src.buffer);
      else if (jt.type === 'f16') want = new Uint8Array(toFloat16Sync(src).buffer);
      else if (jt.type === 'bf16') want = new Uint8Array(toBf16(src).buffer);
      if (!want) continue;
      expect(data, jt.name).toEqual(want);
      checked++;
    }
    expect(checked).toBe(5);
  });

  it('type table: README section 4 ids, block sizes and bytes', () => {
    const readme: [string, number, number, number][] = [
      ['q4_0', 2, 32, 18], ['q4_1', 3, 32, 20], ['q5_0', 6, 32, 22], ['q5_1', 7, 32, 24], ['q8_0', 8, 32, 34], ['q8_1', 9, 32, 36],
      ['q2_k', 10, 256, 84], ['q3_k', 11, 256, 110], ['q4_k', 12, 256, 144], ['q5_k', 13, 256, 176], ['q6_k', 14, 256, 210], ['q8_k', 15, 256, 292],
      ['iq4_nl', 20, 32, 18], ['tq1_0', 34, 256, 54], ['tq2_0', 35, 256, 66], ['mxfp4', 39, 32, 17], ['f32', 0, 1, 4], ['f16', 1, 1, 2], ['bf16', 30, 1, 2],
    ];
    for (const [name, id, blockSize, typeSize] of readme) {
      expect(ggmlType(name), name).toEqual({ id, name, blockSize, typeSize });
      expect(ggmlType(id), name).toBe(ggmlType(name.toUpperCase()));
    }
    expect(new Set(GGML_TYPES.map((t) => t.id)).size).toBe(GGML_TYPES.length);
    expect(ggmlType(4)).toBeUndefined();
  });
});

// ---- writer round trips ----

const everyType: Record<string, GGUFTypedValue | string | boolean | bigint | string[] | boolean[] | bigint[]> = {
  'general.architecture': 'llama',
  u8: { type: 'u8', value: 255 },
  i8: { type: 'i8', value: -128 },
  u16: { type: 'u16', value: 65535 },
  i16: { type: 'i16', value: -32768 },
  u32: { type: 'u32', value: 4294967295 },
  i32: { type: 'i32', value: -2147483648 },
  f32: { type: 'f32', value: Math.fround(0.1) },
  f32z: { type: 'f32', value: -0 },
  f64: { type: 'f64', value: -2.5e-300 },
  u64: { type: 'u64', value: (1n << 64n) - 1n },
  i64: { type: 'i64', value: -(1n << 63n) },
  plainU64: 9007199254740993n,
  plainI64: -5n,
  t: true,
  f: false,
  empty: '',
  uni: 'γάμμα 😀',
  strs: ['a', '', 'ü'],
  bools: [true, false],
  bigs: [1n, -1n],
  arrF32: { type: 'array', itemType: 'f32', value: [0.5, -1.25] },
  arrEmpty: { type: 'array', itemType: 'i32', value: [] },
  nested: { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'u8', value: [1, 2] }, { type: 'array', itemType: 'str', value: ['x'] }, { type: 'array', itemType: 'array', value: [] }] },
  __proto__x: 'proto-ish',
};

function someTensors() {
  const q4k = new Uint8Array(2 * 144).map((_, i) => i * 7);
  const f32 = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
  const q8 = new Uint8Array(3 * 2 * 34).map((_, i) => 255 - (i % 256));
  return [
    { name: 'a.q4k', type: 'Q4_K', shape: [256, 2], data: q4k },
    { name: 'b.f32', type: 0, shape: [5], data: f32 },
    { name: 'c.q8', type: 'q8_0', shape: [32, 3, 1, 2], data: q8 },
  ];
}

describe('gguf type table', () => {
  it('knows the IQ, NVFP4, Q1_0 and Q2_0 layouts of ggml d99724f, so their files read and write as raw blocks', () => {
    // [id, name, elements per block, bytes per block] from ggml.h's enum and ggml-common.h's static_asserts.
    const want: [number, string, number, number][] = [
      [16, 'iq2_xxs', 256, 66], [17, 'iq2_xs', 256, 74], [18, 'iq3_xxs', 256, 98], [19, 'iq1_s', 256, 50],
      [21, 'iq3_s', 256, 110], [22, 'iq2_s', 256, 82], [23, 'iq4_xs', 256, 136], [29, 'iq1_m', 256, 56],
      [40, 'nvfp4', 64, 36], [41, 'q1_0', 128, 18], [42, 'q2_0', 64, 18],
    ];
    for (const [id, name, blockSize, typeSize] of want) {
      expect(ggmlType(id)).toEqual({ id, name, blockSize, typeSize });
      expect(ggmlType(name.toUpperCase())).toEqual(ggmlType(id));
      const data = new Uint8Array(2 * typeSize).map((_, i) => (i * 31 + id) & 255);
      const f = readGGUF(encodeGGUF({ metadata: {}, tensors: [{ name: 't', type: name, shape: [blockSize, 2], data }] }));
      expect(f.tensors[0]!.type).toBe(name);
      expect(Buffer.from(f.tensors[0]!.read()).equals(Buffer.from(data))).toBe(true);
    }
    for (const gone of [4, 5, 31, 36, 43]) expect(ggmlType(gone)).toBeUndefined();
  });
});

describe('gguf writer', () => {
  it('round trips every value type, nested arrays and tensors', () => {
    const tensors = someTensors();
    const bytes = encodeGGUF({ metadata: everyType, tensors });
    const f = readGGUF(bytes);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(32);
    expect(Object.keys(f.metadata)).toEqual(Object.keys(everyType));
    expect(f.metadata.plainU64).toBe(9007199254740993n);
    expect(f.typedMetadata.plainU64).toEqual({ type: 'u64', value: 9007199254740993n });
    expect(f.typedMetadata.plainI64).toEqual({ type: 'i64', value: -5n });
    expect(f.typedMetadata.bigs).toEqual({ type: 'array', itemType: 'i64', value: [1n, -1n] });
    expect(Object.is(f.metadata.f32z, -0)).toBe(true);
    expect(f.metadata.nested).toEqual([[1, 2], ['x'], []]);
    expect(f.typedMetadata.nested).toEqual(everyType.nested);
    for (const [k, v] of Object.entries(everyType)) {
      if (typeof v === 'object' && !Array.isArray(v)) expect(f.typedMetadata[k], k).toEqual(v);
      else expect(f.metadata[k], k).toEqual(v);
    }
    expect(f.tensors.map((t) => [t.name, t.type, t.shape])).toEqual([
      ['a.q4k', 'q4_k', [256, 2]],
      ['b.f32', 'f32', [5]],
      ['c.q8', 'q8_0', [32, 3, 1, 2]],
    ]);
    tensors.forEach((t, i) => expect(f.tensors[i]!.read()).toEqual(t.data));
    // Reading back and writing again is the identity.
    expect(encodeGGUF(rewrite(f))).toEqual(bytes);
    // The streaming writer gives the same bytes, and reading the file gives the same tensors.
    const path = join(tmp, 'rt.gguf');
    expect(writeGGUF(path, { metadata: everyType, tensors })).toBe(bytes.length);
    expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
    readGGUF(path).tensors.forEach((t, i) => expect(t.read()).toEqual(tensors[i]!.data));
  });

  for (const alignment of [1, 8, 32, 64, 256]) {
    it(`respects alignment ${alignment}`, () => {
      const bytes = encodeGGUF({ metadata: { x: 'y' }, tensors: someTensors(), alignment });
      const f = readGGUF(bytes);
      expect(f.alignment).toBe(alignment);
      expect(f.typedMetadata['general.alignment']).toEqual(alignment === 32 ? undefined : { type: 'u32', value: alignment });
      expect(f.dataOffset % alignment).toBe(0);
      expect(bytes.length % alignment).toBe(0);
      for (const t of f.tensors) expect(t.offset % alignment).toBe(0);
      // Padding is zeros.
      let end = f.dataOffset;
      for (const t of f.tensors) {
        expect(bytes.subarray(end, t.offset).every((b) => b === 0)).toBe(true);
        end = t.offset + t.byteLength;
      }
      expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);
    });
  }

  it('takes the alignment from metadata general.alignment', () => {
    const f = readGGUF(encodeGGUF({ metadata: { 'general.alignment': { type: 'u32', value: 128 } }, tensors: someTensors() }));
    expect(f.alignment).toBe(128);
    for (const t of f.tensors) expect(t.offset % 128).toBe(0);
    expect(Object.keys(f.metadata)).toEqual(['general.alignment']);
  });

  it('writes an empty file (no keys, no tensors)', () => {
    const f = readGGUF(encodeGGUF({}));
    expect(f.tensors).toEqual([]);
    expect(f.metadata).toEqual({});
  });

  it('rejects bad writer arguments naming them', () => {
    const t = someTensors();
    const bad = (input: unknown) => () => encodeGGUF(input as GGUFWriteInput);
    expectKquantError(bad(null), 'KQ_INVALID_ARGUMENT', /input/);
    expectKquantError(bad({ metadata: { n: 1 } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\].*explicit type/);
    expectKquantError(bad({ metadata: { n: { type: 'u8', value: 256 } } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]\.value \(u8\)/);
    expectKquantError(bad({ metadata: { n: { type: 'i32', value: 1.5 } } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]/);
    expectKquantError(bad({ metadata: { n: { type: 'u64', value: -1n } } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]\.value/);
    expectKquantError(bad({ metadata: { n: { type: 'u64', value: 5 } } }), 'KQ_INVALID_ARGUMENT', /bigint/);
    expectKquantError(bad({ metadata: { n: { type: 'u128', value: 5 } } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]\.type/);
    expectKquantError(bad({ metadata: { n: [] } }), 'KQ_INVALID_ARGUMENT', /empty array/);
    expectKquantError(bad({ metadata: { n: [1, 2] } }), 'KQ_INVALID_ARGUMENT', /itemType/);
    expectKquantError(bad({ metadata: { n: ['a', 1] } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]\[1\]/);
    expectKquantError(bad({ metadata: { n: { type: 'array', itemType: 'f32', value: [1, 'x'] } } }), 'KQ_INVALID_ARGUMENT', /value\[1\]/);
    expectKquantError(bad({ metadata: { n: { type: 'array', itemType: 'array', value: [{ type: 'u8', value: 1 }] } } }), 'KQ_INVALID_ARGUMENT', /value\[0\]/);
    expectKquantError(bad({ metadata: { n: null } }), 'KQ_INVALID_ARGUMENT', /metadata\["n"\]/);
    expectKquantError(bad({ metadata: { 'general.alignment': { type: 'u64', value: 64n } } }), 'KQ_INVALID_ARGUMENT', /general\.alignment/);
    expectKquantError(bad({ metadata: { 'general.alignment': { type: 'u32', value: 48 } } }), 'KQ_INVALID_ARGUMENT', /power of two/);
    expectKquantError(bad({ metadata: { 'general.alignment': { type: 'u32', value: 64 } }, alignment: 32 }), 'KQ_INVALID_ARGUMENT', /disagrees/);
    expectKquantError(bad({ alignment: 48 }), 'KQ_INVALID_ARGUMENT', /alignment/);
    expectKquantError(bad({ alignment: 0 }), 'KQ_INVALID_ARGUMENT', /alignment/);
    expectKquantError(bad({ tensors: {} }), 'KQ_INVALID_ARGUMENT', /tensors/);
    expectKquantError(bad({ tensors: [null] }), 'KQ_INVALID_ARGUMENT', /tensors\[0\]/);
    expectKquantError(bad({ tensors: [{ ...t[0], name: '' }] }), 'KQ_INVALID_ARGUMENT', /tensors\[0\]\.name/);
    expectKquantError(bad({ tensors: [t[0], t[0]] }), 'KQ_INVALID_ARGUMENT', /Duplicate tensor name "a.q4k"/);
    expectKquantError(bad({ tensors: [{ ...t[0], type: 'q4_2' }] }), 'KQ_DTYPE', /tensors\[0\]\.type but received "q4_2"/);
    expectKquantError(bad({ tensors: [{ ...t[0], type: 4 }] }), 'KQ_DTYPE', /tensors\[0\]\.type but received 4/);
    expectKquantError(bad({ tensors: [{ ...t[0], shape: [] }] }), 'KQ_SHAPE', /tensors\[0\]\.shape/);
    expectKquantError(bad({ tensors: [{ ...t[0], shape: [256, 1, 1, 1, 2] }] }), 'KQ_SHAPE', /tensors\[0\]\.shape/);
    expectKquantError(bad({ tensors: [{ ...t[0], shape: [256, 0] }] }), 'KQ_SHAPE', /tensors\[0\]\.shape/);
    expectKquantError(bad({ tensors: [{ ...t[0], shape: [128, 4] }] }), 'KQ_SHAPE', /not a multiple of the q4_k block size 256/);
    expectKquantError(bad({ tensors: [{ ...t[0], shape: [256, 3] }] }), 'KQ_LENGTH', /needs 432 bytes but data has 288/);
    expectKquantError(bad({ tensors: [{ ...t[0], data: new Float32Array(72) }] }), 'KQ_DTYPE', /tensors\[0\]\.data/);
    expectKquantError(() => writeGGUF('' as string, {}), 'KQ_INVALID_ARGUMENT', /path/);
    expectKquantError(() => readGGUF(42 as never), 'KQ_INVALID_ARGUMENT', /source/);
  });
});

// ---- hostile input ----

// A hand-built header: fields written in order.
class B {
  parts: number[] = [];
  u8(v: number) { this.parts.push(v & 255); return this; }
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 255); return this; }
  u64(v: bigint) { for (let i = 0n; i < 8n; i++) this.parts.push(Number((BigInt.asUintN(64, v) >> (8n * i)) & 255n)); return this; }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(BigInt(b.length)); this.parts.push(...b); return this; }
  raw(b: number[]) { this.parts.push(...b); return this; }
  pad(n: number) { while (this.parts.length % n) this.parts.push(0); return this; }
  zeros(n: number) { for (let i = 0; i < n; i++) this.parts.push(0); return this; }
  bytes() { return new Uint8Array(this.parts); }
}
const head = (tensors: number, kvs: number, version = 3) => new B().raw([0x47, 0x47, 0x55, 0x46]).u32(version).u64(BigInt(tensors)).u64(BigInt(kvs));
// One f32 tensor info: name, dims, type, offset.
const info = (b: B, name: string, ne: bigint[], type = 0, offset = 0n) => {
  b.str(name).u32(ne.length);
  for (const d of ne) b.u64(d);
  return b.u32(type).u64(offset);
};

describe('gguf hostile input', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /too short for the magic/],
    ['bad magic', new B().raw([0x47, 0x47, 0x4d, 0x4c]).u32(3).bytes(), /magic is 0x4c4d4747, not "GGUF"/],
    ['version 1', head(0, 0, 1).bytes(), /version 1 .*not supported/],
    ['version 4', head(0, 0, 4).bytes(), /version 4 is not supported/],
    ['big-endian', head(0, 0, 0x03000000).bytes(), /big-endian/],
    ['truncated counts', head(0, 0).bytes().subarray(0, 20), /truncated: key-value count/],
    ['huge kv count', head(0, 2 ** 40).bytes(), /key-value count 1099511627776 is larger/],
    ['huge tensor count', head(1n << 62n as unknown as number, 0).bytes(), /tensor count/],
    ['huge string length', head(0, 1).u64(1n << 60n).zeros(16).bytes(), /key 0: string length 1152921504606846976 is larger than the 16 bytes/],
    ['truncated value', head(0, 1).str('k').u32(4).raw([1, 2]).bytes(), /truncated: key "k" needs 4 bytes/],
    ['unknown value type', head(0, 1).str('k').u32(13).zeros(8).bytes(), /key "k" has unknown value type 13/],
    ['bad bool', head(0, 1).str('k').u32(7).u8(2).bytes(), /key "k" is a bool stored as 2/],
    ['bad utf-8', head(0, 1).str('k').u32(8).u64(2n).raw([0xc3, 0x28]).bytes(), /key "k" is not valid UTF-8/],
    ['duplicate key', head(0, 2).str('k').u32(0).u8(1).str('k').u32(0).u8(1).bytes(), /duplicate key "k"/],
    ['huge array', head(0, 1).str('k').u32(9).u32(5).u64(1n << 61n).zeros(64).bytes(), /key "k": array of 2305843009213693952 i32 elements needs at least/],
    ['huge string array', head(0, 1).str('k').u32(9).u32(8).u64(100n).zeros(64).bytes(), /array of 100 str elements/],
    ['array element type', head(0, 1).str('k').u32(9).u32(99).u64(0n).bytes(), /key "k" element has unknown value type 99/],
    ['deep nesting', (() => { const b = head(0, 1).str('k').u32(9); for (let i = 0; i < 40; i++) b.u32(9).u64(1n); return b.u32(0).u64(0n).bytes(); })(), /nested deeper than 16/],
    ['alignment not u32', head(0, 1).str('general.alignment').u32(10).u64(64n).bytes(), /"general.alignment" must be a u32 but is a u64/],
    ['alignment 0', head(0, 1).str('general.alignment').u32(4).u32(0).bytes(), /"general.alignment" = 0 is not a power of two/],
    ['alignment 48', head(0, 1).str('general.alignment').u32(4).u32(48).bytes(), /= 48 is not a power of two/],
    ['n_dims 5', info(head(1, 0), 't', [1n, 1n, 1n, 1n, 1n]).pad(32).zeros(32).bytes(), /tensor "t"\.n_dims 5 is more than 4/],
    ['zero dim', info(head(1, 0), 't', [4n, 0n]).pad(32).zeros(32).bytes(), /tensor "t"\.ne\[1\] is 0/],
    ['negative dim', info(head(1, 0), 't', [4n, -3n]).pad(32).zeros(32).bytes(), /tensor "t"\.ne\[1\] is negative \(-3\)/],
    ['overflowing dims', info(head(1, 0), 't', [1n << 40n, 1n << 40n]).pad(32).bytes(), /tensor "t": the element count .* overflows int64/],
    ['overflowing bytes', info(head(1, 0), 't', [1n << 31n, 1n << 31n], 0).pad(32).bytes(), /tensor "t": the byte size overflows int64/],
    ['unknown ggml type', info(head(1, 0), 't', [4n], 4).pad(32).zeros(32).bytes(), /tensor "t" has unknown ggml type 4/],
    ['ne0 not a block multiple', info(head(1, 0), 't', [16n, 2n], 2).pad(32).zeros(32).bytes(), /tensor "t"\.ne\[0\] = 16 is not a multiple of the q4_0 block size 32/],
    ['misaligned offset', info(info(head(2, 0), 'a', [4n]), 't', [4n], 0, 16n).pad(32).zeros(64).bytes(), /tensor "t" offset 16 is not a multiple of the alignment 32/],
    ['offset outside data', info(head(1, 0), 't', [4n], 0, 32n).pad(32).zeros(32).bytes(), /tensor "t" offset 32 \+ 16 bytes runs past the data section \(32 bytes\)/],
    ['huge offset', info(head(1, 0), 't', [4n], 0, 1n << 63n).pad(32).zeros(32).bytes(), /tensor "t" offset 9223372036854775808/],
    ['overlap', info(info(head(2, 0), 'a', [16n]), 'b', [4n], 0, 32n).pad(32).zeros(96).bytes(), /tensor "b" \[32, 48\) overlaps tensor "a" \[0, 64\)/],
    ['duplicate tensor', info(info(head(2, 0), 'a', [4n]), 'a', [4n], 0, 32n).pad(32).zeros(64).bytes(), /duplicate tensor "a"/],
    ['truncated tensor info', info(head(1, 0), 't'.repeat(20), [4n]).bytes().subarray(0, 54), /truncated: tensor "t{20}" n_dims needs 4 bytes at byte 52 but only 2 remain/],
    ['data missing', info(head(1, 0), 't', [4n]).bytes(), /starts past the end of the file/],
  ];
  for (const [label, bytes, message] of cases) {
    it(label, () => {
      expectKquantError(() => readGGUF(bytes), 'KQ_FORMAT', message);
      const path = join(tmp, `hostile-${label.replace(/\W+/g, '_')}.gguf`);
      writeFileSync(path, bytes);
      expectKquantError(() => readGGUF(path), 'KQ_FORMAT', message);
    });
  }

  it('a valid hand-built file parses (the builder is right)', () => {
    const f = readGGUF(info(info(head(2, 1).str('k').u32(4).u32(7), 'a', [4n]), 'b', [2n, 2n], 0, 32n).pad(32).zeros(64).bytes());
    expect(f.metadata).toEqual({ k: 7 });
    expect(f.tensors.map((t) => [t.name, t.offset, t.byteLength])).toEqual([['a', 128, 16], ['b', 160, 16]]);
  });

  it('offsets beyond 4 GB are representable (data missing is the error, not the arithmetic)', () => {
    expectKquantError(() => readGGUF(info(head(1, 0), 't', [4n], 0, 5n << 32n).pad(32).zeros(32).bytes()), 'KQ_FORMAT', /offset 21474836480 \+ 16 bytes runs past/);
  });

  it('a missing file is a Node error, not a format error', () => {
    expect(() => readGGUF(join(tmp, 'nope.gguf'))).toThrow(/ENOENT/);
  });

  it('tensor.read() on a file truncated after parsing is a format error', () => {
    const path = join(tmp, 'shrinks.gguf');
    writeFileSync(path, readFileSync(golden.path));
    const f = readGGUF(path);
    writeFileSync(path, readFileSync(golden.path).subarray(0, 2000));
    expectKquantError(() => f.tensors.at(-1)!.read(), 'KQ_FORMAT', /past the end of the file/);
  });
});

describe('gguf fuzz', () => {
  const valid = new Uint8Array(readFileSync(golden.path));

  function attempt(bytes: Uint8Array): 'ok' | 'error' {
    try {
      const f = readGGUF(bytes);
      for (const t of f.tensors) {
        expect(t.offset + t.byteLength).toBeLessThanOrEqual(bytes.length);
        expect(t.read().length).toBe(t.byteLength);
      }
      return 'ok';
    } catch (err) {
      if (!(err instanceof KquantError)) throw new Error(`non-KquantError: ${String(err)}`, { cause: err });
      expect(err.code).toBe('KQ_FORMAT');
      return 'error';
    }
  }

  it('golden.gguf: every truncation short of the last tensor\'s end is rejected, cutting only trailing padding is not', () => {
    for (let len = 0; len < valid.length; len++) {
      // Cutting only trailing padding after the last tensor still leaves a readable file.
      const expected = len >= golden.json.tensors.at(-1)!.abs_offset + golden.json.tensors.at(-1)!.nbytes ? 'ok' : 'error';
      if (attempt(valid.subarray(0, len)) !== expected) expect.fail(`length ${len}: expected ${expected}`);
    }
  });

  for (const [name, g, seed] of [['golden.gguf', golden, 9090], ['golden-a64.gguf', a64, 7117]] as const) {
    it(`${name}: random mutations give a KquantError or a well-formed result, never another exception or a hang`, () => {
      const valid = new Uint8Array(readFileSync(g.path));
      const dataOffset = g.json.data_offset;
      const next = rng(seed);
      const int = (n: number) => Math.floor(next() * n);
      const specials = [0n, 1n, 4n, 9n, 13n, 32n, 0xffffffffn, 1n << 32n, 1n << 62n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
      let errors = 0;
      const runs = 4000;
      const start = Date.now();
      for (let i = 0; i < runs; i++) {
        let bytes: Uint8Array;
        const kind = i % 4;
        if (kind === 0) {
          // A few random bytes, mostly in the header.
          bytes = valid.slice();
          for (let k = 1 + int(4); k > 0; k--) bytes[int(next() < 0.9 ? dataOffset : bytes.length)] = int(256);
        } else if (kind === 1) {
          // A special 64-bit value over any (unaligned) 8 header bytes: counts, lengths, dims, offsets.
          bytes = valid.slice();
          new DataView(bytes.buffer).setBigUint64(int(dataOffset - 8), specials[int(specials.length)]!, true);
        } else if (kind === 2) {
          // A small 32-bit value (types, n_dims, value types) over any 4 header bytes.
          bytes = valid.slice();
          new DataView(bytes.buffer).setUint32(int(dataOffset - 4), int(next() < 0.5 ? 16 : 64), true);
        } else {
          // Truncate and mutate at once.
          bytes = valid.slice(0, int(valid.length));
          if (bytes.length > 0) {
            const at = int(Math.min(bytes.length, dataOffset));
            bytes[at] = bytes[at]! ^ (1 << int(8));
          }
        }
        if (attempt(bytes) === 'error') errors++;
      }
      expect(errors).toBeGreaterThan(runs / 4);
      expect(Date.now() - start).toBeLessThan(30_000);
    });
  }
});
