// What this process can run on, and the device an op should use.
import { DeviceCode, native, type NativeBackendInfo } from './binding.js';
import { callSync } from './errors.js';
import { expectInteger, expectOneOf } from './validate.js';

export type SimdLevel = 'scalar' | 'avx2' | 'avx512';
export type Device = 'cpu' | 'cuda' | 'auto';
export type BackendInfo = NativeBackendInfo;

let cudaAvailable: boolean | undefined;

export function backend(): BackendInfo {
  const info = native.backendInfo();
  cudaAvailable = info.cuda.available;
  return info;
}

// Switches the CPU kernels to a SIMD level the CPU has (tests and benchmarks compare levels this way);
// affects every op in the process.
export function setSimd(level: SimdLevel): void {
  expectOneOf(level, 'level', ['scalar', 'avx2', 'avx512'] as const);
  callSync(() => native.setSimd(level));
}

// Limits kquant's CPU ops to `threads` (1 … backend().threadsMax) from the next call on; affects every op in
// the process. Benchmarks compare one thread with all this way.
export function setThreads(threads: number): void {
  const max = native.backendInfo().threadsMax;
  callSync(() => native.setThreads(expectInteger(threads, 'threads', 1, max)));
}

// 'auto' picks CUDA when it is usable; an explicit 'cuda' without it fails in the op with the reason.
export function resolveDevice(device: unknown): DeviceCode {
  const name = expectOneOf(device ?? 'auto', 'options.device', ['cpu', 'cuda', 'auto'] as const);
  if (name === 'cpu') return DeviceCode.cpu;
  if (name === 'cuda') return DeviceCode.cuda;
  cudaAvailable ??= native.backendInfo().cuda.available;
  return cudaAvailable ? DeviceCode.cuda : DeviceCode.cpu;
}
