// Bad input gets a KquantError with a stable code and a message naming the argument — never a crash.
import { describe, expect, it } from 'vitest';
import {
  KquantError,
  backend,
  dequantizeAbsmaxSync,
  dequantizeZeroPointSync,
  quantizeAbsmax,
  quantizeAbsmaxSync,
  quantizeStaticSync,
  quantizeZeroPointSync,
  toFloat16Sync,
  fromBFloat16Sync,
  type AbsmaxQuantized,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';


const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));

describe('KquantError', () => {
  it('is exported, named and coded', () => {
    const err = new KquantError('KQ_SHAPE', 'bad');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('KquantError');
    expect(err.code).toBe('KQ_SHAPE');
  });
});

describe('quantize input checks', () => {
  it('rejects the wrong dtype for src', () => {
    expectKquantError(() => quantizeAbsmaxSync(new Float64Array(4) as unknown as Float32Array), 'KQ_DTYPE', /Float32Array for src but received Float64Array/);
    expectKquantError(() => quantizeAbsmaxSync([1, 2, 3] as unknown as Float32Array), 'KQ_DTYPE', /src/);
  });

  it('rejects zero-size tensors', () => {
    expectKquantError(() => quantizeAbsmaxSync(new Float32Array(0)), 'KQ_SHAPE', /non-empty src/);
    expectKquantError(() => quantizeZeroPointSync(new Float32Array(0)), 'KQ_SHAPE', /non-empty src/);
  });

  it('rejects shapes that do not match the length', () => {
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [8, 9] }), 'KQ_LENGTH', /options.shape \[8, 9\] holds 72 elements but the data has 64/);
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [-8, -8] }), 'KQ_SHAPE', /options.shape\[0\]/);
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [] }), 'KQ_SHAPE', /options.shape/);
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [8, 8.5] as number[] }), 'KQ_SHAPE', /options.shape\[1\]/);
  });

  it('rejects bad axes and block sizes', () => {
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [8, 8], axis: 2 }), 'KQ_INVALID_ARGUMENT', /options.axis/);
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [8, 8], axis: -3 }), 'KQ_INVALID_ARGUMENT', /options.axis/);
    expectKquantError(() => quantizeAbsmaxSync(x, { blockSize: 24 }), 'KQ_SHAPE', /blockSize to divide the last dimension \(64\) but received 24/);
    expectKquantError(() => quantizeAbsmaxSync(x, { blockSize: 8 }), 'KQ_INVALID_ARGUMENT', /options.blockSize/);
    expectKquantError(() => quantizeAbsmaxSync(x, { blockSize: 32, axis: 0 }), 'KQ_INVALID_ARGUMENT', /at most one of options.axis and options.blockSize/);
    expectKquantError(() => quantizeAbsmaxSync(x, { shape: [2, 32], blockSize: 64 }), 'KQ_SHAPE', /last dimension \(32\)/);
  });

  it('rejects bad option values', () => {
    expectKquantError(() => quantizeZeroPointSync(x, { dtype: 'int4' as 'int8' }), 'KQ_INVALID_ARGUMENT', /options.dtype/);
    expectKquantError(() => quantizeAbsmaxSync(x, { device: 'tpu' as 'cpu' }), 'KQ_INVALID_ARGUMENT', /options.device/);
    expectKquantError(() => quantizeAbsmaxSync(x, 7 as unknown as object), 'KQ_INVALID_ARGUMENT', /options/);
  });

  it('rejects NaN and Infinity, naming the element (sync and async)', async () => {
    for (const [value, word] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
      for (let i = 0; i < 3; i++) {
        const bad = new Float32Array(1000).fill(0.25);
        const at = [0, 517, 999][i]!;
        bad[at] = value;
        expectKquantError(() => quantizeAbsmaxSync(bad), 'KQ_NON_FINITE', new RegExp(`src\\[${at}\\] is ${word}`));
        expectKquantError(() => quantizeZeroPointSync(bad, { blockSize: 100 }), 'KQ_NON_FINITE', new RegExp(`src\\[${at}\\]`));
        expectKquantError(() => quantizeAbsmaxSync(bad, { shape: [10, 100], axis: 1 }), 'KQ_NON_FINITE', new RegExp(`src\\[${at}\\]`));
      }
    }
    const bad = new Float32Array(100_000).fill(1);
    bad[77_777] = NaN;
    const rejection = await quantizeAbsmax(bad).catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(KquantError);
    expect((rejection as KquantError).code).toBe('KQ_NON_FINITE');
    expect((rejection as KquantError).message).toMatch(/src\[77777\] is NaN/);
    // The async error points at the caller, not only at the event loop.
    expect((rejection as KquantError).stack).toMatch(/errors\.test\.ts/);
  });
});

describe('dequantize input checks', () => {
  const good = quantizeAbsmaxSync(x, { blockSize: 16 });

  it('rejects values of the wrong type or length', () => {
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, values: new Uint8Array(64) } as unknown as AbsmaxQuantized), 'KQ_DTYPE', /Int8Array for q.values but received Uint8Array/);
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, values: new Int8Array(63) }), 'KQ_LENGTH', /q.shape/);
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, values: new Int8Array(0), shape: [0] }), 'KQ_SHAPE', /non-empty q.values/);
  });

  it('rejects scales that do not match the groups, or are not positive and finite', () => {
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, scales: new Float32Array(3) }), 'KQ_LENGTH', /q.scales to have 4 entries/);
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, scales: new Float64Array(4) as unknown as Float32Array }), 'KQ_DTYPE', /Float32Array for q.scales/);
    const zeroScale = Float32Array.from(good.scales!);
    zeroScale[2] = 0;
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, scales: zeroScale }), 'KQ_INVALID_ARGUMENT', /scales\[2\] is 0/);
    const nanScale = Float32Array.from(good.scales!);
    nanScale[1] = NaN;
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, scales: nanScale }), 'KQ_INVALID_ARGUMENT', /scales\[1\]/);
    expectKquantError(() => dequantizeAbsmaxSync({ ...good, granularity: 'block', blockSize: undefined }), 'KQ_INVALID_ARGUMENT', /q.blockSize/);
  });

  it('rejects zero points outside the stored type or not integers', () => {
    const q = quantizeZeroPointSync(x, { dtype: 'uint8' });
    expectKquantError(() => dequantizeZeroPointSync({ ...q, zeroPoint: 300 }), 'KQ_INVALID_ARGUMENT', /zeroPoints\[0\] is 300; expected an integer in \[0, 255\]/);
    expectKquantError(() => dequantizeZeroPointSync({ ...q, zeroPoint: 1.5 }), 'KQ_INVALID_ARGUMENT', /integer for q.zeroPoint/);
    expectKquantError(() => dequantizeZeroPointSync({ ...q, scale: undefined }), 'KQ_INVALID_ARGUMENT', /number for q.scale/);
  });
});

describe('static quantization checks', () => {
  it('rejects invalid params', () => {
    expectKquantError(() => quantizeStaticSync(x, { scheme: 'absmax', dtype: 'int8', granularity: 'tensor', scale: -1 }), 'KQ_INVALID_ARGUMENT', /scales\[0\] is -1/);
    expectKquantError(() => quantizeStaticSync(x, { scheme: 'nope' as 'absmax', dtype: 'int8', granularity: 'tensor', scale: 1 }), 'KQ_INVALID_ARGUMENT', /params.scheme/);
    expectKquantError(() => quantizeStaticSync(x, { scheme: 'zeroPoint', dtype: 'int8', granularity: 'tensor', scale: 1, zeroPoint: 200 }), 'KQ_INVALID_ARGUMENT', /zeroPoints\[0\] is 200/);
    expectKquantError(() => quantizeStaticSync(x, { scheme: 'absmax', dtype: 'int8', granularity: 'channel', axis: 0, scales: new Float32Array(2) }, { shape: [8, 8] }), 'KQ_LENGTH', /params.scales to have 8 entries/);
  });
});

describe('conversion checks', () => {
  it('rejects the wrong array types', () => {
    expectKquantError(() => toFloat16Sync(new Uint16Array(3) as unknown as Float32Array), 'KQ_DTYPE', /Float32Array for src/);
    expectKquantError(() => fromBFloat16Sync(new Float32Array(3) as unknown as Uint16Array), 'KQ_DTYPE', /Uint16Array \(f16\/bf16 bits\) for src/);
  });
});

describe('devices', () => {
  it("'cuda' without a usable GPU is a clear error; 'auto' falls back to the CPU", async () => {
    const info = backend();
    if (info.cuda.available) return; // covered by cuda.test.ts on a GPU machine
    expectKquantError(() => quantizeAbsmaxSync(x, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /CUDA unavailable: /);
    const rejection = await quantizeAbsmax(x, { device: 'cuda' }).catch((e: unknown) => e);
    expect((rejection as KquantError).code).toBe('KQ_CUDA_UNAVAILABLE');
    expect(quantizeAbsmaxSync(x, { device: 'auto' }).values).toEqual(quantizeAbsmaxSync(x, { device: 'cpu' }).values);
  });
});
