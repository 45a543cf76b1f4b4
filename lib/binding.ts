// The whole native surface as one typed interface: the only place that knows the addon's argument order.
// Numbers shared with C++ (DeviceCode, Scheme, HalfKind) match native/core/tensor.h Device,
// ops/linear/linear.h Scheme and ops/convert/convert.h Half; keep them in step.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DeviceCode = { cpu: 0, cuda: 1 } as const;
export type DeviceCode = (typeof DeviceCode)[keyof typeof DeviceCode];

export const Scheme = { absmax: 0, zeroPoint: 1 } as const;
export type Scheme = (typeof Scheme)[keyof typeof Scheme];

export const HalfKind = { f16: 0, bf16: 1 } as const;
export type HalfKind = (typeof HalfKind)[keyof typeof HalfKind];

// native/ops/ternary/quantize.h Scheme and Packing.
export const TernaryScheme = { ternary: 0, binary: 1 } as const;
export const TritPackingCode = { '2bit': 0, base3: 1 } as const;

// Matches native/ops/bnb/bnb.h Quant4.
export const Quant4 = { nf4: 0, fp4: 1 } as const;
export type Quant4 = (typeof Quant4)[keyof typeof Quant4];

export interface NativeCudaDevice {
  index: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  multiprocessors: number;
}

export interface NativeBackendInfo {
  simd: 'scalar' | 'avx2' | 'avx512';
  simdBest: 'scalar' | 'avx2' | 'avx512';
  simdNote: string;
  /** Threads a parallel op uses now (setThreads lowers it). */
  threads: number;
  /** Threads in kquant's pool: the cores, or KQUANT_THREADS. */
  threadsMax: number;
  cpu: { avx2: boolean; avx512: boolean; avx512vnni: boolean; avx512bf16: boolean };
  cuda: {
    compiled: boolean;
    available: boolean;
    reason: string;
    runtimeVersion: number;
    driverVersion: number;
    devices: NativeCudaDevice[];
  };
}

// Each op returns undefined when `async` is false, and a Promise<void> when true.
type OpResult<A extends boolean> = A extends true ? Promise<void> : void;

/** int4Matmul and int4CodebookMatmul: y = x · dequant(W)ᵀ (+ bias) over a prepared weights handle. */
type Int4MatmulCall = <A extends boolean>(
  handle: unknown,
  x: Float32Array | Uint16Array,
  xType: number,
  m: number,
  bias: Float32Array | null,
  y: Float32Array | Uint16Array,
  yType: number,
  activations: number,
  async: A,
) => OpResult<A>;

export interface NativeAddon {
  backendInfo(): NativeBackendInfo;
  setSimd(level: string): void;
  setThreads(threads: number): void;
  /** memcpy on kquant's thread pool (the benchmarks' bandwidth ceiling). */
  copy(src: Uint8Array, dst: Uint8Array): void;
  toHalf<A extends boolean>(src: Float32Array, dst: Uint16Array, kind: HalfKind, device: DeviceCode, async: A): OpResult<A>;
  fromHalf<A extends boolean>(src: Uint16Array, dst: Float32Array, kind: HalfKind, device: DeviceCode, async: A): OpResult<A>;
  linearQuantize<A extends boolean>(
    src: Float32Array,
    dst: Int8Array | Uint8Array,
    outer: number,
    channels: number,
    inner: number,
    scheme: Scheme,
    paramsGiven: boolean,
    scales: Float32Array,
    zeroPoints: Int32Array | null,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  linearDequantize<A extends boolean>(
    src: Int8Array | Uint8Array,
    dst: Float32Array,
    outer: number,
    channels: number,
    inner: number,
    scales: Float32Array,
    zeroPoints: Int32Array | null,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  linearMinmax<A extends boolean>(
    src: Float32Array,
    outer: number,
    channels: number,
    inner: number,
    mins: Float32Array,
    maxs: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  linearParams(scheme: Scheme, isSigned: boolean, mins: Float32Array, maxs: Float32Array, scales: Float32Array, zeroPoints: Int32Array): void;
  histogramAbs<A extends boolean>(src: Float32Array, range: number, counts: Float64Array, async: A): OpResult<A>;
  /** packed has (src.length + 1) / 2 bytes, absmax one entry per block. */
  bnbQuantize4bit<A extends boolean>(
    src: Float32Array,
    blocksize: number,
    type: Quant4,
    packed: Uint8Array,
    absmax: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  bnbDequantize4bit<A extends boolean>(
    packed: Uint8Array,
    n: number,
    blocksize: number,
    type: Quant4,
    absmax: Float32Array,
    out: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  bnbQuantize8bit<A extends boolean>(
    src: Float32Array,
    blocksize: number,
    code: Float32Array,
    codes: Uint8Array,
    absmax: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  bnbDequantize8bit<A extends boolean>(
    codes: Uint8Array,
    blocksize: number,
    code: Float32Array,
    absmax: Float32Array,
    out: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  /** offset (length 1) is read when offsetGiven, otherwise written with the f32 mean of absmax. */
  bnbQuantizeNested(
    absmax: Float32Array,
    nestedBlocksize: number,
    code: Float32Array,
    offsetGiven: boolean,
    offset: Float32Array,
    qabsmax: Uint8Array,
    absmax2: Float32Array,
  ): void;
  bnbDequantizeNested(
    qabsmax: Uint8Array,
    nestedBlocksize: number,
    code: Float32Array,
    absmax2: Float32Array,
    offset: number,
    out: Float32Array,
  ): void;
  /** Codebook indices at bits 3 … 8 (native/ops/bnb/bnb.h pack_codes): packed has ceil(n · bits / 8) bytes;
   *  remap (256 entries) replaces each index first. unpack fails on an index ≥ limit. */
  bnbPackCodes<A extends boolean>(indices: Uint8Array, bits: number, remap: Uint8Array | null, packed: Uint8Array, async: A): OpResult<A>;
  bnbUnpackCodes<A extends boolean>(packed: Uint8Array, bits: number, limit: number, indices: Uint8Array, async: A): OpResult<A>;
  bnbCode4(type: Quant4): Float32Array;
  bnbDynamicMap(): Float32Array;
  // LLM.int8() (native/ops/int8mm/int8mm.h). outlierMask (one byte per column) is required when threshold > 0.
  int8VectorwiseQuantize<A extends boolean>(
    src: Float32Array,
    rows: number,
    cols: number,
    threshold: number,
    q: Int8Array,
    rowStats: Float32Array,
    outlierMask: Uint8Array | null,
    async: A,
  ): OpResult<A>;
  int8VectorwiseDequantize<A extends boolean>(q: Int8Array, rows: number, cols: number, rowStats: Float32Array, out: Float32Array, async: A): OpResult<A>;
  /** c [m, n] = a [m, k] · b [n, k]ᵀ in exact int32. */
  int8MatmulI32<A extends boolean>(a: Int8Array, b: Int8Array, m: number, n: number, k: number, c: Int32Array, device: DeviceCode, async: A): OpResult<A>;
  int8MatmulDequantize<A extends boolean>(acc: Int32Array, m: number, n: number, rowStatsA: Float32Array, rowStatsB: Float32Array, out: Float32Array, async: A): OpResult<A>;
  /** Dequantized int8 product plus the f64 outlier part over aOutliers [m, outliers] · bOutliers [n, outliers]ᵀ; device runs the int32 GEMM. */
  int8Linear<A extends boolean>(
    a: Int8Array,
    rowStatsA: Float32Array,
    b: Int8Array,
    rowStatsB: Float32Array,
    m: number,
    n: number,
    k: number,
    aOutliers: Float32Array,
    bOutliers: Float32Array,
    outliers: number,
    out: Float32Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  // ggml legacy block types (native/ops/ggml/ggml.h); type is ggml's type id. dst / src hold
  // n / blockSize blocks of typeSize bytes; an unimplemented id throws KQ_INVALID_ARGUMENT.
  ggmlQuantize<A extends boolean>(type: number, src: Float32Array, dst: Uint8Array, device: DeviceCode, async: A): OpResult<A>;
  // ggml_quantize_chunk over rows of rowLength (imatrix: rowLength weights or null).
  ggmlQuantizeChunk<A extends boolean>(type: number, src: Float32Array, rows: number, rowLength: number, imatrix: Float32Array | null, dst: Uint8Array, async: A): OpResult<A>;
  ggmlDequantize<A extends boolean>(type: number, src: Uint8Array, dst: Float32Array, device: DeviceCode, async: A): OpResult<A>;
  ggmlTypeInfo(type: number): { id: number; name: string; blockSize: number; typeSize: number };
  // GPTQ (native/ops/gptq/gptq.h). input: 0 f32, 1 f16 bits, 2 bf16 bits.
  gptqHessianAdd<A extends boolean>(
    h: Float32Array,
    cols: number,
    samples: number,
    x: Float32Array | Uint16Array,
    input: number,
    tokens: number,
    count: number,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  // report = [damp, dampFraction, loss, gptqError, rtnError, deadColumns]
  gptqQuantize<A extends boolean>(
    w: Float32Array,
    rows: number,
    cols: number,
    h: Float32Array,
    bits: number,
    sym: boolean,
    mse: boolean,
    groupSize: number,
    actOrder: boolean,
    staticGroups: boolean,
    damp: number,
    dampAuto: boolean,
    blockSize: number,
    errors: boolean,
    codes: Uint8Array,
    scales: Float32Array,
    zeros: Float32Array,
    gIdx: Int32Array,
    perm: Int32Array | null,
    dequant: Float32Array | null,
    report: Float64Array,
    device: DeviceCode,
    async: A,
  ): OpResult<A>;
  gptqQuantizeRTN<A extends boolean>(
    w: Float32Array,
    rows: number,
    cols: number,
    bits: number,
    sym: boolean,
    mse: boolean,
    groupSize: number,
    codes: Uint8Array,
    scales: Float32Array,
    zeros: Float32Array,
    gIdx: Int32Array,
    perm: Int32Array | null,
    dequant: Float32Array | null,
    async: A,
  ): OpResult<A>;
  // GPTQ checkpoint packing (native/ops/gptq/pack.h). codes u8 [out, in] ⇄ qweight i32 [in·bits/32, out];
  // zeros i32 [out, groups] ⇄ qzeros i32 [groups, out·bits/32]; format 0 v1 ("gptq") | 1 v2 ("gptq_v2").
  gptqPackQweight<A extends boolean>(codes: Uint8Array, qweight: Int32Array, out: number, inFeatures: number, bits: number, async: A): OpResult<A>;
  gptqUnpackQweight<A extends boolean>(codes: Uint8Array, qweight: Int32Array, out: number, inFeatures: number, bits: number, async: A): OpResult<A>;
  gptqPackQzeros<A extends boolean>(zeros: Int32Array, qzeros: Int32Array, out: number, groups: number, bits: number, format: number, async: A): OpResult<A>;
  gptqUnpackQzeros<A extends boolean>(zeros: Int32Array, qzeros: Int32Array, out: number, groups: number, bits: number, format: number, async: A): OpResult<A>;
  /** w f32 [out, in] = f32(scales[g, o]) · (q[i, o] − z[g, o]), g = gIdx[i], straight from the packed tensors. */
  gptqDequantize<A extends boolean>(
    qweight: Int32Array,
    qzeros: Int32Array,
    scales: Uint16Array,
    gIdx: Int32Array,
    w: Float32Array,
    out: number,
    inFeatures: number,
    groups: number,
    bits: number,
    format: number,
    async: A,
  ): OpResult<A>;
  // Prepared-weight handles (native/napi/weights.h): an opaque External a family's prepare op fills.
  weightsNew(kind: string, device: DeviceCode): unknown;
  weightsInfo(handle: unknown): { kind: string; device: DeviceCode; bytes: number; disposed: boolean };
  weightsDispose(handle: unknown): void;
  // int4 GEMV (native/ops/int4/int4.h). format 0 v1 ("gptq") | 1 v2; xType / yType 0 f32 | 1 f16 | 2 bf16
  // (a Uint16Array of bits); activations 0 int8 | 1 f32.
  int4Prepare<A extends boolean>(
    handle: unknown,
    qweight: Int32Array,
    qzeros: Int32Array | null,
    scales: Uint16Array,
    gIdx: Int32Array | null,
    n: number,
    k: number,
    groups: number,
    groupSize: number,
    format: number,
    async: A,
  ): OpResult<A>;
  int4Matmul: Int4MatmulCall;
  // Code-book / Q4_K GEMV (native/ops/int4/codebook.h). format 0 nf4 | 1 fp4 (packed nibbles + f32 absmax)
  // | 2 q4_k (block_q4_K rows in packed, absmax null); CPU only.
  int4CodebookPrepare<A extends boolean>(
    handle: unknown,
    format: number,
    packed: Uint8Array,
    absmax: Float32Array | null,
    n: number,
    k: number,
    blockSize: number,
    async: A,
  ): OpResult<A>;
  int4CodebookMatmul: Int4MatmulCall;
  /** GB/s (read + written) of a device-to-device copy of `bytes`: the ceiling of the int4 CUDA bench. */
  int4CudaCopyBandwidth(bytes: number): number;
  // Ternary GEMV (native/ops/ternary/ternary.h): trits int8 [n·k] in {-1, 0, 1}, scales f32 [1 | n]; x, y f32.
  ternaryPrepare<A extends boolean>(handle: unknown, trits: Int8Array, scales: Float32Array, n: number, k: number, async: A): OpResult<A>;
  ternaryMatmul<A extends boolean>(handle: unknown, x: Float32Array, m: number, y: Float32Array, async: A): OpResult<A>;
  // BitNet quantizers (native/ops/ternary/quantize.h): scheme 0 ternary | 1 binary; scales f32 [perRow ? n : 1].
  ternaryQuantize<A extends boolean>(w: Float32Array, n: number, k: number, scheme: 0 | 1, perRow: boolean, trits: Int8Array, scales: Float32Array, device: DeviceCode, async: A): OpResult<A>;
  ternaryDequantize<A extends boolean>(trits: Int8Array, scales: Float32Array, n: number, k: number, out: Float32Array, device: DeviceCode, async: A): OpResult<A>;
  // Trit packings, synchronous: packing 0 '2bit' | 1 'base3'; bytes ⌈count / (4 | 5)⌉.
  ternaryPack(trits: Int8Array, packing: 0 | 1, bytes: Uint8Array): void;
  ternaryUnpack(bytes: Uint8Array, count: number, packing: 0 | 1, trits: Int8Array): void;
}

// The package root holds package.json, build/ and prebuilds/; this file runs from lib/ (tests) or
// dist/lib/ (the package), so look upward for it.
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'kquant') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('kquant: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
  return nodeGypBuild(packageRoot());
}

export const native: NativeAddon = load();
