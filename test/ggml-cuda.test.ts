// ggml block types on CUDA (native/ops/ggml/cuda.cu). On every machine: the device option's checks (a type
// without a CUDA quantizer, the CPU-only ggml_quantize_chunk path). Without a GPU: 'cuda' is refused with
// KQ_CUDA_UNAVAILABLE and 'auto' gives the CPU's bytes and floats. With one (skipped elsewhere): every golden
// case of test/fixtures/ggml on CUDA — the reference and importance-matrix bytes dequantized bit for bit (NaN
// as a class), and for q4_0, q8_0, q4_k, q6_k the reference bytes quantized byte for byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  GGML_QUANT_TYPES,
  backend,
  dequantizeGGML,
  dequantizeGGMLSync,
  quantizeGGML,
  quantizeGGMLSync,
  type GGMLQuantType,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { randomFloats } from './helpers/random.js';

const cuda = backend().cuda;
const FIXTURES = fileURLToPath(new URL('./fixtures/ggml/', import.meta.url));
const CUDA_QUANTIZED: GGMLQuantType[] = ['q4_0', 'q8_0', 'q4_k', 'q6_k'];

interface GoldenCase {
  type: string;
  input: string;
  input_name?: string;
  n_elements?: number;
  ref: string;
  ref_dequant: string;
  imatrix_q?: string;
  imatrix_dequant?: string;
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  cases: GoldenCase[];
  aux: { q8_K: GoldenCase[] };
};

function load(path: string): Uint8Array {
  const buf = readFileSync(join(FIXTURES, path));
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}
const loadF32 = (path: string) => new Float32Array(load(path).buffer);

// Bit-equal floats, any NaN equal to any NaN (x86 and CUDA make different NaN payloads).
function floatMismatches(got: Float32Array, want: Float32Array): string {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let count = 0;
  let first = '';
  for (let i = 0; i < got.length; i++) {
    const same = g[i] === w[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!same && count++ === 0) first = `[${i}] got ${got[i]} want ${want[i]}`;
  }
  return count === 0 && got.length === want.length ? 'ok' : `${count} floats differ, first ${first}`;
}

// Random blocks of every type's layout: bytes that are not a quantizer's output (any scale bits).
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('ggml device option checks', () => {
  const x = randomFloats(512, 3);

  it("'cuda' quantization of a type without a CUDA quantizer is refused by name", () => {
    for (const type of GGML_QUANT_TYPES.filter((t) => !CUDA_QUANTIZED.includes(t))) {
      expectKquantError(() => quantizeGGMLSync(type, x, { device: 'cuda' }), 'KQ_INVALID_ARGUMENT', new RegExp(`cannot quantize ${type}`));
    }
  });

  it("'cuda' with imatrix or rowLength is refused: ggml_quantize_chunk runs on the CPU only", () => {
    expectKquantError(() => quantizeGGMLSync('q4_k', x, { rowLength: 256, device: 'cuda' }), 'KQ_INVALID_ARGUMENT', /CPU only/);
    expectKquantError(() => quantizeGGMLSync('q4_0', x, { imatrix: new Float32Array(256).fill(1), device: 'cuda' }), 'KQ_INVALID_ARGUMENT', /CPU only/);
  });

  it("'auto' takes the CPU for the chunk path and types without a CUDA quantizer", () => {
    expect(quantizeGGMLSync('q4_k', x, { rowLength: 256, device: 'auto' })).toEqual(quantizeGGMLSync('q4_k', x, { rowLength: 256, device: 'cpu' }));
    expect(quantizeGGMLSync('q5_k', x, { device: 'auto' })).toEqual(quantizeGGMLSync('q5_k', x, { device: 'cpu' }));
  });

  it('an unknown device is refused', () => {
    expectKquantError(() => quantizeGGMLSync('q4_0', x, { device: 'gpu' as 'cuda' }), 'KQ_INVALID_ARGUMENT', /options\.device/);
    expectKquantError(() => dequantizeGGMLSync('q4_0', new Uint8Array(18), 32, { device: 'gpu' as 'cuda' }), 'KQ_INVALID_ARGUMENT', /options\.device/);
  });
});

describe.skipIf(cuda.available)(`ggml without CUDA (${cuda.reason})`, () => {
  const x = randomFloats(1024, 11);

  it("device 'cuda' is refused with KQ_CUDA_UNAVAILABLE", async () => {
    for (const type of CUDA_QUANTIZED) {
      expectKquantError(() => quantizeGGMLSync(type, x, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /CUDA unavailable/);
      await expect(quantizeGGML(type, x, { device: 'cuda' })).rejects.toMatchObject({ code: 'KQ_CUDA_UNAVAILABLE' });
    }
    const bytes = quantizeGGMLSync('q6_k', x, { device: 'cpu' });
    expectKquantError(() => dequantizeGGMLSync('q6_k', bytes, 1024, { device: 'cuda' }), 'KQ_CUDA_UNAVAILABLE', /CUDA unavailable/);
    await expect(dequantizeGGML('q6_k', bytes, 1024, { device: 'cuda' })).rejects.toMatchObject({ code: 'KQ_CUDA_UNAVAILABLE' });
  });

  it("device 'auto' (and the default) gives the CPU's bytes and floats", async () => {
    for (const type of GGML_QUANT_TYPES) {
      const cpu = quantizeGGMLSync(type, x, { device: 'cpu' });
      expect(quantizeGGMLSync(type, x, { device: 'auto' })).toEqual(cpu);
      expect(await quantizeGGML(type, x)).toEqual(cpu);
      const floats = dequantizeGGMLSync(type, cpu, 1024, { device: 'cpu' });
      expect(dequantizeGGMLSync(type, cpu, 1024, { device: 'auto' })).toEqual(floats);
      expect(await dequantizeGGML(type, cpu, 1024)).toEqual(floats);
    }
  });
});

describe.skipIf(!cuda.available)(`ggml on CUDA (${cuda.available ? cuda.devices[0]?.name : cuda.reason})`, () => {
  const cases = [...manifest.cases, ...manifest.aux.q8_K];

  for (const c of cases) {
    const type = c.type.toLowerCase() as GGMLQuantType;
    it(`${c.type} ${c.input_name ?? c.input}: golden bytes dequantized on CUDA${CUDA_QUANTIZED.includes(type) ? ', input quantized on CUDA' : ''}`, async () => {
      const n = c.n_elements ?? loadF32(c.input).length;
      expect(floatMismatches(dequantizeGGMLSync(type, load(c.ref), n, { device: 'cuda' }), loadF32(c.ref_dequant))).toBe('ok');
      expect(floatMismatches(await dequantizeGGML(type, load(c.ref), n, { device: 'cuda' }), loadF32(c.ref_dequant))).toBe('ok');
      if (c.imatrix_q && c.imatrix_dequant) {
        expect(floatMismatches(dequantizeGGMLSync(type, load(c.imatrix_q), n, { device: 'cuda' }), loadF32(c.imatrix_dequant))).toBe('ok');
      }
      if (CUDA_QUANTIZED.includes(type)) {
        const x = loadF32(c.input);
        expect(Buffer.from(quantizeGGMLSync(type, x, { device: 'cuda' })).equals(Buffer.from(load(c.ref)))).toBe(true);
        expect(Buffer.from(await quantizeGGML(type, x, { device: 'cuda' })).equals(Buffer.from(load(c.ref)))).toBe(true);
      }
    });
  }

  it('every type: random blocks dequantize as on the CPU; the four quantizers match the CPU on fresh data', () => {
    for (const type of GGML_QUANT_TYPES) {
      const blockSize = type.endsWith('_k') || type.startsWith('tq') ? 256 : 32;
      const n = blockSize * 37;
      const bytes = randomBytes(quantizeGGMLSync(type, new Float32Array(n), { device: 'cpu' }).length, 17);
      expect(floatMismatches(dequantizeGGMLSync(type, bytes, n, { device: 'cuda' }), dequantizeGGMLSync(type, bytes, n, { device: 'cpu' }))).toBe('ok');
    }
    for (const type of CUDA_QUANTIZED) {
      for (const spread of [1e-30, 0.02, 1, 3e6]) {
        const x = randomFloats(256 * 41, 7 + Math.round(Math.log2(spread)), spread);
        expect(quantizeGGMLSync(type, x, { device: 'cuda' })).toEqual(quantizeGGMLSync(type, x, { device: 'cpu' }));
      }
    }
  });

  it("'cuda' rejects NaN as the CPU does", () => {
    const x = randomFloats(512, 4);
    x[321] = NaN;
    for (const type of CUDA_QUANTIZED) expect(() => quantizeGGMLSync(type, x, { device: 'cuda' })).toThrow(/src\[321\] is NaN/);
  });
});
