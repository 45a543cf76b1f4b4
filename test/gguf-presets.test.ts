// llama.cpp presets on synthetic llama-shaped tensor lists (no data): which tensor gets which ggml type under
// Q4_K_M, Q4_K_S, Q3_K_M, Q2_K, Q6_K, Q8_0, Q4_0, F16, tied embeddings, the 70B attn_v bump, the row-length
// fallbacks; the order llama-quantize writes; Hugging Face → GGUF names, the llama q/k permutation, the
// config.json keys; and the streaming GGUF writer against encodeGGUF.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GGUF_PRESETS,
  KquantError,
  choosePresetTypes,
  compareGGUFTensorNames,
  encodeGGUF,
  ggufPreset,
  ggufTensorName,
  llamaMetadata,
  llamaPermuteHeads,
  unpermuteLlamaRows,
  writeGGUFStream,
  type PresetTensor,
} from '../lib/index.js';
import { expectKquantError } from './helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'kquant-presets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Shape {
  layers: number;
  hidden: number;
  kv: number;
  ff: number;
  vocab: number;
  tied?: boolean;
}

// GGUF names and ggml shapes (ne, row length first) of a llama model, in no particular order.
function llama({ layers, hidden, kv, ff, vocab, tied = false }: Shape): PresetTensor[] {
  const out: PresetTensor[] = [{ name: 'output_norm.weight', shape: [hidden] }, { name: 'token_embd.weight', shape: [hidden, vocab] }];
  if (!tied) out.push({ name: 'output.weight', shape: [hidden, vocab] });
  for (let i = layers - 1; i >= 0; i--) {
    out.push(
      { name: `blk.${i}.attn_norm.weight`, shape: [hidden] },
      { name: `blk.${i}.attn_q.weight`, shape: [hidden, hidden] },
      { name: `blk.${i}.attn_k.weight`, shape: [hidden, kv] },
      { name: `blk.${i}.attn_v.weight`, shape: [hidden, kv] },
      { name: `blk.${i}.attn_output.weight`, shape: [hidden, hidden] },
      { name: `blk.${i}.ffn_norm.weight`, shape: [hidden] },
      { name: `blk.${i}.ffn_gate.weight`, shape: [hidden, ff] },
      { name: `blk.${i}.ffn_up.weight`, shape: [hidden, ff] },
      { name: `blk.${i}.ffn_down.weight`, shape: [ff, hidden] },
    );
  }
  return out;
}

const LLAMA_7B: Shape = { layers: 32, hidden: 4096, kv: 4096, ff: 11008, vocab: 32000 };

function types(preset: string, tensors: PresetTensor[], model = {}): Map<string, string> {
  return new Map(choosePresetTypes(preset, tensors, model).map((c) => [c.name, c.type]));
}

// use_more_bits(i, 32) worked out by hand: the first and last 4 layers, and 6, 9, …, 27.
const MORE_BITS_32 = new Set([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);

describe('ggufPreset', () => {
  it('knows llama.cpp names in any case, with their LLAMA_FTYPE numbers', () => {
    expect(ggufPreset('q4_k_m')).toEqual({ name: 'Q4_K_M', fileType: 15, defaultType: 'q4_k' });
    expect(ggufPreset('Q8_0')).toMatchObject({ fileType: 7, defaultType: 'q8_0' });
    expect(ggufPreset('q4_0').fileType).toBe(2);
    expect(ggufPreset('Q4_K_S').fileType).toBe(14);
    expect(ggufPreset('Q5_K_M').fileType).toBe(17);
    expect(ggufPreset('Q6_K').fileType).toBe(18);
    expect(ggufPreset('f16')).toMatchObject({ fileType: 1, defaultType: 'f16' });
    expect(ggufPreset('bf16').fileType).toBe(32);
    expect(ggufPreset('F32').fileType).toBe(0);
    expect(GGUF_PRESETS).toHaveLength(17);
  });

  it('rejects unknown presets naming the known ones', () => {
    expectKquantError(() => ggufPreset('q4_k_xl'), 'KQ_INVALID_ARGUMENT', /Q4_K_M.*"q4_k_xl"/);
    expectKquantError(() => ggufPreset(4), 'KQ_INVALID_ARGUMENT', /received 4/);
  });
});

describe('choosePresetTypes (llama, 32 layers)', () => {
  const model = llama(LLAMA_7B);

  it('Q4_K_M: attn_v and ffn_down at Q6_K where use_more_bits, output Q6_K, token_embd Q4_K, norms F32', () => {
    const t = types('Q4_K_M', model);
    for (let i = 0; i < 32; i++) {
      const more = MORE_BITS_32.has(i) ? 'q6_k' : 'q4_k';
      expect(t.get(`blk.${i}.attn_v.weight`), `layer ${i}`).toBe(more);
      expect(t.get(`blk.${i}.ffn_down.weight`), `layer ${i}`).toBe(more);
      for (const n of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) expect(t.get(`blk.${i}.${n}.weight`)).toBe('q4_k');
      expect(t.get(`blk.${i}.attn_norm.weight`)).toBe('f32');
      expect(t.get(`blk.${i}.ffn_norm.weight`)).toBe('f32');
    }
    expect(t.get('output.weight')).toBe('q6_k');
    expect(t.get('token_embd.weight')).toBe('q4_k');
    expect(t.get('output_norm.weight')).toBe('f32');
  });

  it('Q5_K_M: the same layers at Q6_K, the rest Q5_K', () => {
    const t = types('Q5_K_M', model);
    for (let i = 0; i < 32; i++) {
      expect(t.get(`blk.${i}.attn_v.weight`)).toBe(MORE_BITS_32.has(i) ? 'q6_k' : 'q5_k');
      expect(t.get(`blk.${i}.attn_q.weight`)).toBe('q5_k');
    }
  });

  it('Q4_K_S: the first four attn_v and the first eighth of ffn_down at Q5_K', () => {
    const t = types('Q4_K_S', model);
    for (let i = 0; i < 32; i++) {
      expect(t.get(`blk.${i}.attn_v.weight`)).toBe(i < 4 ? 'q5_k' : 'q4_k');
      expect(t.get(`blk.${i}.ffn_down.weight`)).toBe(i < 4 ? 'q5_k' : 'q4_k');
      expect(t.get(`blk.${i}.ffn_up.weight`)).toBe('q4_k');
    }
    expect(t.get('output.weight')).toBe('q6_k');
    expect(t.get('token_embd.weight')).toBe('q4_k');
  });

  it('Q3_K_M: attn_v Q5_K then Q4_K, ffn_down Q5_K for the first sixteenth then Q4_K, attn_output Q4_K', () => {
    const t = types('Q3_K_M', model);
    for (let i = 0; i < 32; i++) {
      expect(t.get(`blk.${i}.attn_v.weight`)).toBe(i < 2 ? 'q5_k' : 'q4_k');
      expect(t.get(`blk.${i}.ffn_down.weight`)).toBe(i < 2 ? 'q5_k' : 'q4_k');
      expect(t.get(`blk.${i}.attn_output.weight`)).toBe('q4_k');
      expect(t.get(`blk.${i}.attn_q.weight`)).toBe('q3_k');
    }
  });

  it('Q2_K: attn_v Q4_K with grouped-query attention of 4 or more, else Q3_K; ffn_down and attn_output Q3_K', () => {
    const plain = types('Q2_K', model, { headCount: 32, headCountKv: 32 });
    const gqa = types('Q2_K', llama({ ...LLAMA_7B, kv: 1024 }), { headCount: 32, headCountKv: 8 });
    expect(plain.get('blk.5.attn_v.weight')).toBe('q3_k');
    expect(gqa.get('blk.5.attn_v.weight')).toBe('q4_k');
    expect(plain.get('blk.5.ffn_down.weight')).toBe('q3_k');
    expect(plain.get('blk.5.attn_output.weight')).toBe('q3_k');
    expect(plain.get('blk.5.ffn_up.weight')).toBe('q2_k');
  });

  it('Q6_K and Q8_0: every weight at the default type; output stays Q8_0 under Q8_0', () => {
    for (const [preset, type] of [['Q6_K', 'q6_k'], ['Q8_0', 'q8_0']] as const) {
      for (const c of choosePresetTypes(preset, model)) expect(c.type, `${preset} ${c.name}`).toBe(c.shape.length === 1 ? 'f32' : type);
    }
  });

  it('Q4_0: output at Q6_K, token_embd at Q4_0', () => {
    const t = types('Q4_0', model);
    expect(t.get('output.weight')).toBe('q6_k');
    expect(t.get('token_embd.weight')).toBe('q4_0');
    expect(t.get('blk.0.attn_v.weight')).toBe('q4_0');
  });

  it('F16 / BF16 / F32: 2-D weights at that type, 1-D tensors F32', () => {
    for (const [preset, type] of [['F16', 'f16'], ['BF16', 'bf16'], ['F32', 'f32']] as const) {
      for (const c of choosePresetTypes(preset, model)) expect(c.type, c.name).toBe(c.shape.length === 1 ? 'f32' : type);
    }
  });

  it('tied embeddings: token_embd takes the output rule', () => {
    const tied = llama({ ...LLAMA_7B, tied: true });
    expect(types('Q4_K_M', tied).get('token_embd.weight')).toBe('q6_k');
    expect(types('Q8_0', tied).get('token_embd.weight')).toBe('q8_0');
  });

  it('70B llama (80 layers, grouped-query attention): Q3_K/Q4_K attn_v become Q5_K', () => {
    const big = llama({ layers: 80, hidden: 8192, kv: 1024, ff: 28672, vocab: 32000 });
    const t = types('Q4_K_S', big, { headCount: 64, headCountKv: 8 });
    for (let i = 0; i < 80; i++) expect(t.get(`blk.${i}.attn_v.weight`)).toBe('q5_k');
    expect(t.get('blk.40.attn_q.weight')).toBe('q4_k');
    // Without grouped-query attention it is the 65B, with no bump.
    expect(types('Q4_K_S', big, { headCount: 64, headCountKv: 64 }).get('blk.40.attn_v.weight')).toBe('q4_k');
  });

  it('1-D tensors, [n, 1] tensors and biases stay F32', () => {
    const extra = [...llama({ ...LLAMA_7B, layers: 1 }), { name: 'blk.0.attn_q.bias', shape: [4096] }, { name: 'blk.0.attn_k.weight2', shape: [4096, 1] }];
    const t = types('Q4_K_M', extra);
    expect(t.get('blk.0.attn_q.bias')).toBe('f32');
    expect(t.get('blk.0.attn_k.weight2')).toBe('f32');
  });

  it('writes in llama-quantize order: non-block tensors, then block by block (numerically), names sorted', () => {
    const names = choosePresetTypes('Q4_K_M', llama({ ...LLAMA_7B, layers: 12 })).map((c) => c.name);
    expect(names.slice(0, 4)).toEqual(['output.weight', 'output_norm.weight', 'token_embd.weight', 'blk.0.attn_k.weight']);
    expect(names.indexOf('blk.10.attn_k.weight')).toBeGreaterThan(names.indexOf('blk.9.ffn_up.weight'));
    expect(compareGGUFTensorNames('blk.2.x', 'blk.10.a')).toBeLessThan(0);
    expect(compareGGUFTensorNames('output.weight', 'blk.0.a')).toBeLessThan(0);
  });
});

describe('choosePresetTypes: row lengths that are not whole blocks', () => {
  it('falls back as llama.cpp does: Q4_K → Q5_0, Q6_K → Q8_0, output → Q8_0', () => {
    // ff = 288 = 9 × 32: ffn_down rows are not whole 256-blocks.
    const c = choosePresetTypes('Q4_K_M', llama({ layers: 4, hidden: 256, kv: 128, ff: 288, vocab: 320 }));
    const get = (n: string) => c.find((x) => x.name === n)!;
    expect(get('blk.0.ffn_down.weight')).toMatchObject({ type: 'q5_0', fallbackFrom: 'q4_k' });
    expect(get('blk.3.ffn_down.weight')).toMatchObject({ type: 'q8_0', fallbackFrom: 'q6_k' });
    expect(get('blk.0.ffn_up.weight').type).toBe('q4_k');
    const odd = choosePresetTypes('Q4_K_M', llama({ layers: 1, hidden: 288, kv: 288, ff: 512, vocab: 64 }));
    expect(odd.find((x) => x.name === 'output.weight')).toEqual({ name: 'output.weight', shape: [288, 64], type: 'q8_0' });
    expect(odd.find((x) => x.name === 'blk.0.attn_q.weight')).toMatchObject({ type: 'q5_0', fallbackFrom: 'q4_k' });
    expect(types('Q5_K_S', odd).get('blk.0.attn_q.weight')).toBe('q5_1');
    expect(types('Q2_K', odd).get('blk.0.attn_q.weight')).toBe('q4_0');
  });

  it('uses F16 when even the fallback block does not fit, and stops for types with no fallback', () => {
    const odd = llama({ layers: 1, hidden: 100, kv: 100, ff: 512, vocab: 64 });
    const c = choosePresetTypes('Q4_K_S', odd.filter((t) => t.name !== 'output.weight' && t.name !== 'token_embd.weight'));
    expect(c.find((x) => x.name === 'blk.0.attn_q.weight')).toMatchObject({ type: 'f16', fallbackFrom: 'q4_k' });
    expectKquantError(() => choosePresetTypes('Q8_0', odd), 'KQ_SHAPE', /^output.weight: row length 100 .* q8_0 block size 32.*no fallback/);
    // Q4_0's output rule picks Q8_0, which does not fit either.
    expectKquantError(() => choosePresetTypes('Q4_0', odd), 'KQ_SHAPE', /row length 100/);
  });
});

describe('Hugging Face names', () => {
  it('maps llama names as convert_hf_to_gguf does and keeps GGUF names', () => {
    const cases: [string, string | undefined][] = [
      ['model.embed_tokens.weight', 'token_embd.weight'],
      ['lm_head.weight', 'output.weight'],
      ['model.norm.weight', 'output_norm.weight'],
      ['model.layers.0.input_layernorm.weight', 'blk.0.attn_norm.weight'],
      ['model.layers.7.self_attn.q_proj.weight', 'blk.7.attn_q.weight'],
      ['model.layers.7.self_attn.k_proj.bias', 'blk.7.attn_k.bias'],
      ['model.layers.7.self_attn.v_proj.weight', 'blk.7.attn_v.weight'],
      ['model.layers.7.self_attn.o_proj.weight', 'blk.7.attn_output.weight'],
      ['model.layers.12.post_attention_layernorm.weight', 'blk.12.ffn_norm.weight'],
      ['model.layers.12.mlp.gate_proj.weight', 'blk.12.ffn_gate.weight'],
      ['model.layers.12.mlp.up_proj.weight', 'blk.12.ffn_up.weight'],
      ['model.layers.12.mlp.down_proj.weight', 'blk.12.ffn_down.weight'],
      ['model.layers.3.self_attn.rotary_emb.inv_freq', undefined],
      ['blk.3.ffn_down.weight', 'blk.3.ffn_down.weight'],
      ['token_embd.weight', 'token_embd.weight'],
      ['output_norm.weight', 'output_norm.weight'],
    ];
    for (const [hf, gguf] of cases) expect(ggufTensorName(hf), hf).toBe(gguf);
  });

  it('rejects names it cannot map', () => {
    expectKquantError(() => ggufTensorName('model.layers.0.mlp.experts.0.w1.weight'), 'KQ_FORMAT', /Cannot map tensor "model.layers.0.mlp.experts/);
    expectKquantError(() => ggufTensorName('transformer.h.0.attn.c_attn.weight'), 'KQ_FORMAT', /llama-family/);
  });

  it('permutes q_proj / k_proj rows per head from halves to interleaved pairs', () => {
    // One head of dimension 4, one column: rows [a0, a1, b0, b1] → [a0, b0, a1, b1].
    expect([...unpermuteLlamaRows(Float32Array.from([0, 1, 2, 3]), 4, 1)]).toEqual([0, 2, 1, 3]);
    // Two heads of 4, two columns (row r holds 10r, 10r + 1).
    const w = Float32Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 2) + (i % 2));
    const rows = [...unpermuteLlamaRows(w, 8, 2)].filter((_, i) => i % 2 === 0).map((v) => v / 10);
    expect(rows).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expectKquantError(() => unpermuteLlamaRows(new Float32Array(12), 6, 2), 'KQ_SHAPE', /6 rows into 2 heads/);
  });

  it('permutes q with n_head and k with n_head_kv, nothing else', () => {
    expect(llamaPermuteHeads('model.layers.0.self_attn.q_proj.weight', 32, 8)).toBe(32);
    expect(llamaPermuteHeads('model.layers.0.self_attn.k_proj.weight', 32, 8)).toBe(8);
    expect(llamaPermuteHeads('model.layers.0.self_attn.k_proj.weight', 32)).toBe(32);
    expect(llamaPermuteHeads('model.layers.0.self_attn.v_proj.weight', 32, 8)).toBeUndefined();
  });

  it('writes the llama hyper-parameters present in config.json', () => {
    const md = llamaMetadata({ num_hidden_layers: 4, max_position_embeddings: 2048, hidden_size: 256, intermediate_size: 512, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 500000, rms_norm_eps: 1e-5, vocab_size: 320 });
    expect(md).toEqual({
      'llama.block_count': { type: 'u32', value: 4 },
      'llama.context_length': { type: 'u32', value: 2048 },
      'llama.embedding_length': { type: 'u32', value: 256 },
      'llama.feed_forward_length': { type: 'u32', value: 512 },
      'llama.attention.head_count': { type: 'u32', value: 4 },
      'llama.attention.head_count_kv': { type: 'u32', value: 2 },
      'llama.rope.freq_base': { type: 'f32', value: 500000 },
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
      'llama.vocab_size': { type: 'u32', value: 320 },
      'llama.rope.dimension_count': { type: 'u32', value: 64 },
    });
    expect(llamaMetadata({ hidden_size: 256 })).toEqual({ 'llama.embedding_length': { type: 'u32', value: 256 } });
  });
});

describe('writeGGUFStream', () => {
  const tensors = [
    { name: 'a', type: 'q8_0', shape: [64, 2], data: new Uint8Array(2 * 2 * 34).map((_, i) => i) },
    { name: 'b', type: 'f32', shape: [3], data: new Uint8Array(12).fill(7) },
  ];
  const metadata = { 'general.architecture': 'llama', 'x.n': { type: 'u32' as const, value: 5 } };

  it('writes the same bytes as encodeGGUF, calling the producers in order', async () => {
    const path = join(tmp, 'stream.gguf');
    const seen: number[] = [];
    const n = await writeGGUFStream(path, { metadata, tensors: tensors.map((t) => ({ ...t, data: async () => t.data })) }, (i) => seen.push(i));
    const want = encodeGGUF({ metadata, tensors });
    expect(n).toBe(want.length);
    expect(new Uint8Array(readFileSync(path))).toEqual(want);
    expect(seen).toEqual([0, 1]);
  });

  it('rejects a producer of the wrong size and removes the partial file', async () => {
    const path = join(tmp, 'short.gguf');
    const bad = tensors.map((t, i) => ({ ...t, data: () => (i === 1 ? new Uint8Array(8) : t.data) }));
    const err = await writeGGUFStream(path, { metadata, tensors: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KquantError);
    expect((err as KquantError).code).toBe('KQ_LENGTH');
    expect((err as KquantError).message).toMatch(/tensors\[1\] \(b\) needs 12 bytes/);
    expect(existsSync(path)).toBe(false);
  });
});
