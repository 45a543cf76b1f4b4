// GPTQ checkpoint tensors (lib/ops/gptq-pack.ts, native/ops/gptq/pack.h) and files (lib/formats/gptq-checkpoint.ts):
// byte-exact against the 24 GPTQModel-layout goldens in test/fixtures/gptq (README section 4), against a bit-stream
// packer written here from the README, round trips on fresh random data (2 bits has no golden), v1 zero points
// of 0 (GPTQModel's word borrow), dequantization against f64, checkpoint files, and errors naming the argument.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  dequantizeGPTQ,
  dequantizeGPTQSync,
  fromFloat16Sync,
  packGPTQ,
  packGPTQSync,
  readGPTQCheckpoint,
  readSafetensors,
  toFloat16Sync,
  unpackGPTQ,
  unpackGPTQSync,
  writeGPTQCheckpoint,
  writeSafetensors,
  type GPTQFormat,
  type GPTQPackBits,
  type GPTQTensors,
  type PackGPTQInput,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';
import { gptqCaseIds, readCase, type GptqCase } from './helpers/gptq-fixtures.js';
import { rng } from './helpers/random.js';

// ---- a reference packer from README 4.2/4.3: 32·bits-bit little-endian streams, value j at bits [bits·j, +bits) ----

function streamWords(values: ArrayLike<number>, bits: number): Uint32Array {
  const words = new Uint32Array((values.length * bits) / 32);
  for (let j = 0; j < values.length; ++j) {
    for (let b = 0; b < bits; ++b) {
      if ((values[j]! >> b) & 1) {
        const pos = bits * j + b;
        words[pos >> 5]! |= 1 << (pos & 31);
      }
    }
  }
  return words;
}

const V1_CONSTANT: Record<number, number> = { 2: 0x55555555, 4: 0x11111111, 8: 0x01010101 };

function refQweight(codes: Uint8Array, rows: number, cols: number, bits: number): Int32Array {
  const packedRows = (cols * bits) / 32;
  const out = new Int32Array(packedRows * rows);
  for (let o = 0; o < rows; ++o) {
    const words = streamWords(codes.subarray(o * cols, (o + 1) * cols), bits);
    for (let r = 0; r < packedRows; ++r) out[r * rows + o] = words[r]! | 0;
  }
  return out;
}

function refQzeros(zeros: ArrayLike<number>, rows: number, groups: number, bits: number, format: GPTQFormat): Int32Array {
  const cols = (rows * bits) / 32;
  const out = new Int32Array(groups * cols);
  for (let g = 0; g < groups; ++g) {
    const run = Array.from({ length: rows }, (_, o) => {
      const z = zeros[o * groups + g]!;
      return format === 'gptq' && bits === 3 ? (z + 7) % 8 : z;
    });
    const words = streamWords(run, bits);
    for (let c = 0; c < cols; ++c) {
      const w = format === 'gptq' && bits !== 3 ? (words[c]! - V1_CONSTANT[bits]!) >>> 0 : words[c]!;
      out[g * cols + c] = w | 0;
    }
  }
  return out;
}

function transposed(src: ArrayLike<number>, a: number, b: number): Float64Array {
  const out = new Float64Array(a * b);
  for (let i = 0; i < a; ++i) for (let j = 0; j < b; ++j) out[j * a + i] = src[i * b + j]!;
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// Byte equality of two typed arrays of one type, reporting the first differing element (toEqual is slow on
// arrays of 10^5 elements).
function expectSame(actual: ArrayBufferView & ArrayLike<number>, expected: ArrayBufferView & ArrayLike<number>, label: string): void {
  expect(actual.constructor.name, label).toBe(expected.constructor.name);
  expect(actual.length, `${label} length`).toBe(expected.length);
  if (Buffer.from(bytesOf(actual)).equals(Buffer.from(bytesOf(expected)))) return;
  let i = 0;
  while (Object.is(actual[i], expected[i])) ++i;
  expect(actual[i], `${label}[${i}]`).toBe(expected[i]);
}

function caseInput(c: GptqCase, codes: Uint8Array, format: GPTQFormat): PackGPTQInput {
  const p = c.info.params;
  return {
    codes,
    scales: c.scales,
    zeros: c.zeros,
    gIdx: c.g_idx,
    rows: c.rows,
    cols: c.cols,
    bits: p.bits as GPTQPackBits,
    groupSize: p.group_size,
    format,
    sym: p.sym,
    descAct: p.desc_act,
  };
}

// Codes of a case: qint where kept, else the golden qweight read back with the reference stream (not the native unpacker).
function caseCodes(c: GptqCase): Uint8Array {
  if (c.qint) return c.qint;
  const bits = c.info.params.bits;
  const qweight = c.ckpt.qweight.data as Int32Array;
  const packedRows = (c.cols * bits) / 32;
  const codes = new Uint8Array(c.rows * c.cols);
  for (let o = 0; o < c.rows; ++o) {
    for (let i = 0; i < c.cols; ++i) {
      let v = 0;
      for (let b = 0; b < bits; ++b) {
        const pos = bits * i + b;
        v |= ((qweight[(pos >> 5) * c.rows + o]! >>> (pos & 31)) & 1) << b;
      }
      codes[o * c.cols + i] = v;
    }
    expect(packedRows).toBe(c.ckpt.qweight.shape[0]);
  }
  return codes;
}

describe('golden GPTQModel layout (A_256x512, 24 configs)', () => {
  test.each(gptqCaseIds)('%s: pack byte for byte, unpack back', (id) => {
    const c = readCase(id);
    const { bits, group_size: groupSize } = c.info.params;
    const groups = c.scales.length / c.rows;
    const codes = caseCodes(c);
    for (const [format, golden] of [['gptq', c.ckpt.qzeros_v1], ['gptq_v2', c.ckpt.qzeros_v2]] as const) {
      const t = packGPTQSync(caseInput(c, codes, format));
      expectSame(t.qweight, c.ckpt.qweight.data as Int32Array, 'qweight');
      expectSame(t.qzeros, golden.data as Int32Array, `qzeros ${format}`);
      expectSame(t.scales, c.ckpt.scales.data as Uint16Array, 'scales f16');
      expectSame(t.gIdx, c.ckpt.g_idx.data as Int32Array, 'g_idx');
      expect([t.bits, t.groupSize, t.format, t.sym, t.descAct]).toEqual([bits, groupSize, format, c.info.params.sym, c.info.params.desc_act]);
      // The reference stream packer agrees with the goldens too (so both sides are checked).
      expectSame(refQzeros(Int32Array.from(c.zeros), c.rows, groups, bits, format), golden.data as Int32Array, `reference qzeros ${format}`);

      const u = unpackGPTQSync(t);
      expectSame(u.codes, codes, 'codes');
      if (c.qint) expectSame(u.codes, c.qint, 'qint');
      expectSame(u.zeros, Int32Array.from(c.zeros), 'zeros');
      expectSame(u.scales, fromFloat16Sync(toFloat16Sync(c.scales)), 'scales = f16(scales)');
      expectSame(u.gIdx, c.g_idx, 'unpacked g_idx');
    }
    expectSame(refQweight(codes, c.rows, c.cols, bits), c.ckpt.qweight.data as Int32Array, 'reference qweight');
  });

  test('qint.bin kept for three cases, each equal to the unpacked golden qweight', () => {
    const kept = gptqCaseIds.map(readCase).filter((c) => c.qint);
    expect(kept.map((c) => c.info.id).sort()).toEqual(['A_256x512/b3_g128_asym_act', 'A_256x512/b4_g128_sym_noact', 'A_256x512/b8_g-1_asym_noact']);
    for (const c of kept) {
      const t = { ...packGPTQSync(caseInput(c, c.qint!, 'gptq')), qweight: c.ckpt.qweight.data as Int32Array };
      expectSame(unpackGPTQSync(t).codes, c.qint!, `${c.info.id} qint`);
    }
  });

  test('dequantizeGPTQ equals the f64 recomputation rounded once to f32', async () => {
    for (const id of ['A_256x512/b3_g128_asym_act', 'A_256x512/b4_g128_sym_noact', 'A_256x512/b8_g-1_asym_noact']) {
      const c = readCase(id);
      const groups = c.scales.length / c.rows;
      const t = packGPTQSync(caseInput(c, c.qint!, 'gptq'));
      const scalesF16 = fromFloat16Sync(c.ckpt.scales.data as Uint16Array); // [G, rows]
      const w = dequantizeGPTQSync(t);
      expectSame(await dequantizeGPTQ(t), w, 'async dequantize');
      let maxRel = 0;
      const ref = new Float32Array(w.length);
      for (let o = 0; o < c.rows; ++o) {
        for (let i = 0; i < c.cols; ++i) {
          const g = c.g_idx[i]!;
          ref[o * c.cols + i] = scalesF16[g * c.rows + o]! * (c.qint![o * c.cols + i]! - c.zeros[o * groups + g]!);
          // Against the algorithm's f32 scales: only the f16 rounding of the scale separates them.
          const f32 = c.scales[o * groups + g]! * (c.qint![o * c.cols + i]! - c.zeros[o * groups + g]!);
          if (f32 !== 0) maxRel = Math.max(maxRel, Math.abs(w[o * c.cols + i]! - f32) / Math.abs(f32));
        }
      }
      expectSame(w, ref, `${id} dequantized`);
      expect(maxRel, id).toBeLessThanOrEqual(2 ** -11 + 2 ** -23);
      expect(maxRel, id).toBeGreaterThan(0);
    }
  });
});

// ---- fresh random data ----

function randomLayer(bits: GPTQPackBits, rows: number, cols: number, groupSize: number, seed: number, zeroFill: 'random' | 'with-zeros') {
  const next = rng(seed);
  const maxq = (1 << bits) - 1;
  const groups = groupSize === -1 ? 1 : Math.ceil(cols / groupSize);
  const codes = Uint8Array.from({ length: rows * cols }, () => Math.floor(next() * (maxq + 1)));
  const scales = Float32Array.from({ length: rows * groups }, () => 1e-3 + next() * 0.05);
  const zeros = Float32Array.from({ length: rows * groups }, () => {
    if (zeroFill === 'random') return Math.floor(next() * (maxq + 1));
    const r = next();
    return r < 0.3 ? 0 : r < 0.6 ? maxq : (maxq + 1) / 2; // zero points of 0 borrow across fields in v1
  });
  // Act-order style g_idx: a random permutation's position // groupSize.
  const perm = Array.from({ length: cols }, (_, i) => i);
  for (let i = cols - 1; i > 0; --i) {
    const j = Math.floor(next() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const gIdx = new Int32Array(cols);
  perm.forEach((c, pos) => (gIdx[c] = groupSize === -1 ? 0 : Math.floor(pos / groupSize)));
  return { codes, scales, zeros, gIdx, rows, cols, bits, groupSize, groups };
}

describe('round trips on fresh random layers', () => {
  const cases: [GPTQPackBits, number, number, number][] = [
    [2, 64, 256, 64],
    [2, 16, 48, -1],
    [3, 96, 320, 128],
    [4, 40, 136, 32],
    [8, 12, 100, 50],
  ];
  test.each(cases)('%i bits, [%i, %i], group %i', async (bits, rows, cols, groupSize) => {
    for (const [k, zeroFill] of (['random', 'with-zeros'] as const).entries()) {
      const seed = 1000 * bits + rows + k;
      const L = randomLayer(bits, rows, cols, groupSize, seed, zeroFill);
      for (const format of ['gptq', 'gptq_v2'] as const) {
        const input = { ...L, format };
        const t = packGPTQSync(input);
        expectSame(t.qweight, refQweight(L.codes, rows, cols, bits), `qweight seed ${seed}`);
        expectSame(t.qzeros, refQzeros(L.zeros, rows, L.groups, bits, format), `qzeros ${format} seed ${seed}`);
        expectSame(t.scales, toFloat16Sync(Float32Array.from(transposed(L.scales, rows, L.groups))), 'scales');
        const a = await packGPTQ(input);
        expect(a).toEqual(t);
        const u = unpackGPTQSync(t);
        expectSame(u.codes, L.codes, `codes seed ${seed}`);
        expectSame(u.zeros, Int32Array.from(L.zeros), `zeros ${format} seed ${seed}`);
        expectSame(u.scales, fromFloat16Sync(toFloat16Sync(L.scales)), 'unpacked scales');
        expect(await unpackGPTQ(t)).toEqual(u);
      }
    }
  });

  test('v1 zero point 0 borrows as GPTQModel does and still round-trips', () => {
    // 4 bits, 8 rows, one group: zero points [0, 8, 8, 8, 8, 8, 8, 8] → v2 word 0x88888880, v1 word 0x7777776f.
    const zeros = Int32Array.from([0, 8, 8, 8, 8, 8, 8, 8]);
    const layer = { codes: new Uint8Array(8 * 8), scales: new Float32Array(8).fill(0.5), zeros, gIdx: new Int32Array(8), rows: 8, cols: 8, bits: 4 as const, groupSize: -1 };
    const v1 = packGPTQSync({ ...layer, format: 'gptq' });
    expect(v1.qzeros[0]! >>> 0).toBe(0x7777776f);
    expect(packGPTQSync({ ...layer, format: 'gptq_v2' }).qzeros[0]! >>> 0).toBe(0x88888880);
    expect(unpackGPTQSync(v1).zeros).toEqual(zeros);
    // Read as v2 instead, the borrowed field shows: a per-field reader would not see what was written.
    expect(unpackGPTQSync({ ...v1, format: 'gptq_v2' }).zeros).not.toEqual(zeros);
  });
});

// ---- checkpoint files ----

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kquant-gptq-'));
  tmpDirs.push(d);
  return d;
}

function expectSameTensors(a: GPTQTensors, b: GPTQTensors): void {
  for (const key of ['qweight', 'qzeros', 'scales', 'gIdx'] as const) expectSame(b[key], a[key], key);
  expect([b.rows, b.cols, b.bits, b.groupSize, b.format]).toEqual([a.rows, a.cols, a.bits, a.groupSize, a.format]);
}

describe('checkpoint files (safetensors + quantize_config.json)', () => {
  const config = { bits: 4 as const, groupSize: 128, descAct: true, sym: false, format: 'gptq' as const, dampPercent: 0.01 };
  const goldenAct = readCase('A_256x512/b4_g128_asym_act');
  const q = packGPTQSync(caseInput(goldenAct, caseCodes(goldenAct), 'gptq'));
  const extra = packGPTQSync({ ...randomLayer(4, 64, 256, 128, 99, 'with-zeros'), format: 'gptq' });
  const bias = Float32Array.from({ length: 64 }, (_, i) => (i - 30) / 7);
  const layers = [
    { name: 'model.layers.0.self_attn.q_proj', tensors: q },
    { name: 'model.layers.0.mlp.down_proj', tensors: extra, bias },
  ];

  test('write → read round-trips byte-exactly; the config carries every key', () => {
    const dir = tempDir();
    const written = writeGPTQCheckpoint(dir, layers, config);
    expect(written.weights).toBe(join(dir, 'model.safetensors'));
    const cfg = JSON.parse(readFileSync(written.config, 'utf8'));
    expect(cfg).toMatchObject({ quant_method: 'gptq', bits: 4, group_size: 128, desc_act: true, sym: false, checkpoint_format: 'gptq', format: 'gptq', damp_percent: 0.01, true_sequential: true, static_groups: false, pack_dtype: 'int32' });
    expect(cfg.meta.quantizer[0]).toMatch(/^kquant:/);

    const file = readSafetensors(written.weights);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('model.layers.0.self_attn.q_proj.qweight')).toMatchObject({ dtype: 'I32', shape: [64, 256] });
    expect(file.tensors.get('model.layers.0.self_attn.q_proj.qzeros')).toMatchObject({ dtype: 'I32', shape: [4, 32] });
    expect(file.tensors.get('model.layers.0.self_attn.q_proj.scales')).toMatchObject({ dtype: 'F16', shape: [4, 256] });
    expect(file.tensors.get('model.layers.0.self_attn.q_proj.g_idx')).toMatchObject({ dtype: 'I32', shape: [512] });
    expect(file.tensors.get('model.layers.0.mlp.down_proj.bias')).toMatchObject({ dtype: 'F16', shape: [64] });

    const back = readGPTQCheckpoint(dir);
    expect(back.config).toEqual({ ...config, trueSequential: true, staticGroups: false });
    expect(back.layers.map((l) => l.name).sort()).toEqual(layers.map((l) => l.name).sort());
    for (const l of layers) {
      const r = back.layers.find((x) => x.name === l.name)!;
      expectSameTensors(l.tensors, r.tensors);
    }
    expect(back.layers.find((x) => x.name.endsWith('down_proj'))!.bias).toEqual(toFloat16Sync(bias));
    expect(back.others.size).toBe(0);
    // Golden bytes survive the file, and writing what was read gives the same file.
    const r = back.layers.find((x) => x.name.endsWith('q_proj'))!.tensors;
    expectSame(r.qzeros, goldenAct.ckpt.qzeros_v1.data as Int32Array, 'golden qzeros v1 after the file');
    const again = writeGPTQCheckpoint(join(tempDir(), 'm.safetensors'), back.layers, back.config);
    expect(readFileSync(again.weights).equals(readFileSync(written.weights)), 'same safetensors bytes').toBe(true);
    expect(readFileSync(again.config, 'utf8')).toBe(readFileSync(written.config, 'utf8'));
    expect(readGPTQCheckpoint(again.weights).layers.length).toBe(2);
  });

  test('v2 file, missing g_idx rebuilt without desc_act, other tensors kept apart', () => {
    const dir = tempDir();
    const v2 = packGPTQSync({ ...randomLayer(3, 32, 256, 64, 5, 'random'), gIdx: Int32Array.from({ length: 256 }, (_, c) => c >> 6), format: 'gptq_v2' });
    writeGPTQCheckpoint(dir, [{ name: 'l', tensors: v2 }], { bits: 3, groupSize: 64, descAct: false, sym: false, format: 'gptq_v2' });
    const file = readSafetensors(join(dir, 'model.safetensors'));
    const tensors = new Map(file.tensors);
    tensors.delete('l.g_idx');
    tensors.set('lm_head.weight', { dtype: 'F16', shape: [2, 2], data: new Uint16Array(4) });
    writeSafetensors(join(dir, 'model.safetensors'), tensors, file.metadata);
    const back = readGPTQCheckpoint(dir);
    expectSameTensors(v2, back.layers[0]!.tensors);
    expect([...back.others.keys()]).toEqual(['lm_head.weight']);
    expectSame(dequantizeGPTQSync(back.layers[0]!.tensors), dequantizeGPTQSync(v2), 'dequantized');
  });

  test('bad files name the tensor (KQ_FORMAT)', () => {
    const dir = tempDir();
    writeGPTQCheckpoint(dir, layers, config);
    const path = join(dir, 'model.safetensors');
    const original = readSafetensors(path);
    const broken = (edit: (m: Map<string, { dtype: string; shape: number[]; data: ArrayBufferView }>) => void, pattern: RegExp) => {
      const m = new Map(original.tensors) as unknown as Map<string, { dtype: string; shape: number[]; data: ArrayBufferView }>;
      edit(m);
      writeSafetensors(path, m as never, original.metadata);
      expectKquantError(() => readGPTQCheckpoint(dir), 'KQ_FORMAT', pattern);
    };
    const name = 'model.layers.0.mlp.down_proj';
    broken((m) => m.delete(`${name}.qzeros`), /down_proj\.qzeros" is missing/);
    broken((m) => m.set(`${name}.scales`, { dtype: 'F32', shape: [2, 64], data: new Float32Array(128) }), /down_proj\.scales" has dtype F32/);
    broken((m) => m.set(`${name}.qzeros`, { dtype: 'I32', shape: [2, 16], data: new Int32Array(32) }), /down_proj\.qzeros" has shape \[2, 16\], expected \[2, 8\]/);
    broken((m) => m.set(`${name}.g_idx`, { dtype: 'I32', shape: [256], data: new Int32Array(256).fill(2) }), /down_proj\.g_idx"\[0\] = 2/);
    broken((m) => m.set(`${name}.qweight`, { dtype: 'F32', shape: [32, 64], data: new Float32Array(2048) }), /down_proj\.qweight" must be I32/);
    writeSafetensors(path, original.tensors, original.metadata);
    writeFileSync(join(dir, 'quantize_config.json'), JSON.stringify({ quant_method: 'awq', bits: 4, group_size: 128 }));
    expectKquantError(() => readGPTQCheckpoint(dir), 'KQ_FORMAT', /quant_method is "awq"/);
    writeFileSync(join(dir, 'quantize_config.json'), JSON.stringify({ bits: 4, group_size: 128, format: 'gptq', checkpoint_format: 'gptq_v2' }));
    expectKquantError(() => readGPTQCheckpoint(dir), 'KQ_FORMAT', /disagree/);
  });

  test('the writer rejects layers that do not match the config', () => {
    const dir = tempDir();
    expectKquantError(() => writeGPTQCheckpoint(dir, layers, { ...config, format: 'gptq_v2' }), 'KQ_INVALID_ARGUMENT', /layers\[0\].*format is "gptq" but config.format is "gptq_v2"/);
    expectKquantError(() => writeGPTQCheckpoint(dir, layers, { ...config, bits: 3 }), 'KQ_INVALID_ARGUMENT', /tensors\.bits is 4 but config\.bits is 3/);
    expectKquantError(() => writeGPTQCheckpoint(dir, [layers[0]!, layers[0]!], config), 'KQ_INVALID_ARGUMENT', /used twice/);
    expectKquantError(() => writeGPTQCheckpoint(dir, [{ ...layers[1]!, bias: new Float32Array(3) }], config), 'KQ_LENGTH', /bias/);
    expectKquantError(() => writeGPTQCheckpoint(dir, [{ name: 'x', tensors: { ...q, qzeros: new Int32Array(3) } }], config), 'KQ_LENGTH', /tensors\.qzeros/);
    expectKquantError(() => writeGPTQCheckpoint(dir, layers, { ...config, descAct: undefined as never }), 'KQ_INVALID_ARGUMENT', /config\.descAct/);
  });
});

// ---- argument errors ----

describe('errors name the argument', () => {
  const L = randomLayer(4, 32, 64, 32, 3, 'random');
  const base: PackGPTQInput = { ...L, format: 'gptq' };

  test('packGPTQ', async () => {
    expectKquantError(() => packGPTQSync({ ...base, bits: 5 as never }), 'KQ_INVALID_ARGUMENT', /bits/);
    expectKquantError(() => packGPTQSync({ ...base, cols: 60, codes: new Uint8Array(32 * 60), gIdx: new Int32Array(60) }), 'KQ_SHAPE', /cols to be a multiple of 8/);
    expectKquantError(() => packGPTQSync({ ...base, bits: 3, rows: 16, codes: new Uint8Array(16 * 64) }), 'KQ_SHAPE', /rows to be a multiple of 32 for 3-bit/);
    expectKquantError(() => packGPTQSync({ ...base, codes: new Int8Array(32 * 64) as never }), 'KQ_DTYPE', /Uint8Array for codes/);
    expectKquantError(() => packGPTQSync({ ...base, codes: new Uint8Array(10) }), 'KQ_LENGTH', /codes/);
    expectKquantError(() => packGPTQSync({ ...base, scales: new Float32Array(10) }), 'KQ_LENGTH', /scales/);
    expectKquantError(() => packGPTQSync({ ...base, scales: new Float64Array(64) as never }), 'KQ_DTYPE', /scales/);
    expectKquantError(() => packGPTQSync({ ...base, scales: new Float32Array(64).fill(NaN) }), 'KQ_NON_FINITE', /scales\[0\]/);
    expectKquantError(() => packGPTQSync({ ...base, zeros: new Float32Array(64).fill(16) }), 'KQ_INVALID_ARGUMENT', /zeros\[0\].*\[0, 15\]/);
    expectKquantError(() => packGPTQSync({ ...base, zeros: new Float32Array(64).fill(2.5) }), 'KQ_INVALID_ARGUMENT', /zeros\[0\]/);
    expectKquantError(() => packGPTQSync({ ...base, zeros: new Uint8Array(64) as never }), 'KQ_DTYPE', /zeros/);
    expectKquantError(() => packGPTQSync({ ...base, gIdx: new Int32Array(64).fill(2) }), 'KQ_INVALID_ARGUMENT', /gIdx\[0\]/);
    expectKquantError(() => packGPTQSync({ ...base, gIdx: new Int32Array(63) }), 'KQ_LENGTH', /gIdx/);
    expectKquantError(() => packGPTQSync({ ...base, groupSize: 0 }), 'KQ_INVALID_ARGUMENT', /groupSize/);
    expectKquantError(() => packGPTQSync({ ...base, format: 'marlin' as never }), 'KQ_INVALID_ARGUMENT', /format/);
    const codes = L.codes.slice();
    codes[3 * 64 + 5] = 16;
    expectKquantError(() => packGPTQSync({ ...base, codes }), 'KQ_INVALID_ARGUMENT', /codes\[3, 5\] = 16 exceeds maxq = 15/);
    await expect(packGPTQ({ ...base, codes })).rejects.toMatchObject({ code: 'KQ_INVALID_ARGUMENT', message: expect.stringMatching(/codes\[3, 5\]/) });
  });

  test('unpackGPTQ / dequantizeGPTQ', () => {
    const t = packGPTQSync(base);
    expectKquantError(() => unpackGPTQSync({ ...t, qweight: new Int32Array(5) }), 'KQ_LENGTH', /tensors\.qweight/);
    expectKquantError(() => unpackGPTQSync({ ...t, scales: new Float32Array(64) as never }), 'KQ_DTYPE', /tensors\.scales/);
    expectKquantError(() => dequantizeGPTQSync({ ...t, format: undefined as never }), 'KQ_INVALID_ARGUMENT', /tensors\.format/);
    expectKquantError(() => dequantizeGPTQSync({ ...t, gIdx: new Int32Array(64).fill(-1) }), 'KQ_INVALID_ARGUMENT', /tensors\.gIdx\[0\]/);
  });
});
