// f32 <-> f16 / bf16, round-to-nearest-even with NaN, ±Infinity and subnormals exact. Half-precision
// values travel as their bit patterns in a Uint16Array (F16C / AVX-512 on the CPU where present).
import { HalfKind, native } from '../binding.js';
import { resolveDevice, type Device } from '../backend.js';
import { callAsync, callSync } from '../errors.js';
import { expectFloat32Array, expectObject, expectUint16Array } from '../validate.js';

export interface ConvertOptions {
  device?: Device;
}

function narrow(kind: HalfKind, srcArg: unknown, options: unknown, async: boolean) {
  const src = expectFloat32Array(srcArg, 'src');
  const device = resolveDevice(expectObject(options, 'options').device);
  const out = new Uint16Array(src.length);
  return { out, run: () => native.toHalf(src, out, kind, device, async) };
}

function widen(kind: HalfKind, srcArg: unknown, options: unknown, async: boolean) {
  const src = expectUint16Array(srcArg, 'src');
  const device = resolveDevice(expectObject(options, 'options').device);
  const out = new Float32Array(src.length);
  return { out, run: () => native.fromHalf(src, out, kind, device, async) };
}

/** f32 -> IEEE f16 bits. */
export async function toFloat16(src: Float32Array, options?: ConvertOptions): Promise<Uint16Array> {
  const op = narrow(HalfKind.f16, src, options, true);
  await callAsync(op.run as () => Promise<void>);
  return op.out;
}
export function toFloat16Sync(src: Float32Array, options?: ConvertOptions): Uint16Array {
  const op = narrow(HalfKind.f16, src, options, false);
  callSync(op.run);
  return op.out;
}

/** IEEE f16 bits -> f32 (exact). */
export async function fromFloat16(src: Uint16Array, options?: ConvertOptions): Promise<Float32Array> {
  const op = widen(HalfKind.f16, src, options, true);
  await callAsync(op.run as () => Promise<void>);
  return op.out;
}
export function fromFloat16Sync(src: Uint16Array, options?: ConvertOptions): Float32Array {
  const op = widen(HalfKind.f16, src, options, false);
  callSync(op.run);
  return op.out;
}

/** f32 -> bfloat16 bits (the top 16 bits of an f32, rounded to nearest even). */
export async function toBFloat16(src: Float32Array, options?: ConvertOptions): Promise<Uint16Array> {
  const op = narrow(HalfKind.bf16, src, options, true);
  await callAsync(op.run as () => Promise<void>);
  return op.out;
}
export function toBFloat16Sync(src: Float32Array, options?: ConvertOptions): Uint16Array {
  const op = narrow(HalfKind.bf16, src, options, false);
  callSync(op.run);
  return op.out;
}

/** bfloat16 bits -> f32 (exact). */
export async function fromBFloat16(src: Uint16Array, options?: ConvertOptions): Promise<Float32Array> {
  const op = widen(HalfKind.bf16, src, options, true);
  await callAsync(op.run as () => Promise<void>);
  return op.out;
}
export function fromBFloat16Sync(src: Uint16Array, options?: ConvertOptions): Float32Array {
  const op = widen(HalfKind.bf16, src, options, false);
  callSync(op.run);
  return op.out;
}
