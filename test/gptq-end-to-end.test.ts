// The path a Node service takes with GPTQ (README quick start): calibrate, quantize, write a GPTQModel-layout
// checkpoint, read it back, prepare the int4 weights and run the fused GEMV — checked against the f64 product of
// the dequantized weight, so the layers agree on layout end to end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GPTQHessian,
  dequantizeGPTQSync,
  int4Matmul,
  prepareInt4Weights,
  quantizeGPTQ,
  readGPTQCheckpoint,
  writeGPTQCheckpoint,
} from '../lib/index.js';
import { normal, rng } from './helpers/random.js';

const dir = mkdtempSync(join(tmpdir(), 'kquant-gptq-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GPTQ end to end', () => {
  it('calibrate → quantizeGPTQ → checkpoint → read → prepareInt4Weights → int4Matmul', async () => {
    const rows = 96;
    const cols = 256;
    const next = rng(404);
    const weight = Float32Array.from({ length: rows * cols }, () => 0.02 * normal(next));
    const hessian = new GPTQHessian(cols);
    for (let batch = 0; batch < 4; batch++) {
      const x = Float32Array.from({ length: 64 * cols }, (_, i) => normal(next) + (i % cols === 7 ? 10 : 0));
      await hessian.add(x, 64);
    }
    const q = await quantizeGPTQ(weight, [rows, cols], hessian, { bits: 4, groupSize: 64, actOrder: true });
    expect(q.error!).toBeLessThan(q.rtnError!);

    writeGPTQCheckpoint(dir, [{ name: 'model.layers.0.mlp.down_proj', tensors: q }], { bits: 4, groupSize: 64, descAct: true, sym: true, format: 'gptq' });
    const back = readGPTQCheckpoint(dir);
    const layer = back.layers.find((l) => l.name === 'model.layers.0.mlp.down_proj')!;
    expect(layer.tensors.qweight).toEqual(q.qweight);
    expect(layer.tensors.qzeros).toEqual(q.qzeros);
    expect(layer.tensors.scales).toEqual(q.scales);
    expect(layer.tensors.gIdx).toEqual(q.gIdx);

    const w = dequantizeGPTQSync(layer.tensors);
    const handle = await prepareInt4Weights({ ...layer.tensors, n: rows, k: cols });
    const m = 3;
    const x = Float32Array.from({ length: m * cols }, () => normal(next));
    const y = await int4Matmul(x, m, handle, { activations: 'float32' });
    for (let i = 0; i < m; i++)
      for (let o = 0; o < rows; o++) {
        let want = 0;
        let mag = 0;
        for (let c = 0; c < cols; c++) {
          want += x[i * cols + c]! * w[o * cols + c]!;
          mag += Math.abs(x[i * cols + c]! * w[o * cols + c]!);
        }
        expect(Math.abs(y[i * rows + o]! - want)).toBeLessThan(1e-5 * mag + 1e-7);
      }
    handle.dispose();
  });
});
