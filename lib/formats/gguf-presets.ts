// llama.cpp's model presets (the `llama-quantize` file types Q4_K_M, Q8_0 …) and the conversion rules that
// turn a Hugging Face llama-family checkpoint into GGUF tensors. The rules are facts read from llama.cpp, not
// its code:
//   - src/llama-quant.cpp @ 007dbbf3fd17eefe9b47fee45f48f7ba5e62b714: llama_ftype_get_default_type,
//     tensor_allows_quantization, tensor_get_category, llama_tensor_get_type(_impl), tensor_type_fallback;
//   - include/llama.h @ 0011438e931ec7fd258433f61d411301a759fae2: the LLAMA_FTYPE numbers (general.file_type);
//   - src/llama-model-loader.h, weight_name_comparer: the order llama-quantize visits (and writes) tensors;
//   - conversion/llama.py @ 7bca1fd9ca2a681b0182e16f24f832b7be1942af (convert_hf_to_gguf's LlamaModel) and
//     gguf-py/gguf/tensor_mapping.py @ 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf: names, q/k permutation, keys.
//
// Rules implemented (llama-family architectures; no MoE, no importance matrix, no --pure / overrides):
//   * Tensor order: tensors outside blocks first, then block by block (blk.N), by name within each group.
//   * Quantized at all: ≥ 2 dimensions (ggml_n_dims: trailing ne of 1 do not count), name ends in "weight",
//     not a norm ("_norm.weight"). Everything else is stored F32 (as the converter stores 1-D tensors/norms).
//   * Each preset has a default type (Q4_K_M → Q4_K, Q6_K → Q6_K, F16 → F16 …); F16/BF16/F32 stop there.
//   * output.weight — and token_embd.weight when there is no output.weight (tied embeddings) — get Q6_K,
//     except Q8_0 stays Q8_0, and Q8_0 when the row length is not a multiple of the default type's block.
//   * attn_v, and a fused attn_qkv, which llama.cpp treats as attn_v (counted together in order, i_v of n_v): Q2_K → Q4_K if n_head/n_head_kv
//     ≥ 4 else Q3_K; Q3_K_M → Q5_K for the first two, then Q4_K; Q3_K_L → Q5_K; Q4_K_M and Q5_K_M → Q6_K where
//     use_more_bits(i_v, n_v); Q4_K_S → Q5_K for the first four. On a 70B llama (80 layers, grouped-query
//     attention) a Q3_K/Q4_K attn_v becomes Q5_K.
//     use_more_bits(i, n) = i < n/8 or i ≥ 7n/8 or (i − n/8) mod 3 = 2 (integer division): the first and last
//     eighth of the layers and every third layer between.
//   * ffn_down (i = its index in order, n = block count): Q2_K → Q3_K; Q3_K_M → Q5_K for i < n/16, else Q4_K;
//     Q3_K_L → Q5_K; Q4_K_M and Q5_K_M → Q6_K where use_more_bits(i, n); Q4_K_S → Q5_K for i < n/8.
//   * attn_output: Q2_K → Q3_K, Q3_K_M → Q4_K, Q3_K_L → Q5_K. Everything else keeps the default type.
//   * Row length (ne[0]) not a multiple of the chosen type's block: Q2_K/Q3_K → Q4_0, Q4_K → Q5_0,
//     Q5_K → Q5_1, Q6_K → Q8_0, and F16 if even that block does not fit; the legacy types (Q4_0 … Q8_0) have
//     no fallback in llama.cpp, which stops, and so does this (KQ_SHAPE naming the tensor).
// Names: Hugging Face llama names map as the converter maps them (model.embed_tokens → token_embd, lm_head →
// output, model.norm → output_norm, model.layers.N.{input_layernorm → attn_norm, self_attn.{q,k,v,o}_proj →
// attn_{q,k,v,output}, post_attention_layernorm → ffn_norm, mlp.{gate,up,down}_proj → ffn_{gate,up,down}}),
// rotary_emb.inv_freq is dropped, names already in GGUF form are kept.
// The converter also permutes the rows of q_proj / k_proj (undoing Hugging Face's rotary layout): see
// unpermuteLlamaRows.
import { KquantError } from '../errors.js';
import { describe, fail } from '../validate.js';
import { ggmlType } from './gguf.js';

export const GGUF_PRESETS = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_S', 'Q4_K_M', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'F16', 'BF16', 'F32'] as const;
export type GGUFPreset = (typeof GGUF_PRESETS)[number];

export interface GGUFPresetInfo {
  name: GGUFPreset;
  /** llama.cpp's LLAMA_FTYPE number, stored as general.file_type. */
  fileType: number;
  /** The ggml type most weights get (lower case, 'q4_k'). */
  defaultType: string;
}

const PRESETS: Record<GGUFPreset, Omit<GGUFPresetInfo, 'name'>> = {
  Q4_0: { fileType: 2, defaultType: 'q4_0' },
  Q4_1: { fileType: 3, defaultType: 'q4_1' },
  Q5_0: { fileType: 8, defaultType: 'q5_0' },
  Q5_1: { fileType: 9, defaultType: 'q5_1' },
  Q8_0: { fileType: 7, defaultType: 'q8_0' },
  Q2_K: { fileType: 10, defaultType: 'q2_k' },
  Q3_K_S: { fileType: 11, defaultType: 'q3_k' },
  Q3_K_M: { fileType: 12, defaultType: 'q3_k' },
  Q3_K_L: { fileType: 13, defaultType: 'q3_k' },
  Q4_K_S: { fileType: 14, defaultType: 'q4_k' },
  Q4_K_M: { fileType: 15, defaultType: 'q4_k' },
  Q5_K_S: { fileType: 16, defaultType: 'q5_k' },
  Q5_K_M: { fileType: 17, defaultType: 'q5_k' },
  Q6_K: { fileType: 18, defaultType: 'q6_k' },
  F16: { fileType: 1, defaultType: 'f16' },
  BF16: { fileType: 32, defaultType: 'bf16' },
  F32: { fileType: 0, defaultType: 'f32' },
};

/** A preset by name, in any case ('q4_k_m'). */
export function ggufPreset(name: unknown): GGUFPresetInfo {
  const key = typeof name === 'string' ? name.toUpperCase() : undefined;
  if (key === undefined || !Object.hasOwn(PRESETS, key)) {
    fail('KQ_INVALID_ARGUMENT', `Expected one of ${GGUF_PRESETS.join(', ')} for preset but received ${describe(name)}`);
  }
  return { name: key as GGUFPreset, ...PRESETS[key as GGUFPreset] };
}

// ---- tensor order and categories ----

function layerOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

/** llama.cpp's weight_name_comparer: non-block tensors first, then by block number, then by name. */
export function compareGGUFTensorNames(a: string, b: string): number {
  const la = layerOf(a);
  const lb = layerOf(b);
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0;
}

type Category = 'token_embd' | 'output' | 'attn_qkv' | 'attn_v' | 'attn_output' | 'ffn_down' | 'other';

function categoryOf(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight') return 'token_embd';
  if (name.includes('attn_qkv.weight')) return 'attn_qkv';
  if (name.includes('attn_v.weight')) return 'attn_v';
  // attn_k / attn_q / ffn_up / ffn_gate have rules only for MoE and IQ types, which are not implemented.
  if (name.includes('attn_output.weight')) return 'attn_output';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

/** ggml_n_dims: dimensions up to the last one larger than 1. */
function nDims(shape: readonly number[]): number {
  let n = shape.length;
  while (n > 1 && shape[n - 1] === 1) n--;
  return n;
}

function allowsQuantization(name: string, shape: readonly number[]): boolean {
  return nDims(shape) >= 2 && name.endsWith('weight') && !name.includes('_norm.weight');
}

const useMoreBits = (i: number, n: number): boolean => {
  const eighth = Math.trunc(n / 8);
  return i < eighth || i >= Math.trunc((7 * n) / 8) || (i - eighth) % 3 === 2;
};

// tensor_type_fallback: the type llama.cpp uses when a row is not a whole number of blocks.
const FALLBACK: Record<string, string> = { q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0' };

const blockSize = (type: string): number => ggmlType(type)!.blockSize;

// ---- type choice ----

export interface PresetTensor {
  /** GGUF name ('blk.0.attn_v.weight'). */
  name: string;
  /** ggml `ne`, innermost (row length) first. */
  shape: readonly number[];
}

export interface PresetModel {
  /** general.architecture (default 'llama'). */
  architecture?: string;
  /** Layers (default: the highest blk.N + 1). */
  blockCount?: number;
  headCount?: number;
  /** Default: headCount (no grouped-query attention). */
  headCountKv?: number;
}

export interface PresetChoice {
  name: string;
  shape: readonly number[];
  /** ggml type, lower case. */
  type: string;
  /** The type the rules chose when the row length forced a fallback to `type`. */
  fallbackFrom?: string;
}

/**
 * The ggml type of every tensor under a preset, as llama-quantize chooses it for a llama-family model, in the
 * order llama-quantize writes them (compareGGUFTensorNames). Throws KQ_SHAPE for a row length llama.cpp has
 * no fallback for.
 */
export function choosePresetTypes(preset: GGUFPreset | string, tensors: readonly PresetTensor[], model: PresetModel = {}): PresetChoice[] {
  const { name: ftype, defaultType } = ggufPreset(preset);
  const quantizedDefault = ggmlType(defaultType)!.blockSize > 1;
  const sorted = [...tensors].sort((a, b) => compareGGUFTensorNames(a.name, b.name));
  const nLayer = model.blockCount ?? Math.max(0, ...sorted.map((t) => layerOf(t.name) + 1));
  const nAttnV = sorted.filter((t) => categoryOf(t.name) === 'attn_v' || categoryOf(t.name) === 'attn_qkv').length;
  const tied = !sorted.some((t) => t.name === 'output.weight');
  const headCount = model.headCount;
  const headCountKv = model.headCountKv ?? headCount;
  const gqa = headCount !== undefined && headCountKv ? Math.trunc(headCount / headCountKv) : 1;
  const is70B = (model.architecture ?? 'llama') === 'llama' && nLayer === 80 && headCount !== undefined && headCount !== headCountKv;
  let iAttnV = 0;
  let iFfnDown = 0;

  // llama_tensor_get_type_impl for the presets above (new_type starts at the default type).
  const rules = (name: string, rowLength: number): string => {
    const cat = categoryOf(name);
    let t = defaultType;
    if (cat === 'output' || (tied && cat === 'token_embd')) {
      if (rowLength % blockSize(defaultType) !== 0) t = 'q8_0';
      else if (t !== 'q8_0') t = 'q6_k';
    } else if (cat === 'attn_v' || cat === 'attn_qkv') {
      // attn_qkv is attention-V to llama.cpp (category_is_attn_v), ahead of its own, unreachable, branch.
      if (ftype === 'Q2_K') t = gqa >= 4 ? 'q4_k' : 'q3_k';
      else if (ftype === 'Q3_K_M') t = iAttnV < 2 ? 'q5_k' : 'q4_k';
      else if (ftype === 'Q3_K_L') t = 'q5_k';
      else if ((ftype === 'Q4_K_M' || ftype === 'Q5_K_M') && useMoreBits(iAttnV, nAttnV)) t = 'q6_k';
      else if (ftype === 'Q4_K_S' && iAttnV < 4) t = 'q5_k';
      if (is70B && (t === 'q3_k' || t === 'q4_k')) t = 'q5_k';
      iAttnV++;
    } else if (cat === 'ffn_down') {
      const i = iFfnDown++;
      if (ftype === 'Q2_K') t = 'q3_k';
      else if (ftype === 'Q3_K_M') t = i < Math.trunc(nLayer / 16) ? 'q5_k' : 'q4_k';
      else if (ftype === 'Q3_K_L') t = 'q5_k';
      else if ((ftype === 'Q4_K_M' || ftype === 'Q5_K_M') && useMoreBits(i, nLayer)) t = 'q6_k';
      else if (ftype === 'Q4_K_S' && i < Math.trunc(nLayer / 8)) t = 'q5_k';
    } else if (cat === 'attn_output') {
      if (ftype === 'Q2_K') t = 'q3_k';
      else if (ftype === 'Q3_K_M') t = 'q4_k';
      else if (ftype === 'Q3_K_L') t = 'q5_k';
    }
    return t;
  };

  return sorted.map(({ name, shape }) => {
    if (!allowsQuantization(name, shape)) return { name, shape, type: 'f32' };
    if (!quantizedDefault) return { name, shape, type: defaultType };
    const rowLength = shape[0]!;
    const wanted = rules(name, rowLength);
    if (rowLength % blockSize(wanted) === 0) return { name, shape, type: wanted };
    const fallback = FALLBACK[wanted];
    if (fallback === undefined) {
      throw new KquantError('KQ_SHAPE', `${name}: row length ${rowLength} is not a multiple of the ${wanted} block size ${blockSize(wanted)}, and llama.cpp defines no fallback type for ${wanted} (use a K-quant or a float preset)`);
    }
    return { name, shape, type: rowLength % blockSize(fallback) === 0 ? fallback : 'f16', fallbackFrom: wanted };
  });
}

// ---- Hugging Face names ----

const HF_GLOBAL: Record<string, string> = { 'model.embed_tokens': 'token_embd', lm_head: 'output', 'model.norm': 'output_norm' };
const HF_BLOCK: Record<string, string> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};
const GGUF_NAME = /^(?:token_embd|output|output_norm|rope_freqs|blk\.\d+\.[a-z_]+)\.(?:weight|bias)$/;

/**
 * The GGUF name of a Hugging Face llama tensor (or a GGUF name, unchanged); undefined for tensors the
 * converter drops (rotary inverse frequencies). Throws KQ_FORMAT for a name it cannot map.
 */
export function ggufTensorName(name: string): string | undefined {
  if (GGUF_NAME.test(name)) return name;
  if (name.endsWith('.rotary_emb.inv_freq')) return undefined;
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (m) {
    const [, base, suffix] = m as unknown as [string, string, string];
    const global = Object.hasOwn(HF_GLOBAL, base) ? HF_GLOBAL[base] : undefined;
    if (global) return `${global}.${suffix}`;
    const block = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
    const part = block && Object.hasOwn(HF_BLOCK, block[2]!) ? HF_BLOCK[block[2]!] : undefined;
    if (block && part) return `blk.${Number(block[1])}.${part}.${suffix}`;
  }
  throw new KquantError('KQ_FORMAT', `Cannot map tensor ${JSON.stringify(name)} to a GGUF name: expected a llama-family Hugging Face name (model.layers.N.self_attn.q_proj.weight …) or a GGUF name (blk.N.attn_q.weight …)`);
}

/**
 * How many heads the converter's llama permutation groups a tensor's rows into: n_head for q_proj, n_head_kv
 * (when it differs) for k_proj; undefined for every other tensor.
 */
export function llamaPermuteHeads(hfName: string, headCount: number, headCountKv?: number): number | undefined {
  if (/\.q_proj\.(weight|bias)$/.test(hfName)) return headCount;
  if (/\.k_proj\.(weight|bias)$/.test(hfName)) return headCountKv ?? headCount;
  return undefined;
}

/**
 * convert_hf_to_gguf's LlamaModel.permute: Hugging Face stores each head's rotary pairs as two halves
 * (rows [0, d/2) and [d/2, d) of the head); llama.cpp's rope wants them interleaved. Row r = 2j + s of a head
 * takes the head's row s·d/2 + j. `data` is row-major with `rows` rows (a bias is rows × 1).
 */
export function unpermuteLlamaRows(data: Float32Array, rows: number, heads: number): Float32Array {
  if (!Number.isInteger(heads) || heads < 1 || rows % (2 * heads) !== 0 || data.length % rows !== 0) {
    throw new KquantError('KQ_SHAPE', `Cannot split ${rows} rows into ${heads} heads of rotary pairs (rows must be a multiple of 2 × heads)`);
  }
  const cols = data.length / rows;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const to = (h * headDim + 2 * j + s) * cols;
        const from = (h * headDim + s * half + j) * cols;
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

// ---- metadata from config.json ----

/** Hugging Face architectures convert_hf_to_gguf converts as llama (LlamaModel), MoE variants excluded. */
export const LLAMA_HF_ARCHITECTURES = ['LlamaForCausalLM', 'LLaMAForCausalLM', 'MistralForCausalLM', 'LlamaModel'] as const;

export interface LlamaConfig {
  architectures?: string[];
  num_hidden_layers?: number;
  max_position_embeddings?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rope_theta?: number;
  rms_norm_eps?: number;
  vocab_size?: number;
  /** Not converted (llama.cpp's rope_freqs tensor / rope scaling keys); its presence is warned about. */
  rope_scaling?: unknown;
}

type U32 = { type: 'u32'; value: number };
type F32 = { type: 'f32'; value: number };

/**
 * The llama hyper-parameters the converter writes (TextModel.set_gguf_parameters and LlamaModel's), for the
 * config.json fields present: llama.block_count, context_length, embedding_length, feed_forward_length,
 * attention.head_count, attention.head_count_kv, rope.freq_base, attention.layer_norm_rms_epsilon,
 * vocab_size, rope.dimension_count.
 */
export function llamaMetadata(config: LlamaConfig): Record<string, U32 | F32> {
  const out: Record<string, U32 | F32> = {};
  const u32 = (key: string, value: unknown): void => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff) out[`llama.${key}`] = { type: 'u32', value };
  };
  const f32 = (key: string, value: unknown): void => {
    if (typeof value === 'number' && Number.isFinite(value)) out[`llama.${key}`] = { type: 'f32', value };
  };
  u32('block_count', config.num_hidden_layers);
  u32('context_length', config.max_position_embeddings);
  u32('embedding_length', config.hidden_size);
  u32('feed_forward_length', config.intermediate_size);
  u32('attention.head_count', config.num_attention_heads);
  u32('attention.head_count_kv', config.num_key_value_heads);
  f32('rope.freq_base', config.rope_theta);
  f32('attention.layer_norm_rms_epsilon', config.rms_norm_eps);
  u32('vocab_size', config.vocab_size);
  const heads = config.num_attention_heads;
  u32('rope.dimension_count', config.head_dim ?? (config.hidden_size !== undefined && heads ? Math.trunc(config.hidden_size / heads) : undefined));
  return out;
}
