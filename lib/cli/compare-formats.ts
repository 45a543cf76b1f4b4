// The formats `kquant compare` measures: each quantizes a [rows, cols] f32 matrix with kquant's own op,
// dequantizes it, and counts the bytes the format really stores for it (codes and per-block scales, zero
// points, group indices; not code books shared by every tensor, such as NF4's 16 values).
import { dequantize4bit, dequantizeBlockwise, quantize4bit, quantizeBlockwise, type Quant4Type } from '../ops/bnb.js';
import { dequantizeGGML, ggmlTypeInfo, quantizeGGML, GGML_QUANT_TYPES, type GGMLQuantType } from '../ops/ggml.js';
import { solveRTN, type GPTQBits } from '../ops/gptq.js';
import { dequantizeGPTQ, gptqPackUnit, packGPTQ } from '../ops/gptq-pack.js';
import { dequantizeAbsmax, quantizeAbsmax } from '../ops/linear.js';

export interface Quantized {
  bytes: number;
  dequantized: Float32Array;
}

export interface CompareFormat {
  id: string;
  description: string;
  /** Why the format cannot hold a [rows, cols] matrix, or undefined when it can. */
  unfit(rows: number, cols: number): string | undefined;
  run(weight: Float32Array, rows: number, cols: number): Promise<Quantized>;
}

/** What `kquant compare` runs without --formats: ggml's k-quants and q8_0, bnb's 4-bit types, int8, GPTQ 4-bit. */
export const DEFAULT_FORMATS = ['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'nf4', 'fp4', 'int8', 'gptq4'] as const;

// ggml blocks run along rows: a GGUF row is whole blocks, so a row length the block does not divide is n/a.
function ggml(type: GGMLQuantType): CompareFormat {
  const { blockSize } = ggmlTypeInfo(type);
  return {
    id: type,
    description: `ggml ${type.toUpperCase()} (blocks of ${blockSize})`,
    unfit: (_rows, cols) => (cols % blockSize === 0 ? undefined : `row length ${cols} is not a multiple of the ${type} block (${blockSize})`),
    async run(weight) {
      const blocks = await quantizeGGML(type, weight);
      return { bytes: blocks.byteLength, dequantized: await dequantizeGGML(type, blocks, weight.length) };
    },
  };
}

// bitsandbytes' quantize_4bit defaults (Linear4bit without double quantization): blocks of 64 over the
// flattened tensor, as bnb runs them, so every shape fits (a last partial block still has its f32 absmax).
const BNB_4BIT_BLOCK = 64;
function bnb4(quantType: Quant4Type): CompareFormat {
  return {
    id: quantType,
    description: `bitsandbytes ${quantType.toUpperCase()}, blocks of ${BNB_4BIT_BLOCK}, f32 absmax`,
    unfit: () => undefined,
    async run(weight) {
      const q = await quantize4bit(weight, { quantType, blockSize: BNB_4BIT_BLOCK });
      return { bytes: q.packed.byteLength + q.state.absmax.byteLength, dequantized: await dequantize4bit(q, { outDtype: 'float32' }) };
    },
  };
}

// bnb's quantize_blockwise default: the signed dynamic map in blocks of 4096 over the flattened tensor.
const BNB_8BIT_BLOCK = 4096;
const bnb8: CompareFormat = {
  id: 'bnb8',
  description: `bitsandbytes 8-bit blockwise (dynamic map), blocks of ${BNB_8BIT_BLOCK}, f32 absmax`,
  unfit: () => undefined,
  async run(weight) {
    const q = await quantizeBlockwise(weight, { blockSize: BNB_8BIT_BLOCK });
    return { bytes: q.codes.byteLength + q.state.absmax.byteLength, dequantized: await dequantizeBlockwise(q, { outDtype: 'float32' }) };
  },
};

// Symmetric int8 with one f32 scale per output row (per channel, as LLM.int8() stores weights).
const int8: CompareFormat = {
  id: 'int8',
  description: 'int8 absmax, one f32 scale per row',
  unfit: () => undefined,
  async run(weight, rows, cols) {
    const q = await quantizeAbsmax(weight, { shape: [rows, cols], axis: 0 });
    return { bytes: q.values.byteLength + q.scales!.byteLength, dequantized: await dequantizeAbsmax(q) };
  },
};

// GPTQ needs calibration inputs, which a weights file does not have: this is GPTQ's quantizer (symmetric,
// groups of 128 input columns, as GPTQModel's default) applied by round-to-nearest, packed as a GPTQModel
// checkpoint (qweight, qzeros, f16 scales, g_idx) and dequantized from it. Real GPTQ only lowers the error.
const GPTQ_GROUP = 128;
function gptq(bits: GPTQBits): CompareFormat {
  const unit = gptqPackUnit(bits);
  return {
    id: `gptq${bits}`,
    description: `GPTQ ${bits}-bit checkpoint, groups of ${GPTQ_GROUP}, round-to-nearest (no calibration data)`,
    unfit(rows, cols) {
      if (cols % GPTQ_GROUP !== 0) return `row length ${cols} is not a multiple of the GPTQ group (${GPTQ_GROUP})`;
      if (rows % unit !== 0) return `${rows} rows are not a multiple of ${unit}, as ${bits}-bit qzeros packing needs`;
      return undefined;
    },
    async run(weight, rows, cols) {
      const s = await solveRTN(weight, [rows, cols], { bits, groupSize: GPTQ_GROUP, sym: true });
      const t = await packGPTQ({ codes: s.codes, scales: s.groupScales, zeros: s.groupZeros, gIdx: s.gIdx, rows, cols, bits, groupSize: GPTQ_GROUP, sym: true });
      const bytes = t.qweight.byteLength + t.qzeros.byteLength + t.scales.byteLength + t.gIdx.byteLength;
      return { bytes, dequantized: await dequantizeGPTQ(t) };
    },
  };
}

const FORMATS: readonly CompareFormat[] = [
  ...GGML_QUANT_TYPES.map(ggml),
  bnb4('nf4'),
  bnb4('fp4'),
  bnb8,
  int8,
  ...([2, 3, 4, 8] as const).map(gptq),
];

export const FORMAT_IDS: readonly string[] = FORMATS.map((f) => f.id);

export function compareFormat(id: string): CompareFormat | undefined {
  return FORMATS.find((f) => f.id === id);
}
