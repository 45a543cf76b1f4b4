// The headline calls: solve (GPTQ, or round-to-nearest for callers without calibration data) and pack the result
// as the checkpoint tensors GPTQModel/AutoGPTQ write, in one step.
import { packGPTQ, packGPTQSync, type GPTQFormat, type GPTQTensors, type PackGPTQInput } from './gptq-pack.js';
import { solveGPTQ, solveGPTQSync, solveRTN, solveRTNSync, type GPTQHessian, type GPTQOptions, type GPTQSolution, type RTNOptions } from './gptq.js';
import { expectObject, expectOneOf } from '../validate.js';

export interface QuantizeGPTQOptions extends GPTQOptions {
  /** Zero-point format of qzeros: 'gptq' (v1, default: what transformers expects) or 'gptq_v2'. */
  format?: GPTQFormat;
}

/**
 * Checkpoint tensors (qweight, qzeros, f16 scales, gIdx) plus the solve's codes, permutation, f32 group
 * parameters, errors and (on request) dequantized weight.
 */
export type GPTQResult = GPTQTensors & Omit<GPTQSolution, 'gIdx' | 'bits' | 'groupSize' | 'sym' | 'rows' | 'cols'>;

function formatOf(options: unknown): GPTQFormat {
  return expectOneOf(expectObject(options, 'options').format ?? 'gptq', 'options.format', ['gptq', 'gptq_v2'] as const);
}

function packInput(s: GPTQSolution, format: GPTQFormat): PackGPTQInput {
  return {
    codes: s.codes,
    scales: s.groupScales,
    zeros: s.groupZeros,
    gIdx: s.gIdx,
    rows: s.rows,
    cols: s.cols,
    bits: s.bits,
    groupSize: s.groupSize,
    format,
    sym: s.sym,
    descAct: s.actOrder,
  };
}

function result(tensors: GPTQTensors, s: GPTQSolution): GPTQResult {
  const { gIdx: _g, bits: _b, groupSize: _s, sym: _y, rows: _r, cols: _c, ...rest } = s;
  return { ...tensors, ...rest };
}

/**
 * GPTQ for one linear layer: weight [rows = out, cols = in] f32, the Hessian of its calibration inputs, and the
 * result packed as a GPTQModel/AutoGPTQ checkpoint layer. `cols` (and `rows`) must suit the packing: multiples of
 * 32/bits (2/4/8 bits) or 32 (3 bits); solveGPTQ has no such limit.
 */
export async function quantizeGPTQ(weight: Float32Array, shape: readonly [number, number], hessian: GPTQHessian | Float32Array, options?: QuantizeGPTQOptions): Promise<GPTQResult> {
  const format = formatOf(options);
  const solution = await solveGPTQ(weight, shape, hessian, options);
  return result(await packGPTQ(packInput(solution, format)), solution);
}

export function quantizeGPTQSync(weight: Float32Array, shape: readonly [number, number], hessian: GPTQHessian | Float32Array, options?: QuantizeGPTQOptions): GPTQResult {
  const format = formatOf(options);
  const solution = solveGPTQSync(weight, shape, hessian, options);
  return result(packGPTQSync(packInput(solution, format)), solution);
}

export interface QuantizeInt4Options extends Omit<RTNOptions, 'bits'> {
  format?: GPTQFormat;
}

/** Round-to-nearest 4-bit into the same checkpoint tensors as quantizeGPTQ (weight [n, k]; default group 128, sym). */
export async function quantizeInt4(weight: Float32Array, shape: readonly [number, number], options?: QuantizeInt4Options): Promise<GPTQResult> {
  const format = formatOf(options);
  const solution = await solveRTN(weight, shape, { ...options, bits: 4 });
  return result(await packGPTQ(packInput(solution, format)), solution);
}

export function quantizeInt4Sync(weight: Float32Array, shape: readonly [number, number], options?: QuantizeInt4Options): GPTQResult {
  const format = formatOf(options);
  const solution = solveRTNSync(weight, shape, { ...options, bits: 4 });
  return result(packGPTQSync(packInput(solution, format)), solution);
}
