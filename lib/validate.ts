// Argument checks with messages that name the parameter, what was expected and what came.
import { KquantError, type KquantErrorCode } from './errors.js';

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

export function fail(code: KquantErrorCode, message: string): never {
  throw new KquantError(code, message);
}

export function expectFloat32Array(value: unknown, name: string): Float32Array {
  if (!(value instanceof Float32Array)) fail('KQ_DTYPE', `Expected a Float32Array for ${name} but received ${describe(value)}`);
  return value;
}

export function expectUint16Array(value: unknown, name: string): Uint16Array {
  if (!(value instanceof Uint16Array)) {
    fail('KQ_DTYPE', `Expected a Uint16Array (f16/bf16 bits) for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function expectNonEmpty(value: { length: number }, name: string): void {
  if (value.length === 0) fail('KQ_SHAPE', `Expected a non-empty ${name} but received 0 elements`);
}

export function expectInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail('KQ_INVALID_ARGUMENT', `Expected an integer in [${min}, ${max}] for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function expectOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail('KQ_INVALID_ARGUMENT', `Expected one of ${allowed.map((a) => `'${a}'`).join(', ')} for ${name} but received ${describe(value)}`);
  }
  return value as T;
}

export function expectFiniteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(typeof value === 'number' ? 'KQ_NON_FINITE' : 'KQ_INVALID_ARGUMENT', `Expected a finite number for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function expectObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('KQ_INVALID_ARGUMENT', `Expected an options object for ${name} but received ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

// A shape: non-negative safe integers whose product is the element count (checked against `length`).
export function expectShape(value: unknown, name: string, length: number): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 8) {
    fail('KQ_SHAPE', `Expected an array of 1 to 8 dimensions for ${name} but received ${describe(value)}`);
  }
  let count = 1;
  value.forEach((dim, i) => {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      fail('KQ_SHAPE', `Expected a non-negative integer for ${name}[${i}] but received ${describe(dim)}`);
    }
    count *= dim;
  });
  if (count !== length) {
    fail('KQ_LENGTH', `${name} [${value.join(', ')}] holds ${count} elements but the data has ${length}`);
  }
  return [...value] as number[];
}
