// A small host tensor: a TypedArray, its row-major shape and its dtype. f16 and bf16 are held as
// Uint16Array bit patterns, so the dtype says which of the two a Uint16Array means.
import { describe, expectShape, fail } from './validate.js';

export type DType = 'f32' | 'f16' | 'bf16' | 'i8' | 'u8' | 'i32' | 'u32';

export interface DTypeArrays {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  i8: Int8Array;
  u8: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
}

export interface HostTensor<D extends DType = DType> {
  data: DTypeArrays[D];
  shape: number[];
  dtype: D;
}

const arrayTypes = {
  f32: Float32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i8: Int8Array,
  u8: Uint8Array,
  i32: Int32Array,
  u32: Uint32Array,
} as const;

export function dtypeSize(dtype: DType): number {
  return arrayTypes[dtype].BYTES_PER_ELEMENT;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Wraps existing data (no copy) after checking that it matches the dtype and the shape. */
export function tensor<D extends DType>(data: DTypeArrays[D], shape: readonly number[], dtype: D): HostTensor<D> {
  const type = arrayTypes[dtype];
  if (!type) fail('KQ_DTYPE', `Expected one of ${Object.keys(arrayTypes).join(', ')} for dtype but received ${describe(dtype)}`);
  if (!(data instanceof type)) fail('KQ_DTYPE', `Expected a ${type.name} for data of dtype ${dtype} but received ${describe(data)}`);
  return { data, shape: expectShape(shape, 'shape', data.length), dtype };
}

/** A new zero-filled tensor. */
export function zeros<D extends DType>(shape: readonly number[], dtype: D): HostTensor<D> {
  const type = arrayTypes[dtype];
  const data = new type(numel(expectShape(shape, 'shape', numel(shape)))) as DTypeArrays[D];
  return { data, shape: [...shape], dtype };
}
