// safetensors reader / writer and bnb 4-bit checkpoints: round trips (buffer and file), the exact byte layout
// of a hand-built file, hostile headers with the field they name, a mutation / truncation fuzz (only
// KquantErrors, never another exception), and bnb's serialized quant_state (README section 4.6).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  KquantError,
  bnbFromTensors,
  bnbQuantStateJson,
  bnbToTensors,
  dequantize4bit,
  dequantize4bitSync,
  encodeSafetensors,
  pythonFloatRepr,
  quantize4bit,
  quantize4bitSync,
  readSafetensors,
  toFloat16Sync,
  writeSafetensors,
  type SafeTensor,
  type SafetensorsFile,
} from '../lib/index.js';
import { randomFloats, rng } from './helpers/random.js';
import { expectKquantError } from './helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'kquant-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const enc = new TextEncoder();
const dec = new TextDecoder();

function sample(): Record<string, SafeTensor> {
  return {
    'w.f32': { dtype: 'F32', shape: [3, 5], data: randomFloats(15, 7) },
    'w.f16': { dtype: 'F16', shape: [7], data: toFloat16Sync(randomFloats(7, 8)) },
    'b.u8': { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) },
    'i.i64': { dtype: 'I64', shape: [2, 1], data: new BigInt64Array([-5n, 1n << 40n]) },
    'f.f64': { dtype: 'F64', shape: [], data: new Float64Array([Math.PI]) },
    'e.empty': { dtype: 'I32', shape: [0, 4], data: new Int32Array(0) },
    'm.bool': { dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 1]) },
    'k.i8': { dtype: 'I8', shape: [1], data: new Int8Array([-7]) },
  };
}

function bytesOf(t: SafeTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function expectSame(file: SafetensorsFile, tensors: Record<string, SafeTensor>, metadata: Record<string, string>): void {
  expect({ ...file.metadata }).toEqual(metadata);
  expect([...file.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const got = file.tensors.get(name)!;
    expect(got.dtype, name).toBe(t.dtype);
    expect(got.shape, name).toEqual(t.shape);
    expect(got.data.constructor, name).toBe(t.data.constructor);
    expect(got.data.length, name).toBe(t.data.length);
    expect(bytesOf(got), name).toEqual(bytesOf(t));
  }
}

describe('safetensors round trip', () => {
  const meta = { format: 'pt', note: 'héllo ✓', __proto__x: '1' };

  it('encode -> read gives identical tensors and metadata', () => {
    const tensors = sample();
    const bytes = encodeSafetensors(tensors, meta);
    expectSame(readSafetensors(bytes), tensors, meta);
    // Also from an unaligned copy (tensors must then be copied, not viewed).
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    expectSame(readSafetensors(shifted), tensors, meta);
    expectSame(readSafetensors(bytes.slice().buffer), tensors, meta);
  });

  it('write -> read from a file gives the same bytes as encode', () => {
    const tensors = sample();
    const path = join(tmp, 'rt.safetensors');
    const written = writeSafetensors(path, new Map(Object.entries(tensors)), meta);
    const disk = new Uint8Array(readFileSync(path));
    expect(written).toBe(disk.length);
    expect(disk).toEqual(encodeSafetensors(tensors, meta));
    expectSame(readSafetensors(path), tensors, meta);
  });

  it('views aligned data without copying', () => {
    const bytes = encodeSafetensors(sample());
    const f = readSafetensors(bytes);
    for (const t of f.tensors.values()) expect(t.data.buffer).toBe(bytes.buffer);
  });

  it('writes no __metadata__ when none is given, and reads empty metadata', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) } });
    expect(dec.decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))))).not.toContain('__metadata__');
    expect({ ...readSafetensors(bytes).metadata }).toEqual({});
  });

  it('rejects bad writer input naming the tensor', () => {
    expectKquantError(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Uint16Array(2) as never } }), 'KQ_DTYPE', /tensors\["a"\]\.data/);
    expectKquantError(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), 'KQ_LENGTH', /tensors\["a"\]\.shape/);
    expectKquantError(() => encodeSafetensors({ a: { dtype: 'Q4' as never, shape: [3], data: new Float32Array(3) } }), 'KQ_DTYPE', /tensors\["a"\]\.dtype/);
    expectKquantError(() => encodeSafetensors({ a: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, { k: 1 as never }), 'KQ_INVALID_ARGUMENT', /metadata\["k"\]/);
    expectKquantError(() => readSafetensors(42 as never), 'KQ_INVALID_ARGUMENT', /source/);
  });
});

describe('safetensors byte layout', () => {
  it('matches a hand-built file', () => {
    const bytes = encodeSafetensors(
      {
        b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
        a: { dtype: 'F32', shape: [1, 2], data: new Float32Array([1, -2]) },
      },
      { k: 'v' },
    );
    // Largest dtype first (then name), metadata first, compact JSON padded with spaces to a multiple of 8.
    const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    const n = Math.ceil(json.length / 8) * 8;
    const expected = new Uint8Array(8 + n + 11);
    new DataView(expected.buffer).setBigUint64(0, BigInt(n), true);
    expected.set(enc.encode(json.padEnd(n, ' ')), 8);
    expected.set([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 1, 2, 3], 8 + n);
    expect(bytes).toEqual(expected);
    expect(n % 8).toBe(0);
  });

  it('orders tensors as safetensors does: dtype enum order descending, then name', () => {
    const f = readSafetensors(encodeSafetensors(sample(), { a: 'b' }));
    expect([...f.tensors.keys()]).toEqual(['i.i64', 'f.f64', 'w.f32', 'e.empty', 'w.f16', 'k.i8', 'b.u8', 'm.bool']);
  });

  it('reads a file written by hand (other key order, unpadded header, gaps-free)', () => {
    const json = '{"x":{"data_offsets":[2,6],"shape":[2],"dtype":"BF16"},"y":{"dtype":"I16","shape":[1],"data_offsets":[0,2]},"__metadata__":{"a":"b"}}';
    const h = enc.encode(json);
    const file = new Uint8Array(8 + h.length + 6);
    new DataView(file.buffer).setBigUint64(0, BigInt(h.length), true);
    file.set(h, 8);
    file.set([0xff, 0xff, 0x80, 0x3f, 0x00, 0x40], 8 + h.length);
    const f = readSafetensors(file);
    expect({ ...f.metadata }).toEqual({ a: 'b' });
    expect([...f.tensors.get('x')!.data]).toEqual([0x3f80, 0x4000]);
    expect([...f.tensors.get('y')!.data]).toEqual([-1]);
  });
});

// ---- hostile input ----

function withHeader(json: string, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const h = enc.encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors hostile input', () => {
  const four = new Uint8Array(4);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /too short for the 8-byte header length/],
    ['header past end', withHeader('{}', four, 1000n), /header length 1000 runs past the end/],
    ['huge header length', withHeader('{}', four, 1n << 63n), /exceeds the limit/],
    ['not JSON', withHeader('{"a":', four), /not valid JSON/],
    ['not an object', withHeader('[1,2]', four), /must start with '\{'/],
    ['bad UTF-8', (() => { const b = withHeader('{"a":1}'); b[10] = 0xff; return b; })(), /not valid UTF-8/],
    ['unknown dtype', withHeader('{"t":{"dtype":"F4","shape":[4],"data_offsets":[0,4]}}', four), /tensor "t"\.dtype "F4"/],
    ['bad shape', withHeader('{"t":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}}', four), /tensor "t"\.shape\[0\]/],
    ['shape not array', withHeader('{"t":{"dtype":"U8","shape":4,"data_offsets":[0,4]}}', four), /tensor "t"\.shape must be an array/],
    ['byte length mismatch', withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', four), /tensor "t": shape \[2\] of F32 needs 8 bytes/],
    ['offsets past data', withHeader('{"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}', four), /tensor "t"\.data_offsets \[0, 8\] run past/],
    ['offsets reversed', withHeader('{"t":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', four), /tensor "t"\.data_offsets \[4, 0\] end before begin/],
    ['offsets not ints', withHeader('{"t":{"dtype":"U8","shape":[4],"data_offsets":[0.5,4]}}', four), /tensor "t"\.data_offsets begin/],
    ['overlap', withHeader('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', four), /tensor "b"\.data_offsets \[2, 4\] overlap tensor "a"/],
    ['gap', withHeader('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', four), /tensor "a"\.data_offsets \[2, 4\] leave a gap/],
    ['trailing bytes', withHeader('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', four), /cover 2 bytes but the data buffer has 4/],
    ['metadata not strings', withHeader('{"__metadata__":{"k":1}}'), /__metadata__\["k"\] must be a string/],
    ['tensor not object', withHeader('{"t":[1]}'), /tensor "t" must be an object/],
    ['overflowing shape', withHeader('{"t":{"dtype":"U8","shape":[9007199254740991,9007199254740991],"data_offsets":[0,4]}}', four), /tensor "t": shape/],
  ];
  for (const [label, bytes, message] of cases) {
    it(label, () => {
      expectKquantError(() => readSafetensors(bytes), 'KQ_FORMAT', message);
      const path = join(tmp, `hostile-${label.replace(/\W+/g, '_')}.safetensors`);
      writeFileSync(path, bytes);
      expectKquantError(() => readSafetensors(path), 'KQ_FORMAT', message);
    });
  }

  it('a missing file is a Node error, not a format error', () => {
    expect(() => readSafetensors(join(tmp, 'nope.safetensors'))).toThrow(/ENOENT/);
  });
});

describe('safetensors fuzz', () => {
  const valid = encodeSafetensors(sample(), { format: 'pt' });
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));

  function attempt(bytes: Uint8Array): 'ok' | 'error' {
    try {
      const f = readSafetensors(bytes);
      for (const t of f.tensors.values()) {
        expect(t.data.byteOffset + t.data.byteLength).toBeLessThanOrEqual(t.data.buffer.byteLength);
      }
      return 'ok';
    } catch (err) {
      if (!(err instanceof KquantError)) throw new Error(`non-KquantError: ${String(err)}`, { cause: err });
      expect(err.code).toBe('KQ_FORMAT');
      return 'error';
    }
  }

  it('every truncation and extension is rejected', () => {
    for (let len = 0; len < valid.length; len++) expect(attempt(valid.subarray(0, len)), `length ${len}`).toBe('error');
    for (const extra of [1, 7, 64]) {
      const longer = new Uint8Array(valid.length + extra);
      longer.set(valid);
      expect(attempt(longer)).toBe('error');
    }
  });

  it('random mutations give a KquantError or a well-formed result, never another exception', () => {
    const next = rng(4242);
    const int = (n: number) => Math.floor(next() * n);
    const text = dec.decode(valid.subarray(8, headerEnd));
    const tokens = ['0', '1', '-1', '9', '1e400', '4294967296', '18446744073709551616', '""', '"U8"', '"F32"', 'null', '[]', '{}', '[0,0]', ',', ':', '"', '\\', '\u0000', '9007199254740993'];
    let errors = 0;
    const runs = 4000;
    for (let i = 0; i < runs; i++) {
      let bytes: Uint8Array;
      const kind = i % 4;
      if (kind === 0) {
        // Flip a few random bytes, mostly in the length prefix and header.
        bytes = valid.slice();
        for (let k = 1 + int(4); k > 0; k--) bytes[int(next() < 0.9 ? headerEnd : bytes.length)] = int(256);
      } else if (kind === 1) {
        // Replace a number or token in the JSON text, keeping the declared length consistent.
        const pos = int(text.length);
        const cut = int(6);
        const mutated = text.slice(0, pos) + tokens[int(tokens.length)] + text.slice(pos + cut);
        bytes = withHeader(mutated, valid.subarray(headerEnd));
      } else if (kind === 2) {
        // A wrong declared header length.
        bytes = valid.slice();
        const v = next() < 0.5 ? BigInt(int(headerEnd + 64)) : BigInt(int(2 ** 32)) * BigInt(int(2 ** 32));
        new DataView(bytes.buffer).setBigUint64(0, v, true);
      } else {
        // Truncate and mutate at once.
        bytes = valid.slice(0, int(valid.length));
        if (bytes.length > 0) {
          const at = int(bytes.length);
          bytes[at] = bytes[at]! ^ (1 << int(8));
        }
      }
      if (attempt(bytes) === 'error') errors++;
    }
    expect(errors).toBeGreaterThan(runs / 2);
  });
});

// ---- bnb checkpoints ----

// README section 4.6, "Serialized form": the quant_state JSON of case 4bit_nf4_bs64_nested_w_outlier_300x333_f16.
// The case's tensors are not in this fixture subset; its parameters and nested_offset are those of the example.
const README = readFileSync(fileURLToPath(new URL('./fixtures/bnb/README.md', import.meta.url)), 'utf8');
const EXAMPLE = '{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [300, 333], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5076510310173035}';
const EXAMPLE_OFFSET = 0.5076510310173035;

describe('bnb checkpoint', () => {
  it('the README example is the one this test uses', () => {
    expect(README).toContain(`\`${EXAMPLE}\``);
    expect(Math.fround(EXAMPLE_OFFSET)).toBe(EXAMPLE_OFFSET);
  });

  it('quant_state JSON bytes equal bnb\'s for the README case', () => {
    const src = toFloat16Sync(randomFloats(300 * 333, 31));
    const q = quantize4bitSync(src, { dtype: 'float16', shape: [300, 333], quantType: 'nf4', blockSize: 64, compressStatistics: true, nestedOffset: EXAMPLE_OFFSET });
    expect(bnbQuantStateJson(q.state)).toBe(EXAMPLE);
    const t = bnbToTensors('weight', q);
    expect(Object.keys(t)).toEqual(['weight', 'weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map', 'weight.quant_state.bitsandbytes__nf4']);
    expect(t['weight.quant_state.bitsandbytes__nf4']!.data).toEqual(enc.encode(EXAMPLE));
    expect(t['weight.quant_state.bitsandbytes__nf4']!.shape).toEqual([EXAMPLE.length]);
    expect(t.weight!.shape).toEqual([(300 * 333 + 1) >> 1, 1]);
    expect(t['weight.absmax']!.dtype).toBe('U8');
    expect(t['weight.nested_quant_map']!.shape).toEqual([256]);
  });

  it('Python float repr', () => {
    const table: [number, string][] = [
      [0.5076510310173035, '0.5076510310173035'],
      [1, '1.0'],
      [-2.5, '-2.5'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1.5e-7, '1.5e-07'],
      [1e15, '1000000000000000.0'],
      [1e16, '1e+16'],
      [123456.789, '123456.789'],
      [3.4028234663852886e38, '3.4028234663852886e+38'],
      [Math.fround(0.1), '0.10000000149011612'],
      [-0, '-0.0'],
    ];
    for (const [x, s] of table) expect(pythonFloatRepr(x), String(x)).toBe(s);
  });

  for (const quantType of ['nf4', 'fp4'] as const) {
    for (const compressStatistics of [true, false]) {
      it(`${quantType} compress=${compressStatistics}: tensors -> safetensors -> tensors dequantizes identically`, async () => {
        const src = randomFloats(3 * 1000 + 1, 99, 2);
        const q = await quantize4bit(src, { quantType, blockSize: 128, compressStatistics, shape: [3001] });
        const path = join(tmp, `bnb-${quantType}-${compressStatistics}.safetensors`);
        writeSafetensors(path, bnbToTensors('model.layer.weight', q), { format: 'pt' });
        const fromFile = readSafetensors(path);
        const fromBuffer = readSafetensors(encodeSafetensors(bnbToTensors('model.layer.weight', q)));
        const direct = dequantize4bitSync(q);
        for (const f of [fromFile, fromBuffer]) {
          const back = bnbFromTensors('model.layer.weight', f.tensors);
          expect(back.state.quantType).toBe(quantType);
          expect(back.state.nested === undefined).toBe(!compressStatistics);
          expect(back.packed).toEqual(q.packed);
          expect(await dequantize4bit(back)).toEqual(direct);
        }
      });
    }
  }

  it('the README case round-trips through safetensors (f16 output)', () => {
    const src = toFloat16Sync(randomFloats(300 * 333, 32));
    const q = quantize4bitSync(src, { dtype: 'float16', shape: [300, 333], blockSize: 64, compressStatistics: true, nestedOffset: EXAMPLE_OFFSET });
    const back = bnbFromTensors('weight', readSafetensors(encodeSafetensors(bnbToTensors('weight', q))).tensors);
    expect(back.state.shape).toEqual([300, 333]);
    expect(back.state.nested?.offset).toBe(EXAMPLE_OFFSET);
    expect(dequantize4bitSync(back)).toEqual(dequantize4bitSync(q));
  });

  it('rejects incomplete or inconsistent checkpoints naming the tensor or field', () => {
    const q = quantize4bitSync(randomFloats(512, 5), { compressStatistics: true });
    const good = bnbToTensors('w', q);
    const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));
    expectKquantError(() => bnbFromTensors('w', without('w.nested_absmax')), 'KQ_FORMAT', /"w\.nested_absmax" is missing/);
    expectKquantError(() => bnbFromTensors('w', without('w.quant_state.bitsandbytes__nf4')), 'KQ_FORMAT', /bitsandbytes__nf4 \/ __fp4 but found 0/);
    const withJson = (json: string) => ({ ...good, 'w.quant_state.bitsandbytes__nf4': { dtype: 'U8' as const, shape: [json.length], data: enc.encode(json) } });
    expectKquantError(() => bnbFromTensors('w', withJson('{"quant_type": "fp4"}')), 'KQ_FORMAT', /quant_type is "fp4"/);
    expectKquantError(() => bnbFromTensors('w', withJson('{"quant_type": "nf4", "blocksize": 64, "dtype": "float8", "shape": [512]}')), 'KQ_FORMAT', /\.dtype must be one of/);
    expectKquantError(() => bnbFromTensors('w', withJson('nope')), 'KQ_FORMAT', /not UTF-8 JSON/);
    expectKquantError(() => bnbFromTensors('w', { ...good, 'w.absmax': { dtype: 'F32', shape: [8], data: new Float32Array(8) } }), 'KQ_FORMAT', /"w\.absmax" must be U8/);
  });
});
