// `kquant quantize` and `kquant inspect` as a user runs them (the built dist/ entry), on tiny llama-like
// models written with writeSafetensors: f16 in one file with config.json, bf16 in shards with an index and
// tied embeddings, f32 with rows that force llama.cpp's fallbacks. The GGUF read back must hold every tensor
// under its preset type, byte-identical to quantizeGGML of the source (q/k rows permuted as llama.cpp's
// converter does), and dequantize close to it; bad input exits with status 2 or a one-line KquantError.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dequantizeGGMLSync,
  encodeGGUF,
  fromBFloat16Sync,
  fromFloat16Sync,
  ggufTensorName,
  llamaPermuteHeads,
  quantizeGGMLSync,
  readGGUF,
  toBFloat16Sync,
  toFloat16Sync,
  unpermuteLlamaRows,
  writeSafetensors,
  type GGMLQuantType,
  type GGUFFile,
  type SafeTensor,
} from '../lib/index.js';
import { randomFloats } from './helpers/random.js';

const cli = fileURLToPath(new URL('../dist/lib/cli/kquant.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'kquant-quantize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function kquant(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

// Relative RMS error of dequantize(quantize(x)) allowed per type on N(0, 1)-like weights: about 1.5× what
// each type measures on such data (q4_k ≈ 0.065, q5_0 ≈ 0.045, q6_k ≈ 0.016, q8_0 ≈ 0.004).
const MAX_REL_RMS: Record<string, number> = { q4_k: 0.1, q5_k: 0.05, q5_0: 0.07, q6_k: 0.025, q8_0: 0.006 };

const HIDDEN = 256;
const HEADS = 4;
const KV_HEADS = 2;
const VOCAB = 320;

interface ModelSpec {
  layers: number;
  ff: number;
  dtype: 'F16' | 'BF16' | 'F32';
  tied?: boolean;
}

// Hugging Face llama tensors (row-major [out, in]) as f32, and the same in the file's dtype.
function hfModel({ layers, ff, dtype, tied = false }: ModelSpec): { values: Map<string, Float32Array>; tensors: Map<string, SafeTensor> } {
  const kv = (HIDDEN / HEADS) * KV_HEADS;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [VOCAB, HIDDEN]], ['model.norm.weight', [HIDDEN]]];
  if (!tied) shapes.push(['lm_head.weight', [VOCAB, HIDDEN]]);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [HIDDEN]],
      [`${p}.self_attn.q_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}.self_attn.k_proj.weight`, [kv, HIDDEN]],
      [`${p}.self_attn.v_proj.weight`, [kv, HIDDEN]],
      [`${p}.self_attn.o_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}.post_attention_layernorm.weight`, [HIDDEN]],
      [`${p}.mlp.gate_proj.weight`, [ff, HIDDEN]],
      [`${p}.mlp.up_proj.weight`, [ff, HIDDEN]],
      [`${p}.mlp.down_proj.weight`, [HIDDEN, ff]],
    );
  }
  const values = new Map<string, Float32Array>();
  const tensors = new Map<string, SafeTensor>();
  shapes.forEach(([name, shape], seed) => {
    const raw = randomFloats(shape.reduce((a, d) => a * d, 1), 1000 + seed, 0.05);
    if (dtype === 'F16') {
      const bits = toFloat16Sync(raw);
      tensors.set(name, { dtype, shape, data: bits });
      values.set(name, fromFloat16Sync(bits));
    } else if (dtype === 'BF16') {
      const bits = toBFloat16Sync(raw);
      tensors.set(name, { dtype, shape, data: bits });
      values.set(name, fromBFloat16Sync(bits));
    } else {
      tensors.set(name, { dtype, shape, data: raw });
      values.set(name, raw);
    }
  });
  return { values, tensors };
}

function writeConfig(dir: string, layers: number, ff: number, extra: Record<string, unknown> = {}): void {
  const config = {
    architectures: ['LlamaForCausalLM'],
    hidden_size: HIDDEN,
    intermediate_size: ff,
    num_hidden_layers: layers,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    max_position_embeddings: 2048,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
    vocab_size: VOCAB,
    ...extra,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}

// A byte-level BPE tokenizer.json (Llama 3 style) with fewer ids than VOCAB: 300 tokens, 2 added specials;
// the GGUF's list is padded to the embedding rows.
function writeTokenizer(dir: string): void {
  const vocab = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`t${i}`, i]));
  const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const tokenizer = {
    added_tokens: [
      { id: 300, content: '<|begin_of_text|>', special: true },
      { id: 301, content: '<|end_of_text|>', special: true },
    ],
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex } }, { type: 'ByteLevel', use_regex: false }] },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab, merges: [['t1', 't2'], ['t3', 't4'], ['t5', 't6']] },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', add_bos_token: true }));
}

// Each GGUF tensor: the preset's type, bytes equal to quantizeGGML of the (permuted) source, close on the way back.
function checkTensors(f: GGUFFile, values: Map<string, Float32Array>, expectType: (name: string) => string): void {
  const byGGUF = new Map([...values].map(([hf, v]) => [ggufTensorName(hf)!, { hf, v }]));
  expect(new Set(f.tensors.map((t) => t.name))).toEqual(new Set(byGGUF.keys()));
  for (const t of f.tensors) {
    const { hf, v } = byGGUF.get(t.name)!;
    expect(t.type, t.name).toBe(expectType(t.name));
    const heads = llamaPermuteHeads(hf, HEADS, KV_HEADS);
    const src = heads === undefined ? v : unpermuteLlamaRows(v, t.shape[t.shape.length - 1]!, heads);
    const bytes = t.read();
    const raw = (a: Float32Array | Uint16Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    if (t.type === 'f32' || t.type === 'f16' || t.type === 'bf16') {
      const want = t.type === 'f32' ? src : t.type === 'f16' ? toFloat16Sync(src) : toBFloat16Sync(src);
      expect(Buffer.compare(raw(bytes), raw(want)), `${t.name} bytes`).toBe(0);
      continue;
    }
    const want = quantizeGGMLSync(t.type as GGMLQuantType, src);
    expect(Buffer.compare(raw(bytes), raw(want)), `${t.name} bytes`).toBe(0);
    const back = dequantizeGGMLSync(t.type as GGMLQuantType, bytes, src.length);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < src.length; i++) {
      err += (back[i]! - src[i]!) ** 2;
      norm += src[i]! ** 2;
    }
    expect(Math.sqrt(err / norm), `${t.name} relative RMS error`).toBeLessThan(MAX_REL_RMS[t.type]!);
  }
}

const layerOf = (name: string): number => Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);

describe('kquant quantize', () => {
  it('f16 file + config.json → Q4_K_M: types per llama.cpp, bytes equal quantizeGGML, metadata, JSON summary', () => {
    const dir = join(tmp, 'f16');
    mkdirSync(dir);
    const { values, tensors } = hfModel({ layers: 4, ff: 512, dtype: 'F16' });
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    writeConfig(dir, 4, 512);
    writeTokenizer(dir);
    const out = join(tmp, 'f16-q4_k_m.gguf');
    const run = kquant('quantize', join(dir, 'model.safetensors'), '--to', 'q4_k_m', '-o', out, '--json');
    expect(run.status, run.stderr).toBe(0);

    const f = readGGUF(out);
    // use_more_bits(i, 4): layers 2 and 3 (7·4/8 = 3, and (2 − 0) mod 3 = 2).
    checkTensors(f, values, (name) => {
      if (name.endsWith('norm.weight')) return 'f32';
      if (name === 'output.weight') return 'q6_k';
      if (/attn_v|ffn_down/.test(name)) return layerOf(name) >= 2 ? 'q6_k' : 'q4_k';
      return 'q4_k';
    });
    expect(f.tensors.slice(0, 4).map((t) => t.name)).toEqual(['output.weight', 'output_norm.weight', 'token_embd.weight', 'blk.0.attn_k.weight']);
    expect(f.metadata).toMatchObject({
      'general.architecture': 'llama',
      'general.name': 'f16',
      'general.file_type': 15,
      'general.quantization_version': 2,
      'llama.block_count': 4,
      'llama.context_length': 2048,
      'llama.embedding_length': 256,
      'llama.feed_forward_length': 512,
      'llama.attention.head_count': 4,
      'llama.attention.head_count_kv': 2,
      'llama.rope.freq_base': 10000,
      'llama.vocab_size': VOCAB,
      'llama.rope.dimension_count': 64,
    });
    expect(f.metadata['llama.attention.layer_norm_rms_epsilon']).toBeCloseTo(1e-5, 12);
    expect(f.typedMetadata['general.file_type']!.type).toBe('u32');
    // The tokenizer: one token per embedding row, padded past the 302 ids tokenizer.json holds.
    const rows = f.tensors.find((t) => t.name === 'token_embd.weight')!.shape[1];
    expect(rows).toBe(VOCAB);
    expect(f.metadata).toMatchObject({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'llama-bpe', 'tokenizer.ggml.bos_token_id': 300, 'tokenizer.ggml.eos_token_id': 301, 'tokenizer.ggml.add_bos_token': true });
    const tokens = f.metadata['tokenizer.ggml.tokens'] as string[];
    expect(tokens).toHaveLength(rows);
    expect([tokens[0], tokens[300], tokens[302], tokens[rows - 1]]).toEqual(['t0', '<|begin_of_text|>', '[PAD302]', `[PAD${rows - 1}]`]);
    expect(f.typedMetadata['tokenizer.ggml.token_type']).toMatchObject({ type: 'array', itemType: 'i32' });
    expect(f.metadata['tokenizer.ggml.token_type']).toHaveLength(rows);
    expect(f.metadata['tokenizer.ggml.merges']).toEqual(['t1 t2', 't3 t4', 't5 t6']);

    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ preset: 'Q4_K_M', fileType: 15, tokenizer: { model: 'gpt2', pre: 'llama-bpe', tokens: VOCAB }, warnings: [] });
    expect(report.tensors).toHaveLength(f.tensors.length);
    const count = (type: string) => f.tensors.filter((t) => t.type === type).length;
    expect(Object.fromEntries(report.types.map((t: { type: string; tensors: number }) => [t.type, t.tensors]))).toEqual({ q4_k: count('q4_k'), q6_k: count('q6_k'), f32: count('f32') });
    expect(report.bytesOut).toBe(f.tensors.reduce((a, t) => a + t.byteLength, 0));
    expect(report.bytesIn).toBe([...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0));
    expect(report.bitsPerWeight).toBeCloseTo((report.bytesOut * 8) / report.elements, 9);
    expect(report.bitsPerWeight).toBeGreaterThan(4.5);
    expect(report.bitsPerWeight).toBeLessThan(6.6);
    // Progress on stderr (not a terminal here: one line per tensor).
    expect(run.stderr).toMatch(new RegExp(`\\[${f.tensors.length}/${f.tensors.length}\\] `));
    expect(run.stderr).toMatch(/blk\.3\.attn_v\.weight \[256, 128\] f16 → q6_k/);
  });

  it('bf16 shards with model.safetensors.index.json and tied embeddings → Q4_K_S; the table summary', () => {
    const dir = join(tmp, 'bf16-sharded');
    mkdirSync(dir);
    const { values, tensors } = hfModel({ layers: 3, ff: 512, dtype: 'BF16', tied: true });
    const names = [...tensors.keys()];
    const shards = [names.slice(0, 12), names.slice(12, 25), names.slice(25)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00003.safetensors`;
      writeSafetensors(join(dir, file), new Map(part.map((n) => [n, tensors.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    writeConfig(dir, 3, 512, { tie_word_embeddings: true, rope_scaling: { rope_type: 'llama3', factor: 8 } });
    const out = join(tmp, 'bf16-q4_k_s.gguf');
    const run = kquant('quantize', dir, '--to', 'Q4_K_S', '-o', out);
    expect(run.status, run.stderr).toBe(0);

    const f = readGGUF(out);
    checkTensors(f, values, (name) => {
      if (name.endsWith('norm.weight')) return 'f32';
      if (name === 'token_embd.weight') return 'q6_k'; // no output.weight: the output rule applies
      if (name.includes('attn_v')) return 'q5_k'; // the first four attn_v
      return 'q4_k'; // ffn_down: i < 3/8 = 0, none
    });
    expect(f.metadata['general.file_type']).toBe(14);
    expect(run.stdout).toMatch(/Q4_K_S \(general\.file_type 14\), 29 tensors from 3 file\(s\)/);
    expect(run.stdout).toMatch(/^q4_k\s+18\s/m);
    expect(run.stdout).toMatch(/^q5_k\s+3\s/m);
    expect(run.stdout).toMatch(/bits\/weight\) → .* bits\/weight\)/);
    expect(run.stderr).toMatch(/^kquant: warning: config\.json has rope_scaling, which is not converted/m);
    expect(run.stderr).toMatch(/^kquant: warning: no tokenizer\.json or tokenizer\.model: the GGUF has no tokenizer/m);
    expect(run.stdout).toMatch(/file\(s\), no tokenizer\n/);
    expect(f.metadata['tokenizer.ggml.tokens']).toBeUndefined();
  });

  it('f32 rows that are not whole super-blocks fall back (Q4_K → Q5_0, Q6_K → Q8_0); F16 preset', () => {
    const dir = join(tmp, 'f32-odd');
    mkdirSync(dir);
    const { values, tensors } = hfModel({ layers: 2, ff: 288, dtype: 'F32' });
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    writeConfig(dir, 2, 288);
    // A tokenizer kquant cannot convert: a warning, and the GGUF without a tokenizer.
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    const out = join(tmp, 'odd-q4_k_m.gguf');
    const run = kquant('quantize', dir, '--to', 'q4_k_m', '-o', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    // use_more_bits(i, 2): layer 1 only.
    checkTensors(readGGUF(out), values, (name) => {
      if (name.endsWith('norm.weight')) return 'f32';
      if (name === 'output.weight') return 'q6_k';
      if (name.includes('ffn_down')) return layerOf(name) === 1 ? 'q8_0' : 'q5_0';
      if (name.includes('attn_v')) return layerOf(name) === 1 ? 'q6_k' : 'q4_k';
      return 'q4_k';
    });
    const report = JSON.parse(run.stdout);
    expect(report.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_down.weight')).toMatchObject({ type: 'q5_0', fallbackFrom: 'q4_k', sourceDtype: 'F32' });
    expect(report.tokenizer).toBeNull();
    expect(report.warnings).toEqual([expect.stringMatching(/^tokenizer\.json: model\.type is "Unigram"; .*: the GGUF has no tokenizer/)]);
    expect(readGGUF(out).metadata['tokenizer.ggml.model']).toBeUndefined();

    const f16 = join(tmp, 'odd-f16.gguf');
    expect(kquant('quantize', dir, '--to', 'f16', '-o', f16).status).toBe(0);
    checkTensors(readGGUF(f16), values, (name) => (name.endsWith('norm.weight') ? 'f32' : 'f16'));
  });

  it('rejects bad input with status 2 or a KquantError message, without a stack trace', () => {
    const dir = join(tmp, 'bad');
    mkdirSync(dir);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'this is not a safetensors file at all');
    const good = join(tmp, 'f16', 'model.safetensors');
    const out = join(dir, 'out.gguf');

    const missing = kquant('quantize', join(dir, 'nope.safetensors'), '--to', 'q4_k_m', '-o', out);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/No such file or directory: .*nope\.safetensors/);
    const preset = kquant('quantize', good, '--to', 'q4_k_xl', '-o', out);
    expect(preset.status).toBe(2);
    expect(preset.stderr).toMatch(/Unknown preset 'q4_k_xl'; expected one of Q4_0, .*Q4_K_M/);
    expect(kquant('quantize', good, '--to', 'q4_k_m').status).toBe(2);
    expect(kquant('quantize', good, '-o', out).status).toBe(2);
    const noDir = kquant('quantize', good, '--to', 'q8_0', '-o', join(dir, 'missing', 'out.gguf'));
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toMatch(/Cannot write .*missing\/out\.gguf/);

    const notSafetensors = kquant('quantize', junk, '--to', 'q8_0', '-o', out);
    expect(notSafetensors.status).toBe(1);
    expect(notSafetensors.stderr).toMatch(/^kquant: Invalid safetensors data: header length \d+ /);
    expect(notSafetensors.stderr).not.toMatch(/\n\s+at /);

    writeConfig(dir, 1, 512, { architectures: ['Qwen2ForCausalLM'] });
    rmSync(junk);
    writeSafetensors(join(dir, 'model.safetensors'), new Map([['model.norm.weight', { dtype: 'F32', shape: [4], data: new Float32Array(4) } as SafeTensor]]));
    const arch = kquant('quantize', dir, '--to', 'q8_0', '-o', out);
    expect(arch.status).toBe(1);
    expect(arch.stderr).toMatch(/^kquant: .*architecture Qwen2ForCausalLM is not supported/);

    const sharded = join(dir, 'sharded');
    mkdirSync(sharded);
    writeSafetensors(join(sharded, 'a.safetensors'), new Map([['model.norm.weight', { dtype: 'F32', shape: [4], data: new Float32Array(4) } as SafeTensor]]));
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'a.safetensors', 'lm_head.weight': 'a.safetensors' } }));
    const index = kquant('quantize', sharded, '--to', 'q8_0', '-o', out);
    expect(index.status).toBe(1);
    expect(index.stderr).toMatch(/^kquant: model\.safetensors\.index\.json lists 1 tensor\(s\) no shard holds, e\.g\. "lm_head\.weight"\n/);

    const inspectMissing = kquant('inspect', join(dir, 'nope.gguf'));
    expect(inspectMissing.status).toBe(2);
    const inspectJunk = kquant('inspect', join(dir, 'config.json'));
    expect(inspectJunk.status).toBe(1);
    expect(inspectJunk.stderr).toMatch(/^kquant: Invalid GGUF data: the magic is 0x[0-9a-f]+, not "GGUF"\n$/);
  });
});

describe('kquant inspect', () => {
  it('prints the version, metadata and a tensor table; --json gives the same with offsets', () => {
    const path = join(tmp, 'f16-q4_k_m.gguf');
    const f = readGGUF(path);
    const text = kquant('inspect', path);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/GGUF v3, .*alignment 32, data at byte \d+, \d+ key-values, 39 tensors/);
    expect(text.stdout).toMatch(/^general\.architecture\s+str\s+"llama"$/m);
    expect(text.stdout).toMatch(/^general\.file_type\s+u32\s+15$/m);
    expect(text.stdout).toMatch(/^llama\.attention\.layer_norm_rms_epsilon\s+f32\s+0\.00001$/m);
    const q6 = f.tensors.find((t) => t.name === 'blk.2.ffn_down.weight')!;
    expect(text.stdout).toMatch(new RegExp(`^blk\\.2\\.ffn_down\\.weight\\s+q6_k\\s+\\[512, 256\\]\\s+${q6.byteLength}\\s+${q6.offset}$`, 'm'));

    const json = JSON.parse(kquant('inspect', path, '--json').stdout);
    expect(json).toMatchObject({ version: 3, alignment: 32, dataOffset: f.dataOffset });
    expect(json.metadata['general.file_type']).toEqual({ type: 'u32', value: 15 });
    expect(json.metadata['llama.attention.layer_norm_rms_epsilon']).toEqual({ type: 'f32', value: 1e-5 });
    expect(json.tensors).toEqual(f.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, bytes: t.byteLength, offset: t.offset })));
  });

  it('summarises long arrays', () => {
    const path = join(tmp, 'arrays.gguf');
    const tokens = Array.from({ length: 1000 }, (_, i) => `tok${i}`);
    writeFileSync(path, encodeGGUF({ metadata: { 'general.architecture': 'llama', 'tokenizer.ggml.tokens': tokens } }));
    const text = kquant('inspect', path);
    expect(text.stdout).toMatch(/^tokenizer\.ggml\.tokens\s+array\[str\]\s+\["tok0", "tok1", .*"tok7", … \(1000 items\)\]$/m);
    const json = JSON.parse(kquant('inspect', path, '--json').stdout);
    expect(json.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'array[str]', value: { count: 1000, head: tokens.slice(0, 8) } });
  });
});
