// Shape + granularity -> the [outer, channels, inner] layout the native linear kernels take
// (native/ops/linear/linear.h): one group per channel.
import { fail, expectInteger } from '../validate.js';

export type Granularity = 'tensor' | 'channel' | 'block';

export interface GroupLayout {
  granularity: Granularity;
  outer: number;
  channels: number;
  inner: number;
  axis?: number;
  blockSize?: number;
}

// Smallest block the issue allows; smaller blocks spend more on scales than they save.
export const MIN_BLOCK_SIZE = 16;

export function groupLayout(shape: readonly number[], axis: unknown, blockSize: unknown): GroupLayout {
  const count = shape.reduce((a, b) => a * b, 1);
  if (axis !== undefined && blockSize !== undefined) {
    fail('KQ_INVALID_ARGUMENT', 'Expected at most one of options.axis and options.blockSize but received both');
  }
  if (axis !== undefined) {
    const rank = shape.length;
    const a = expectInteger(axis, 'options.axis', -rank, rank - 1);
    const resolved = a < 0 ? a + rank : a;
    const outer = shape.slice(0, resolved).reduce((x, y) => x * y, 1);
    const inner = shape.slice(resolved + 1).reduce((x, y) => x * y, 1);
    return { granularity: 'channel', outer, channels: shape[resolved]!, inner, axis: resolved };
  }
  if (blockSize !== undefined) {
    const b = expectInteger(blockSize, 'options.blockSize', MIN_BLOCK_SIZE);
    const last = shape[shape.length - 1]!;
    if (last % b !== 0) {
      fail('KQ_SHAPE', `Expected options.blockSize to divide the last dimension (${last}) but received ${b}`);
    }
    return { granularity: 'block', outer: 1, channels: count / b, inner: b, blockSize: b };
  }
  return { granularity: 'tensor', outer: 1, channels: 1, inner: count };
}
