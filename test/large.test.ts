// Tensors past 2^31 elements: 64-bit indexing end to end. Needs ~13 GB, so it runs where the memory is
// (CI's 24 GB machines) and reports a skip elsewhere.
import { freemem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { quantizeAbsmaxSync } from '../lib/index.js';

const n = 2 ** 31 + 64;
const enoughMemory = freemem() > 16 * 2 ** 30;

describe.skipIf(!enoughMemory)(`${n} elements (past 2^31)`, () => {
  it('quantizes per tensor and per block with values beyond index 2^31 in place', () => {
    const x = new Float32Array(n);
    x[3] = 1;
    x[2 ** 31 + 10] = 5;
    x[2 ** 31 + 11] = -2.5;
    const perTensor = quantizeAbsmaxSync(x);
    expect(perTensor.scale).toBe(Math.fround(127 / 5));
    expect(perTensor.values[2 ** 31 + 10]).toBe(127);
    expect(perTensor.values[2 ** 31 + 11]).toBe(-64); // −63.5 rounds half to even
    expect(perTensor.values[3]).toBe(25);
    const perBlock = quantizeAbsmaxSync(x, { blockSize: 64 });
    const lastBlock = Math.floor((2 ** 31 + 10) / 64);
    expect(perBlock.scales!.length).toBe(n / 64);
    expect(perBlock.scales![lastBlock]).toBe(Math.fround(127 / 5));
    expect(perBlock.scales![0]).toBe(127);
    expect(perBlock.values[2 ** 31 + 11]).toBe(-64);
    expect(perBlock.values[3]).toBe(127);
  }, 300_000);
});
