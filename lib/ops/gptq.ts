// GPTQ (Frantar et al.; reference IST-DASLab/gptq commit 2d65066): Hessian accumulation from calibration
// activations and the one-shot solve, packed as GPTQModel/AutoGPTQ checkpoints. Semantics of every step are in
// test/fixtures/gptq/README.md section 3; the packing in section 4 (lib/ops/gptq-pack.ts).
import { resolveDevice, type Device } from '../backend.js';
import { native, type DeviceCode } from '../binding.js';
import { callAsync, callSync } from '../errors.js';
import { describe, expectFloat32Array, expectInteger, expectObject, expectOneOf, fail } from '../validate.js';

export type GPTQInputDType = 'float32' | 'float16' | 'bfloat16';
export type GPTQBits = 2 | 3 | 4 | 8;

const INPUT_CODES: Record<GPTQInputDType, number> = { float32: 0, float16: 1, bfloat16: 2 };
const DTYPES = ['float32', 'float16', 'bfloat16'] as const;

export interface GPTQHessianAddOptions {
  /** dtype of x: 'float32' (Float32Array, default) or 'float16' / 'bfloat16' (Uint16Array bits). */
  dtype?: GPTQInputDType;
  /**
   * How many samples this batch counts for in the running average H = 2/N · Σ x xᵀ. Default: `tokens`
   * (GPTQModel's normalisation). Pass 1 per sequence to reproduce the IST-DASLab reference, which counts
   * sequences. The scale of H changes no code (damping is relative); it scales the reported errors' units.
   */
  samples?: number;
  /** Where H is accumulated: 'cpu' (default, until the CUDA path has run on a GPU), 'cuda' or 'auto'. */
  device?: Device;
}

/**
 * The Hessian of a linear layer's input, H = 2/N · Σ x xᵀ ([cols, cols], f32), accumulated batch by batch so
 * any number of calibration tokens can be streamed through it without holding them.
 */
export class GPTQHessian {
  readonly cols: number;
  /** [cols, cols] row-major, symmetric. */
  readonly h: Float32Array;
  /** N: the samples counted so far. */
  samples = 0;
  // Async adds run one after another: each reads and rewrites all of h.
  private pending: Promise<void> = Promise.resolve();

  constructor(cols: number) {
    this.cols = expectInteger(cols, 'cols', 1, 65536);
    this.h = new Float32Array(this.cols * this.cols);
  }

  /** Adds x [tokens, cols] (row-major). Resolves when H holds it; calls are applied in order. */
  add(x: Float32Array | Uint16Array, tokens: number, options?: GPTQHessianAddOptions): Promise<void> {
    const plan = this.plan(x, tokens, options);
    const run = this.pending.then(() =>
      callAsync(async () => {
        await native.gptqHessianAdd(this.h, this.cols, this.samples, plan.x, plan.input, plan.tokens, plan.count, plan.device, true);
        this.samples += plan.count;
      }),
    );
    this.pending = run.catch(() => undefined);
    return run;
  }

  addSync(x: Float32Array | Uint16Array, tokens: number, options?: GPTQHessianAddOptions): void {
    const plan = this.plan(x, tokens, options);
    callSync(() => native.gptqHessianAdd(this.h, this.cols, this.samples, plan.x, plan.input, plan.tokens, plan.count, plan.device, false));
    this.samples += plan.count;
  }

  /** Resolves when every add() issued so far has finished. */
  settled(): Promise<void> {
    return this.pending;
  }

  private plan(x: unknown, tokensArg: unknown, optionsArg: unknown) {
    const options = expectObject(optionsArg, 'options');
    if (options.dtype === undefined && x instanceof Uint16Array) {
      fail('KQ_DTYPE', `Expected options.dtype 'float16' or 'bfloat16' for a Uint16Array x but received undefined`);
    }
    const dtype = expectOneOf(options.dtype ?? 'float32', 'options.dtype', DTYPES);
    if (dtype === 'float32' ? !(x instanceof Float32Array) : !(x instanceof Uint16Array)) {
      fail('KQ_DTYPE', `Expected a ${dtype === 'float32' ? 'Float32Array' : 'Uint16Array'} for x (dtype '${dtype}') but received ${describe(x)}`);
    }
    const tokens = expectInteger(tokensArg, 'tokens', 1);
    const data = x as Float32Array | Uint16Array;
    if (data.length !== tokens * this.cols) {
      fail('KQ_LENGTH', `x must hold tokens * cols = ${tokens} * ${this.cols} = ${tokens * this.cols} values but has ${data.length}`);
    }
    const count = options.samples === undefined ? tokens : options.samples;
    if (typeof count !== 'number' || !Number.isFinite(count) || count <= 0) {
      fail('KQ_INVALID_ARGUMENT', `Expected a finite number > 0 for options.samples but received ${describe(count)}`);
    }
    return { x: data, input: INPUT_CODES[dtype], tokens, count, device: resolveDevice(options.device ?? 'cpu') };
  }
}

export interface GPTQOptions {
  /** 2, 3, 4 (default) or 8. */
  bits?: GPTQBits;
  /** Input columns per group: -1 = one group per row; default 128. */
  groupSize?: number;
  /** Symmetric (default true): mid-range zero point 2^(bits-1). */
  sym?: boolean;
  /** Quantize columns by descending Hessian diagonal (GPTQModel's desc_act). Default false. */
  actOrder?: boolean;
  /** With actOrder: group parameters from the original weight's consecutive columns (GPTQModel). Default false. */
  staticGroups?: boolean;
  /** Damping as a fraction of mean(diag H). Default 0.01. */
  damp?: number;
  /** When H + damp is not positive definite, retry with damp + 0.01 (reported), as GPTQModel does. Default true. */
  dampAuto?: boolean;
  /** Lazy-batch width. Default 128. */
  blockSize?: number;
  /** Shrink each group's range by the reference's MSE grid search. Default false. */
  mse?: boolean;
  /** Compute the output errors of GPTQ and of RTN (costs two SYRKs of the weight size). Default true. */
  errors?: boolean;
  /** Also return the dequantized weight (f32 [rows, cols], original column order). Default false. */
  dequantize?: boolean;
  /** For a raw Float32Array Hessian: the N in H = 2/N · XᵀX, which scales the reported errors. Default 2 (H = XᵀX). */
  hessianSamples?: number;
  /**
   * Where the column sweep and the lazy-block updates run: 'cpu' (default, until the CUDA path has run on a GPU),
   * 'cuda' or 'auto'.
   * The inverse Hessian factor and the errors stay on the CPU; the MSE search in dynamic groups and
   * blockSize > 128 run on the CPU even on 'cuda'. CUDA's codes equal the CPU's almost everywhere (f32 sums
   * in another order can flip a code that sits on a rounding boundary).
   */
  device?: Device;
}

export interface GPTQSolution {
  bits: GPTQBits;
  groupSize: number;
  sym: boolean;
  actOrder: boolean;
  staticGroups: boolean;
  rows: number;
  cols: number;
  /** Integer codes [rows, cols] in the original column order. */
  codes: Uint8Array;
  /** f32 scales [rows, groups], groups in creation order (g_idx maps columns to them). */
  groupScales: Float32Array;
  /** Zero points [rows, groups] (integers as f32). */
  groupZeros: Float32Array;
  /** Group of each input column [cols]. */
  gIdx: Int32Array;
  /** Position j of the solve quantized original column perm[j] (identity without actOrder). */
  perm: Int32Array;
  /** scales · (codes − zeros) [rows, cols] when options.dequantize. */
  dequantized: Float32Array | null;
  /** Σ‖(W − Q)x‖² over the calibration samples (N/2 · tr(H·DᵀD)); null with errors: false. */
  error: number | null;
  /** The same for round-to-nearest with identical bits, sym and groups. */
  rtnError: number | null;
  /** The reference's printed loss, Σ (w − q)² / Hinv[j,j]² / 2. */
  loss: number;
  /** Absolute damping added to the diagonal and the fraction of mean(diag H) it is. */
  damp: number;
  dampFraction: number;
  /** Input columns with diag(H) = 0 (their weights are zeroed, as the reference does). */
  deadColumns: number;
}

const BITS = [2, 3, 4, 8] as const;

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail('KQ_INVALID_ARGUMENT', `Expected a boolean for ${name} but received ${describe(value)}`);
  return value;
}

function expectShape2(value: unknown, length: number): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail('KQ_SHAPE', `Expected [rows, cols] for shape but received ${describe(value)}`);
  const [rows, cols] = value.map((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) fail('KQ_SHAPE', `Expected a positive integer for shape[${i}] but received ${describe(d)}`);
    return d;
  }) as [number, number];
  if (rows * cols !== length) fail('KQ_LENGTH', `shape [${rows}, ${cols}] holds ${rows * cols} elements but weight has ${length}`);
  return [rows, cols];
}

interface GridOptions {
  bits: GPTQBits;
  groupSize: number;
  sym: boolean;
  mse: boolean;
}

function gridOptions(options: Record<string, unknown>): GridOptions {
  const bits = (options.bits ?? 4) as GPTQBits;
  if (!BITS.includes(bits)) fail('KQ_INVALID_ARGUMENT', `Expected options.bits in 2, 3, 4, 8 but received ${describe(options.bits)}`);
  const groupSize = options.groupSize === undefined ? 128 : expectInteger(options.groupSize, 'options.groupSize', -1);
  if (groupSize === 0) fail('KQ_INVALID_ARGUMENT', 'Expected options.groupSize -1 or positive but received 0');
  return { bits, groupSize, sym: bool(options.sym, 'options.sym', true), mse: bool(options.mse, 'options.mse', false) };
}

function groupCount(cols: number, groupSize: number): number {
  return groupSize <= 0 ? 1 : Math.ceil(cols / groupSize);
}

interface SolvePlan {
  w: Float32Array;
  rows: number;
  cols: number;
  h: Float32Array;
  halfN: number;
  grid: GridOptions;
  actOrder: boolean;
  staticGroups: boolean;
  damp: number;
  dampAuto: boolean;
  blockSize: number;
  errors: boolean;
  out: Outputs;
  report: Float64Array;
  device: DeviceCode;
}

interface Outputs {
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
  gIdx: Int32Array;
  perm: Int32Array;
  dequant: Float32Array | null;
}

function newOutputs(rows: number, cols: number, groupSize: number, dequantize: boolean): Outputs {
  const groups = groupCount(cols, groupSize);
  return {
    codes: new Uint8Array(rows * cols),
    scales: new Float32Array(rows * groups),
    zeros: new Float32Array(rows * groups),
    gIdx: new Int32Array(cols),
    perm: new Int32Array(cols),
    dequant: dequantize ? new Float32Array(rows * cols) : null,
  };
}

function planSolve(weight: unknown, shape: unknown, hessian: unknown, optionsArg: unknown): SolvePlan {
  const w = expectFloat32Array(weight, 'weight');
  const [rows, cols] = expectShape2(shape, w.length);
  const options = expectObject(optionsArg, 'options');
  let h: Float32Array;
  let halfN: number;
  if (hessian instanceof GPTQHessian) {
    if (hessian.cols !== cols) fail('KQ_SHAPE', `hessian has ${hessian.cols} columns but the weight has ${cols} input columns`);
    if (hessian.samples === 0) fail('KQ_INVALID_ARGUMENT', 'hessian has no samples: add calibration activations first');
    if (options.hessianSamples !== undefined) fail('KQ_INVALID_ARGUMENT', 'options.hessianSamples applies to a raw Float32Array hessian only');
    h = hessian.h;
    halfN = hessian.samples / 2;
  } else {
    h = expectFloat32Array(hessian, 'hessian');
    if (h.length !== cols * cols) fail('KQ_LENGTH', `hessian must hold cols * cols = ${cols * cols} values but has ${h.length}`);
    const n = options.hessianSamples ?? 2;
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) fail('KQ_INVALID_ARGUMENT', `Expected a finite number > 0 for options.hessianSamples but received ${describe(n)}`);
    halfN = n / 2;
  }
  const grid = gridOptions(options);
  const damp = options.damp ?? 0.01;
  if (typeof damp !== 'number' || !Number.isFinite(damp) || damp < 0) fail('KQ_INVALID_ARGUMENT', `Expected a finite number >= 0 for options.damp but received ${describe(damp)}`);
  return {
    w,
    rows,
    cols,
    h,
    halfN,
    grid,
    actOrder: bool(options.actOrder, 'options.actOrder', false),
    staticGroups: bool(options.staticGroups, 'options.staticGroups', false),
    damp,
    dampAuto: bool(options.dampAuto, 'options.dampAuto', true),
    blockSize: options.blockSize === undefined ? 128 : expectInteger(options.blockSize, 'options.blockSize', 1),
    errors: bool(options.errors, 'options.errors', true),
    out: newOutputs(rows, cols, grid.groupSize, bool(options.dequantize, 'options.dequantize', false)),
    report: new Float64Array(6),
    device: resolveDevice(options.device ?? 'cpu'),
  };
}

function runSolve<A extends boolean>(p: SolvePlan, async: A) {
  const { grid, out } = p;
  return native.gptqQuantize(
    p.w, p.rows, p.cols, p.h, grid.bits, grid.sym, grid.mse, grid.groupSize, p.actOrder, p.staticGroups, p.damp,
    p.dampAuto, p.blockSize, p.errors, out.codes, out.scales, out.zeros, out.gIdx, out.perm, out.dequant, p.report, p.device, async,
  );
}

// The fields of a solution that come from the grid, the shape and the output arrays (in GPTQSolution's order).
function solvedTensors(grid: GridOptions, actOrder: boolean, staticGroups: boolean, rows: number, cols: number, out: Outputs) {
  return {
    bits: grid.bits,
    groupSize: grid.groupSize,
    sym: grid.sym,
    actOrder,
    staticGroups,
    rows,
    cols,
    codes: out.codes,
    groupScales: out.scales,
    groupZeros: out.zeros,
    gIdx: out.gIdx,
    perm: out.perm,
    dequantized: out.dequant,
  };
}

function solution(p: SolvePlan): GPTQSolution {
  const r = p.report;
  return {
    ...solvedTensors(p.grid, p.actOrder, p.staticGroups, p.rows, p.cols, p.out),
    error: p.errors ? r[3]! * p.halfN : null,
    rtnError: p.errors ? r[4]! * p.halfN : null,
    loss: r[2]!,
    damp: r[0]!,
    dampFraction: r[1]!,
    deadColumns: r[5]!,
  };
}

/** Solves GPTQ for weight [rows = out, cols = in] against the Hessian of the layer's inputs. */
export async function solveGPTQ(weight: Float32Array, shape: readonly [number, number], hessian: GPTQHessian | Float32Array, options?: GPTQOptions): Promise<GPTQSolution> {
  if (hessian instanceof GPTQHessian) await hessian.settled();
  const plan = planSolve(weight, shape, hessian, options);
  await callAsync(() => runSolve(plan, true));
  return solution(plan);
}

export function solveGPTQSync(weight: Float32Array, shape: readonly [number, number], hessian: GPTQHessian | Float32Array, options?: GPTQOptions): GPTQSolution {
  const plan = planSolve(weight, shape, hessian, options);
  callSync(() => runSolve(plan, false));
  return solution(plan);
}

export interface RTNOptions {
  bits?: GPTQBits;
  groupSize?: number;
  sym?: boolean;
  mse?: boolean;
  dequantize?: boolean;
}

function planRTN(weight: unknown, shape: unknown, optionsArg: unknown) {
  const w = expectFloat32Array(weight, 'weight');
  const [rows, cols] = expectShape2(shape, w.length);
  const options = expectObject(optionsArg, 'options');
  const grid = gridOptions(options);
  return { w, rows, cols, grid, out: newOutputs(rows, cols, grid.groupSize, bool(options.dequantize, 'options.dequantize', false)) };
}

type RTNPlan = ReturnType<typeof planRTN>;

function runRTN<A extends boolean>(p: RTNPlan, async: A) {
  const { grid, out } = p;
  return native.gptqQuantizeRTN(p.w, p.rows, p.cols, grid.bits, grid.sym, grid.mse, grid.groupSize, out.codes, out.scales, out.zeros, out.gIdx, out.perm, out.dequant, async);
}

function rtnSolution(p: RTNPlan): GPTQSolution {
  return {
    ...solvedTensors(p.grid, false, false, p.rows, p.cols, p.out),
    error: null,
    rtnError: null,
    loss: 0,
    damp: 0,
    dampFraction: 0,
    deadColumns: 0,
  };
}

/** Round-to-nearest with GPTQ's quantizer over groups of consecutive columns (no calibration data needed). */
export async function solveRTN(weight: Float32Array, shape: readonly [number, number], options?: RTNOptions): Promise<GPTQSolution> {
  const plan = planRTN(weight, shape, options);
  await callAsync(() => runRTN(plan, true));
  return rtnSolution(plan);
}

export function solveRTNSync(weight: Float32Array, shape: readonly [number, number], options?: RTNOptions): GPTQSolution {
  const plan = planRTN(weight, shape, options);
  callSync(() => runRTN(plan, false));
  return rtnSolution(plan);
}
