// What a suite contributes: named ops that, given an input size, set up their inputs once and hand back
// a call to time on each device.

export type BenchDevice = 'cpu' | 'cuda';

export interface Workload {
  /** Bytes the op reads plus bytes it writes (codes, scales and zero points included), once each. */
  bytes: number;
  /** Arithmetic operations per call (a multiply-add counts as two), for compute-bound ops such as GEMM. */
  ops?: number;
  run(device: BenchDevice): void;
}

export interface BenchOp {
  /** Name for --ops and the JSON results. */
  id: string;
  /** Longer description for the table. */
  label: string;
  /** `src` holds `src.length` finite f32 values, shared by all ops; ops must not modify it. */
  prepare(src: Float32Array): Workload;
}
