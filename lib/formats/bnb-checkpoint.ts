// bitsandbytes 4-bit state dicts (transformers / bnb `Params4bit`, QuantState.as_dict(packed=True)) as
// safetensors tensors, with exactly bnb's names (test/fixtures/bnb/README.md, section 4.6, "Serialized form"):
//   <name>                                  U8  [(n + 1) >> 1, 1]  packed codes
//   <name>.absmax                           F32 [nblocks], or U8 [nblocks] when double-quantized
//   <name>.quant_map                        F32 [16]
//   <name>.nested_absmax                    F32 [ceil(nblocks / nested_blocksize)]   (double quantization)
//   <name>.nested_quant_map                 F32 [256]                                (double quantization)
//   <name>.quant_state.bitsandbytes__<nf4|fp4>  U8 [len]  UTF-8 JSON as Python's json.dumps writes it
// The JSON keys come in bnb's order: quant_type, blocksize, dtype, shape, then nested_blocksize, nested_dtype,
// nested_offset; nested_offset is the f32 offset widened to a double and printed as Python's repr does.
import { fail, describe } from '../validate.js';
import type { BnbDType, NestedState, Quant4Type, Quantized4bit, QuantState4bit } from '../ops/bnb.js';
import type { SafeTensor, SafeTensors, SafetensorsDType } from './safetensors.js';

const QUANT_TYPES: readonly Quant4Type[] = ['nf4', 'fp4'];
const DTYPES: readonly BnbDType[] = ['float32', 'float16', 'bfloat16'];

/** Python's repr() of a float (a double): shortest round-trip digits, exponent form below 1e-4 or from 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential());
  if (!m) throw new Error(`unexpected toExponential() output for ${x}`);
  const digits = m[1]! + (m[2] ?? '');
  const decpt = Number(m[3]) + 1; // value = 0.digits × 10^decpt
  if (decpt <= -4 || decpt > 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = decpt - 1;
    return `${sign}${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

function expectInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail('KQ_INVALID_ARGUMENT', `Expected a positive integer for ${name} but received ${describe(value)}`);
  }
  return value;
}

function expectShapeArray(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    fail('KQ_SHAPE', `Expected an array of non-negative integers for ${name} but received ${describe(value)}`);
  }
  return [...(value as number[])];
}

/** bnb's packed quant_state JSON for a 4-bit state, byte for byte as json.dumps writes it. */
export function bnbQuantStateJson(state: QuantState4bit): string {
  const quantType = state.quantType;
  if (!QUANT_TYPES.includes(quantType)) fail('KQ_INVALID_ARGUMENT', `Expected 'nf4' or 'fp4' for state.quantType but received ${describe(quantType)}`);
  if (!DTYPES.includes(state.dtype)) fail('KQ_INVALID_ARGUMENT', `Expected 'float32', 'float16' or 'bfloat16' for state.dtype but received ${describe(state.dtype)}`);
  const blockSize = expectInt(state.blockSize, 'state.blockSize');
  const shape = expectShapeArray(state.shape, 'state.shape');
  let s = `{"quant_type": "${quantType}", "blocksize": ${blockSize}, "dtype": "${state.dtype}", "shape": [${shape.join(', ')}]`;
  if (state.nested !== undefined) {
    const offset = state.nested.offset;
    if (typeof offset !== 'number' || !Number.isFinite(offset)) {
      fail('KQ_INVALID_ARGUMENT', `Expected a finite number for state.nested.offset but received ${describe(offset)}`);
    }
    const nb = expectInt(state.nested.blockSize, 'state.nested.blockSize');
    s += `, "nested_blocksize": ${nb}, "nested_dtype": "float32", "nested_offset": ${pythonFloatRepr(Math.fround(offset))}`;
  }
  return `${s}}`;
}

/** The safetensors tensors bnb / transformers save for the 4-bit weight `name` (e.g. "model.layers.0.mlp.weight"). */
export function bnbToTensors(name: string, q: Quantized4bit): Record<string, SafeTensor> {
  if (typeof name !== 'string' || name.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-empty tensor name for name but received ${describe(name)}`);
  if (q === null || typeof q !== 'object' || !(q.packed instanceof Uint8Array) || q.state === null || typeof q.state !== 'object') {
    fail('KQ_INVALID_ARGUMENT', `Expected a Quantized4bit {packed, state} for q but received ${describe(q)}`);
  }
  const { state } = q;
  const json = new TextEncoder().encode(bnbQuantStateJson(state));
  if (!(state.code instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for q.state.code but received ${describe(state.code)}`);
  const entries: [string, SafeTensor][] = [[name, { dtype: 'U8', shape: [q.packed.length, 1], data: q.packed }]];
  if (state.nested !== undefined) {
    if (!(state.absmax instanceof Uint8Array)) fail('KQ_DTYPE', `Expected a Uint8Array for q.state.absmax (double-quantized) but received ${describe(state.absmax)}`);
    if (!(state.nested.absmax instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for q.state.nested.absmax but received ${describe(state.nested.absmax)}`);
    if (!(state.nested.code instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for q.state.nested.code but received ${describe(state.nested.code)}`);
    entries.push([`${name}.absmax`, { dtype: 'U8', shape: [state.absmax.length], data: state.absmax }]);
  } else {
    if (!(state.absmax instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for q.state.absmax but received ${describe(state.absmax)}`);
    entries.push([`${name}.absmax`, { dtype: 'F32', shape: [state.absmax.length], data: state.absmax }]);
  }
  entries.push([`${name}.quant_map`, { dtype: 'F32', shape: [state.code.length], data: state.code }]);
  if (state.nested !== undefined) {
    entries.push([`${name}.nested_absmax`, { dtype: 'F32', shape: [state.nested.absmax.length], data: state.nested.absmax }]);
    entries.push([`${name}.nested_quant_map`, { dtype: 'F32', shape: [state.nested.code.length], data: state.nested.code }]);
  }
  entries.push([`${name}.quant_state.bitsandbytes__${state.quantType}`, { dtype: 'U8', shape: [json.length], data: json }]);
  return Object.fromEntries(entries) as Record<string, SafeTensor>;
}

function lookup(tensors: SafeTensors, key: string): SafeTensor | undefined {
  if (tensors instanceof Map) return tensors.get(key);
  return Object.hasOwn(tensors, key) ? tensors[key] : undefined;
}

function need<T>(tensors: SafeTensors, key: string, dtype: SafetensorsDType, ctor: new (n: number) => T): T {
  const t = lookup(tensors, key);
  if (t === undefined) fail('KQ_FORMAT', `bnb checkpoint: tensor ${JSON.stringify(key)} is missing`);
  if (t.dtype !== dtype || !(t.data instanceof (ctor as unknown as typeof Uint8Array))) {
    fail('KQ_FORMAT', `bnb checkpoint: tensor ${JSON.stringify(key)} must be ${dtype} but is ${describe(t.dtype)} (${describe(t.data)})`);
  }
  return t.data as unknown as T;
}

/** Rebuilds the Quantized4bit that bnbToTensors (or bnb / transformers) saved for `name`; usable by dequantize4bit. */
export function bnbFromTensors(name: string, tensors: SafeTensors): Quantized4bit {
  if (typeof name !== 'string' || name.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a non-empty tensor name for name but received ${describe(name)}`);
  if (tensors === null || typeof tensors !== 'object') fail('KQ_INVALID_ARGUMENT', `Expected a Map or object of tensors for tensors but received ${describe(tensors)}`);
  const found = QUANT_TYPES.filter((t) => lookup(tensors, `${name}.quant_state.bitsandbytes__${t}`) !== undefined);
  if (found.length !== 1) {
    fail('KQ_FORMAT', `bnb checkpoint: expected exactly one of ${name}.quant_state.bitsandbytes__nf4 / __fp4 but found ${found.length}`);
  }
  const suffix = found[0]!;
  const stateKey = `${name}.quant_state.bitsandbytes__${suffix}`;
  const bytes = need(tensors, stateKey, 'U8', Uint8Array);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    fail('KQ_FORMAT', `bnb checkpoint: ${stateKey} is not UTF-8 JSON (${(err as Error)?.message ?? String(err)})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('KQ_FORMAT', `bnb checkpoint: ${stateKey} is not a JSON object`);
  const s = json as Record<string, unknown>;
  const field = (k: string) => `${stateKey}.${k}`;
  if (s.quant_type !== suffix) fail('KQ_FORMAT', `bnb checkpoint: ${field('quant_type')} is ${describe(s.quant_type)} but the tensor name says '${suffix}'`);
  if (typeof s.dtype !== 'string' || !(DTYPES as readonly string[]).includes(s.dtype)) {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('dtype')} must be one of ${DTYPES.join(', ')} but is ${describe(s.dtype)}`);
  }
  const blockSize = s.blocksize;
  if (typeof blockSize !== 'number' || !Number.isSafeInteger(blockSize) || blockSize <= 0) {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('blocksize')} must be a positive integer but is ${describe(blockSize)}`);
  }
  const shape = s.shape;
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('shape')} must be an array of non-negative integers but is ${describe(shape)}`);
  }
  const packed = need(tensors, name, 'U8', Uint8Array);
  const code = need(tensors, `${name}.quant_map`, 'F32', Float32Array);
  const base = { quantType: suffix, blockSize, dtype: s.dtype as BnbDType, shape: [...(shape as number[])], code };
  if (s.nested_offset === undefined && s.nested_blocksize === undefined) {
    const absmax = need(tensors, `${name}.absmax`, 'F32', Float32Array);
    return { packed, state: { ...base, absmax } };
  }
  const nestedBlockSize = s.nested_blocksize;
  if (typeof nestedBlockSize !== 'number' || !Number.isSafeInteger(nestedBlockSize) || nestedBlockSize <= 0) {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('nested_blocksize')} must be a positive integer but is ${describe(nestedBlockSize)}`);
  }
  if (s.nested_dtype !== undefined && s.nested_dtype !== 'float32') {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('nested_dtype')} must be 'float32' but is ${describe(s.nested_dtype)}`);
  }
  const offset = s.nested_offset;
  if (typeof offset !== 'number' || !Number.isFinite(offset)) {
    fail('KQ_FORMAT', `bnb checkpoint: ${field('nested_offset')} must be a finite number but is ${describe(offset)}`);
  }
  const nested: NestedState = {
    absmax: need(tensors, `${name}.nested_absmax`, 'F32', Float32Array),
    code: need(tensors, `${name}.nested_quant_map`, 'F32', Float32Array),
    blockSize: nestedBlockSize,
    offset: Math.fround(offset),
  };
  const absmax = need(tensors, `${name}.absmax`, 'U8', Uint8Array);
  return { packed, state: { ...base, absmax, nested } };
}
