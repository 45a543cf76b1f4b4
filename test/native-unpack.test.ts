// The native codebook packing (bnbPackCodes / bnbUnpackCodes) and GPTQ dequantization (gptqDequantize) that
// lib/ops/codebook.ts and lib/ops/gptq-pack.ts call: the glue refuses buffers of the wrong length, naming the
// argument, before any kernel runs; the public functions name the bad tensor; async errors keep their codes.
import { describe, expect, it } from 'vitest';
import { dequantizeCodebook, dequantizeGPTQ, dequantizeGPTQSync, makeCode, packGPTQSync, quantizeCodebookSync } from '../lib/index.js';
import { native } from '../lib/binding.js';
import { expectKquantError } from './helpers/errors.js';
import { randomFloats } from './helpers/random.js';

// The glue's refusal: a RangeError with the stable code, whose message names the argument.
function expectRefusal(fn: () => unknown, name: RegExp): void {
  expect(fn).toThrow(RangeError);
  expect(fn).toThrow(expect.objectContaining({ code: 'KQ_INVALID_ARGUMENT', message: expect.stringMatching(name) }));
}

describe('bnbPackCodes / bnbUnpackCodes', () => {
  it('refuse buffers of the wrong length, naming them', () => {
    const indices = new Uint8Array(10); // 10 indices at 3 bits: 4 bytes
    expectRefusal(() => native.bnbPackCodes(indices, 3, null, new Uint8Array(3), false), /^packed/);
    expectRefusal(() => native.bnbPackCodes(indices, 3, new Uint8Array(255), new Uint8Array(4), false), /^remap/);
    expectRefusal(() => native.bnbUnpackCodes(new Uint8Array(5), 3, 8, indices, false), /^packed/);
    expectRefusal(() => native.bnbPackCodes(indices, 9, null, new Uint8Array(12), false), /bits/);
    native.bnbPackCodes(indices, 3, null, new Uint8Array(4), false);
  });

  it('reject an index past the code on the async path too', async () => {
    const q = quantizeCodebookSync(randomFloats(64, 5), { code: makeCode('int', 3) });
    await expect(dequantizeCodebook({ ...q, packed: new Uint8Array(q.packed.length).fill(0xff) })).rejects.toMatchObject({
      code: 'KQ_INVALID_ARGUMENT',
      message: expect.stringMatching(/below 7 .* element 0 holds 7/),
    });
  });
});

describe('gptqDequantize', () => {
  const rows = 32;
  const cols = 64;
  const t = packGPTQSync({
    codes: new Uint8Array(rows * cols).fill(3),
    scales: new Float32Array(rows).fill(0.5),
    zeros: new Int32Array(rows).fill(8),
    gIdx: new Int32Array(cols),
    rows,
    cols,
    bits: 4,
    groupSize: -1,
  });
  const call = (over: Partial<Record<'qweight' | 'qzeros' | 'scales' | 'gIdx' | 'w', unknown>>) => () =>
    native.gptqDequantize(
      (over.qweight ?? t.qweight) as Int32Array,
      (over.qzeros ?? t.qzeros) as Int32Array,
      (over.scales ?? t.scales) as Uint16Array,
      (over.gIdx ?? t.gIdx) as Int32Array,
      (over.w ?? new Float32Array(rows * cols)) as Float32Array,
      rows,
      cols,
      1,
      4,
      0,
      false,
    );

  it('refuses buffers of the wrong length, naming them', () => {
    expectRefusal(call({ qweight: t.qweight.subarray(1) }), /^qweight/);
    expectRefusal(call({ qzeros: new Int32Array(t.qzeros.length + 1) }), /^qzeros/);
    expectRefusal(call({ scales: t.scales.subarray(1) }), /^scales/);
    expectRefusal(call({ gIdx: new Int32Array(cols - 1) }), /^gIdx/);
    expectRefusal(call({ w: new Float32Array(rows * cols - 1) }), /^w /);
    expect(call({})).not.toThrow();
  });

  it('dequantizeGPTQ names the bad tensor and gives (q − z) · scale', async () => {
    expectKquantError(() => dequantizeGPTQSync({ ...t, scales: t.scales.subarray(1) }), 'KQ_LENGTH', /tensors\.scales/);
    expectKquantError(() => dequantizeGPTQSync({ ...t, qzeros: new Int32Array(1) }), 'KQ_LENGTH', /tensors\.qzeros/);
    expectKquantError(() => dequantizeGPTQSync({ ...t, gIdx: new Int32Array(cols + 1) }), 'KQ_LENGTH', /tensors\.gIdx/);
    const w = await dequantizeGPTQ(t);
    expect(w.length).toBe(rows * cols);
    expect(w.every((v) => v === -2.5)).toBe(true); // (3 − 8) · 0.5
  });
});
