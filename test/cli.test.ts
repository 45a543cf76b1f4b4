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
