// CUDA variants against the CPU reference. Runs only where a GPU answers; elsewhere the file reports
// the reason it skipped (errors.test.ts covers the no-GPU behaviour).
import { describe, expect, it } from 'vitest';
import {
  backend,
  dequantize4bitSync,
  dequantizeAbsmaxSync,
  dequantizeBlockwiseSync,
  dequantizeZeroPointSync,
  fromBFloat16Sync,
  fromFloat16Sync,
  int8Matmul,
  int8MatmulInt32,
  int8MatmulInt32Sync,
  int8MatmulSync,
  int8PrepareWeightSync,
  quantize4bitSync,
  quantizeAbsmaxSync,
  quantizeBlockwiseSync,
  quantizeZeroPointSync,
  setSimd,
  toBFloat16Sync,
  toFloat16Sync,
} from '../lib/index.js';
import { randomFloats, rng } from './helpers/random.js';

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

  // bnb: bytes, block scales and dequantized values identical to the CPU reference (odd n pads a nibble,
  // the leading 64 zeros make an all-zero block, the scaled-down elements are subnormal).
  describe('bnb', () => {
    const x = randomFloats(100_003, 11, 0.05);
    for (let i = 0; i < 64; i++) x[i] = 0;
    for (let i = 1000; i < x.length; i += 97) x[i] = x[i]! * 1e-37;
    const half = Uint16Array.from({ length: 4097 }, (_, i) => (i * 2654435761) >>> 16);
    const halfDtype = 'float16' as const;
    const halfInput = half.map((h) => ((h & 0x7c00) === 0x7c00 ? h & 0x83ff : h));

    it.each(['nf4', 'fp4'] as const)('quantize4bit / dequantize4bit %s match the CPU reference', (quantType) => {
      for (const blockSize of [32, 64, 4096]) {
        for (const compressStatistics of [false, true]) {
          const options = { quantType, blockSize, compressStatistics };
          const cpu = quantize4bitSync(x, { ...options, device: 'cpu' });
          const gpu = quantize4bitSync(x, { ...options, device: 'cuda' });
          expect(gpu.packed).toEqual(cpu.packed);
          expect(gpu.state).toEqual(cpu.state);
          expect(dequantize4bitSync(cpu, { device: 'cuda' })).toEqual(dequantize4bitSync(cpu, { device: 'cpu' }));
        }
      }
      const hc = quantize4bitSync(halfInput, { quantType, dtype: halfDtype, device: 'cpu' });
      const hg = quantize4bitSync(halfInput, { quantType, dtype: halfDtype, device: 'cuda' });
      expect(hg.packed).toEqual(hc.packed);
      expect(dequantize4bitSync(hc, { device: 'cuda' })).toEqual(dequantize4bitSync(hc, { device: 'cpu' }));
    });

    it('quantizeBlockwise / dequantizeBlockwise match the CPU reference', () => {
      for (const blockSize of [64, 256, 4096]) {
        for (const nested of [false, true]) {
          const cpu = quantizeBlockwiseSync(x, { blockSize, nested, device: 'cpu' });
          const gpu = quantizeBlockwiseSync(x, { blockSize, nested, device: 'cuda' });
          expect(gpu.codes).toEqual(cpu.codes);
          expect(gpu.state).toEqual(cpu.state);
          expect(dequantizeBlockwiseSync(cpu, { device: 'cuda' })).toEqual(dequantizeBlockwiseSync(cpu, { device: 'cpu' }));
        }
      }
      const hc = quantizeBlockwiseSync(halfInput, { dtype: halfDtype, blockSize: 256, device: 'cpu' });
      const hg = quantizeBlockwiseSync(halfInput, { dtype: halfDtype, blockSize: 256, device: 'cuda' });
      expect(hg.codes).toEqual(hc.codes);
    });

    it('reports a NaN like the CPU does', () => {
      const bad = randomFloats(1000, 3);
      bad[321] = NaN;
      expect(() => quantize4bitSync(bad, { device: 'cuda' })).toThrow(/src\[321\] is NaN/);
      expect(() => quantizeBlockwiseSync(bad, { device: 'cuda' })).toThrow(/src\[321\] is NaN/);
    });
  });

  // LLM.int8: the dp4a GEMM is exact in integers, so int32 results and the dequantized f32 output are
  // identical to the CPU (odd sizes give tails in every tile dimension; fills cover -128 / 127 extremes).
  describe('int8', () => {
    const bytes = (n: number, seed: number, fill?: number) => {
      const next = rng(seed);
      return Int8Array.from({ length: n }, () => fill ?? Math.floor(next() * 256) - 128);
    };
    const shapes = [
      [1, 1, 1],
      [3, 5, 7],
      [65, 63, 33],
      [64, 64, 32],
      [127, 129, 257],
      [2, 200, 1000],
      [67, 131, 4099],
      [33, 65, 4096],
    ] as const;

    it.each(shapes)('int8MatmulInt32 %ix%ix%i matches the CPU', async (m, n, k) => {
      for (const [fa, fb] of [[undefined, undefined], [-128, -128], [127, -128], [127, 127]] as const) {
        const a = bytes(m * k, m + 7, fa);
        const b = bytes(n * k, n + 13, fb);
        const cpu = int8MatmulInt32Sync(a, [m, k], b, [n, k], { device: 'cpu' });
        expect(int8MatmulInt32Sync(a, [m, k], b, [n, k], { device: 'cuda' })).toEqual(cpu);
        expect(await int8MatmulInt32(a, [m, k], b, [n, k], { device: 'cuda' })).toEqual(cpu);
      }
    });

    it('int8Matmul matches the CPU', async () => {
      const m = 37, n = 70, k = 300;
      const x = randomFloats(m * k, 21, 2);
      x[5] = 9; // outlier column 5
      x[k + 100] = -12; // outlier column 100
      const w = randomFloats(n * k, 22, 0.1);
      const cpu = int8MatmulSync(x, [m, k], w, { device: 'cpu' });
      expect(int8MatmulSync(x, [m, k], w, { device: 'cuda' })).toEqual(cpu);
      expect(await int8Matmul(x, [m, k], w, { device: 'cuda' })).toEqual(cpu);
      const prepared = int8PrepareWeightSync(w, [n, k]);
      expect(int8MatmulSync(x, [m, k], prepared, { device: 'cuda', threshold: 0 })).toEqual(int8MatmulSync(x, [m, k], prepared, { device: 'cpu', threshold: 0 }));
    });
  });
});
