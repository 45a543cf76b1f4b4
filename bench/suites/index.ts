// Every op the benchmark knows, in table order.
import type { BenchOp } from '../op.js';
import { bnbOps } from './bnb.js';
import { convertOps } from './convert.js';
import { ggmlOps } from './ggml.js';
import { int8Ops } from './int8.js';
import { linearOps } from './linear.js';

export const ALL_OPS: readonly BenchOp[] = [...linearOps, ...convertOps, ...bnbOps, ...int8Ops, ...ggmlOps];

/** The ops named by `ids`, in table order; throws a message for the user on an unknown name. */
export function selectOps(ids: readonly string[]): BenchOp[] {
  const unknown = ids.filter((id) => !ALL_OPS.some((op) => op.id === id));
  if (unknown.length > 0) {
    throw new Error(`Unknown op ${unknown.map((id) => `'${id}'`).join(', ')}; expected some of: ${ALL_OPS.map((op) => op.id).join(', ')}`);
  }
  return ALL_OPS.filter((op) => ids.includes(op.id));
}
