// Times a synchronous call: a few warm-up calls, then repeated calls until enough time or repetitions
// have passed, reporting the median per-call time (robust to the odd GC pause or page-fault burst).

export interface TimingPlan {
  warmupCalls: number;
  /** Keep repeating until this much time has been spent on timed calls... */
  minSeconds: number;
  /** ...and at least this many calls made, */
  minReps: number;
  /** but never more than this many. */
  maxReps: number;
}

export const DEFAULT_TIMING: TimingPlan = { warmupCalls: 2, minSeconds: 0.3, minReps: 5, maxReps: 2000 };
export const QUICK_TIMING: TimingPlan = { warmupCalls: 1, minSeconds: 0.01, minReps: 3, maxReps: 10 };

export interface Timing {
  msPerCall: number;
  reps: number;
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function timeCall(call: () => void, plan: TimingPlan): Timing {
  for (let i = 0; i < plan.warmupCalls; i++) call();
  const samples: number[] = [];
  let spentNs = 0n;
  const budgetNs = BigInt(Math.round(plan.minSeconds * 1e9));
  while (samples.length < plan.maxReps && (samples.length < plan.minReps || spentNs < budgetNs)) {
    const start = process.hrtime.bigint();
    call();
    const elapsed = process.hrtime.bigint() - start;
    spentNs += elapsed;
    samples.push(Number(elapsed) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { msPerCall: median(samples), reps: samples.length };
}
