// The kquant command as a user runs it (the built dist/ entry): info, a small bench with JSON out, and
// usage errors with exit status 2.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/lib/cli/kquant.js', import.meta.url));

function kquant(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

describe('kquant CLI', () => {
  it('info --json reports the backend', () => {
    const run = kquant('info', '--json');
    expect(run.status).toBe(0);
    const info = JSON.parse(run.stdout);
    expect(['scalar', 'avx2', 'avx512']).toContain(info.simd);
    expect(typeof info.cuda.available).toBe('boolean');
  });

  it('bench writes measurements with ratios to the bandwidth measured in the same run', () => {
    const run = kquant('bench', '--quick', '--ops', 'quantize-absmax-block64,f32-to-f16', '--sizes', '64Ki', '--json', '-');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.bandwidth.GBps).toBeGreaterThan(0);
    const ops = new Set(report.results.map((r: { op: string }) => r.op));
    expect(ops).toEqual(new Set(['quantize-absmax-block64', 'f32-to-f16']));
    for (const r of report.results) {
      expect(r.elements).toBe(65536);
      expect(r.GBps).toBeCloseTo(r.bytes / (r.msPerCall * 1e6), 6);
      expect(r.ratioToBandwidth).toBeCloseTo(r.GBps / report.bandwidth.GBps, 6);
    }
    // The table goes to stderr when JSON takes stdout.
    expect(run.stderr).toMatch(/int8 quantize absmax per-block 64/);
    expect(report.gptq).toBeUndefined();
  });

  it('bench --ops gptq times the Hessian and the solve at one thread and at all', () => {
    const run = kquant('bench', '--quick', '--ops', 'gptq', '--json', '-');
    expect(run.status).toBe(0);
    const { gptq } = JSON.parse(run.stdout);
    expect(gptq).toMatchObject({ rows: 512, cols: 512, tokens: 256, config: { bits: 4, groupSize: 128 } });
    expect(gptq.runs[0].threads).toBe(1);
    for (const r of gptq.runs) {
      expect(r.hessianSeconds).toBeGreaterThan(0);
      expect(r.solveSeconds).toBeGreaterThan(0);
      expect(r.hessianGBps).toBeCloseTo((256 * 512 * 4) / r.hessianSeconds / 1e9, 6);
    }
    expect(run.stderr).toMatch(/GPTQ, one 512x512 layer/);
    expect('peer' in gptq.peer || 'unavailable' in gptq.peer).toBe(true);
  });

  it('rejects unknown commands, flags and sizes with exit status 2', () => {
    expect(kquant('frobnicate').status).toBe(2);
    expect(kquant('bench', '--nope').status).toBe(2);
    const badSize = kquant('bench', '--sizes', '100');
    expect(badSize.status).toBe(2);
    expect(badSize.stderr).toMatch(/multiple of 128/);
    expect(kquant('--help').stdout).toMatch(/bench/);
  });
});
