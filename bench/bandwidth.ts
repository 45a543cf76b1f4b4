// The memory-bandwidth ceiling the op results are compared with: memcpy spread over kquant's thread pool
// (the same threads the CPU ops use) between two buffers large enough to miss the last-level cache.
// Bytes read and written are both counted, the same way the op results count theirs.
import { constants } from 'node:buffer';
import { freemem } from 'node:os';
import { native } from '../lib/binding.js';
import { lastLevelCacheBytes } from './cache-size.js';
import { timeCall, type TimingPlan } from './timing.js';

const MiB = 1024 ** 2;
const MIN_BUFFER = 256 * MiB;

export const BANDWIDTH_METHOD = "copy bandwidth (memcpy on kquant's thread pool), bytes read + written";

export interface Bandwidth {
  method: string;
  GBps: number;
  /** Size of each of the two buffers copied between. */
  bufferBytes: number;
  /** What the buffer had to exceed 4x of; null where the cache size is unknown. */
  lastLevelCacheBytes: number | null;
}

// At least 4x the last-level cache, but --quick stays at the minimum: first-touching a gigabyte costs
// seconds on some VMs. Either way at most a quarter of free memory per buffer, and no more than a
// typed array can hold.
export function bandwidthBufferBytes(quick: boolean): number {
  const llc = lastLevelCacheBytes() ?? 0;
  const wanted = quick ? MIN_BUFFER : Math.max(MIN_BUFFER, 4 * llc);
  const affordable = Math.floor(Math.min(freemem() / 4, constants.MAX_LENGTH) / MiB) * MiB;
  return Math.max(MiB, Math.min(wanted, affordable));
}

export function measureCopyBandwidth(bufferBytes: number, plan: TimingPlan): Bandwidth {
  const src = new Uint8Array(bufferBytes).fill(1);
  // Touched up front so the first timed copy does not pay for page faults.
  const dst = new Uint8Array(bufferBytes).fill(0);
  const { msPerCall } = timeCall(() => native.copy(src, dst), plan);
  return {
    method: BANDWIDTH_METHOD,
    GBps: (2 * bufferBytes) / (msPerCall * 1e6),
    bufferBytes,
    lastLevelCacheBytes: lastLevelCacheBytes() ?? null,
  };
}
