// CUDA variants against the CPU reference. Runs only where a GPU answers; elsewhere the file reports
// the reason it skipped (errors.test.ts covers the no-GPU behaviour).
import { describe, expect, it } from 'vitest';
import {
  backend,
  dequantizeAbsmaxSync,
  dequantizeZeroPointSync,
  fromBFloat16Sync,
  fromFloat16Sync,
  quantizeAbsmaxSync,
  quantizeZeroPointSync,
  setSimd,
  toBFloat16Sync,
  toFloat16Sync,
} from '../lib/index.js';
import { randomFloats } from './helpers/random.js';

const info = backend();

describe.skipIf(!info.cuda.available)(`CUDA (${info.cuda.available ? info.cuda.devices[0]?.name : info.cuda.reason})`, () => {
  setSimd('scalar');
  const layouts = [
    { shape: [1_000_003] },
    { shape: [257, 129], axis: 0 },
    { shape: [257, 129], axis: 1 },
    { shape: [3, 5, 7], axis: 1 },
    { shape: [1 << 20], blockSize: 64 },
    { shape: [4800], blockSize: 48 },
  ];

  it.each(layouts)('quantize/dequantize match the CPU reference %j', (layout) => {
    const x = randomFloats(layout.shape.reduce((a, b) => a * b, 1), 77, 4);
    const cpu = quantizeAbsmaxSync(x, { ...layout, device: 'cpu' });
    const gpu = quantizeAbsmaxSync(x, { ...layout, device: 'cuda' });
    expect(gpu.values).toEqual(cpu.values);
    expect(gpu.scales ?? gpu.scale).toEqual(cpu.scales ?? cpu.scale);
    expect(dequantizeAbsmaxSync(gpu, { device: 'cuda' })).toEqual(dequantizeAbsmaxSync(cpu, { device: 'cpu' }));
    for (const dtype of ['int8', 'uint8'] as const) {
      const zc = quantizeZeroPointSync(x, { ...layout, dtype, device: 'cpu' });
      const zg = quantizeZeroPointSync(x, { ...layout, dtype, device: 'cuda' });
      expect(zg.values).toEqual(zc.values);
      expect(zg.zeroPoints ?? zg.zeroPoint).toEqual(zc.zeroPoints ?? zc.zeroPoint);
      expect(dequantizeZeroPointSync(zg, { device: 'cuda' })).toEqual(dequantizeZeroPointSync(zc, { device: 'cpu' }));
    }
  });

  it('conversions match the CPU reference', () => {
    const x = randomFloats(100_003, 5, 1000);
    const halves = Uint16Array.from({ length: 65536 }, (_, i) => i);
    expect(toFloat16Sync(x, { device: 'cuda' })).toEqual(toFloat16Sync(x, { device: 'cpu' }));
    expect(toBFloat16Sync(x, { device: 'cuda' })).toEqual(toBFloat16Sync(x, { device: 'cpu' }));
    expect(fromFloat16Sync(halves, { device: 'cuda' })).toEqual(fromFloat16Sync(halves, { device: 'cpu' }));
    expect(fromBFloat16Sync(halves, { device: 'cuda' })).toEqual(fromBFloat16Sync(halves, { device: 'cpu' }));
  });

  it('reports a NaN like the CPU does', () => {
    const x = randomFloats(1000, 3);
    x[321] = NaN;
    expect(() => quantizeAbsmaxSync(x, { device: 'cuda' })).toThrow(/src\[321\] is NaN/);
  });
});
