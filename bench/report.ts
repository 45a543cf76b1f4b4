// The benchmark's results as written by --json, and the derived figures (GB/s, ratio to the copy
// bandwidth, speed-up over scalar) computed from the raw timings.
import { cpus } from 'node:os';
import type { BackendInfo } from '../lib/index.js';
import { kquantVersion } from '../lib/cli/package-version.js';
import type { Bandwidth } from './bandwidth.js';
import type { GPTQBenchResult } from './gptq.js';
import type { Int4BenchResult } from './suites/int4.js';
import type { TernaryBenchResult } from './suites/ternary.js';
import type { Variant } from './variants.js';

export interface Machine {
  cpu: string;
  cores: number;
  simdBest: BackendInfo['simdBest'];
  /** Threads in kquant's pool: every CPU op and the bandwidth copy use them all. */
  threads: number;
  cuda: {
    compiled: boolean;
    available: boolean;
    reason: string;
    devices: { name: string; computeCapability: string; totalMemory: number }[];
  };
}

export interface Measurement {
  op: string;
  variant: Variant;
  elements: number;
  bytes: number;
  msPerCall: number;
  reps: number;
  ops?: number;
}

export interface BenchResult extends Measurement {
  GBps: number;
  ratioToBandwidth: number;
  speedupVsScalar: number;
  /** Operations per second / 1e9, for ops that count them. */
  GOPS?: number;
}

export interface BenchReport {
  kquant: string;
  date: string;
  machine: Machine;
  bandwidth: Bandwidth;
  results: BenchResult[];
  /** The GPTQ layer benchmark, when it ran. */
  gptq?: GPTQBenchResult;
  /** The int4 GEMV at layer shapes, when it ran. */
  int4?: Int4BenchResult;
  /** The ternary GEMV beside int4 at layer shapes, when it ran. */
  ternary?: TernaryBenchResult;
}

export function describeMachine(info: BackendInfo): Machine {
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    simdBest: info.simdBest,
    threads: info.threads,
    cuda: {
      compiled: info.cuda.compiled,
      available: info.cuda.available,
      reason: info.cuda.reason,
      devices: info.cuda.devices.map(({ name, computeCapability, totalMemory }) => ({ name, computeCapability, totalMemory })),
    },
  };
}

// Speed-ups compare with the scalar run of the same op and size, which every machine has.
export function deriveResults(measurements: readonly Measurement[], bandwidth: Bandwidth): BenchResult[] {
  const scalarMs = new Map<string, number>();
  for (const m of measurements) if (m.variant === 'scalar') scalarMs.set(`${m.op}/${m.elements}`, m.msPerCall);
  return measurements.map((m) => {
    const GBps = m.bytes / (m.msPerCall * 1e6);
    const scalar = scalarMs.get(`${m.op}/${m.elements}`);
    if (scalar === undefined) throw new Error(`No scalar run of ${m.op} at ${m.elements} elements to compare with`);
    const GOPS = m.ops === undefined ? {} : { GOPS: m.ops / (m.msPerCall * 1e6) };
    return { ...m, GBps, ratioToBandwidth: GBps / bandwidth.GBps, speedupVsScalar: scalar / m.msPerCall, ...GOPS };
  });
}

export function buildReport(info: BackendInfo, bandwidth: Bandwidth, measurements: readonly Measurement[]): BenchReport {
  return {
    kquant: kquantVersion(),
    date: new Date().toISOString(),
    machine: describeMachine(info),
    bandwidth,
    results: deriveResults(measurements, bandwidth),
  };
}
