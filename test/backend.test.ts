// backend(), SIMD selection (KQUANT_SIMD at load, setSimd at run time) and loading in worker_threads.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { KquantError, backend, quantizeAbsmaxSync, setSimd, setThreads } from '../lib/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

// Runs a snippet in a fresh node process against the built package (dist/), with extra environment.
function child(code: string, env: Record<string, string>): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

describe('backend()', () => {
  it('reports SIMD level, threads and CUDA status', () => {
    const info = backend();
    expect(['scalar', 'avx2', 'avx512']).toContain(info.simd);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda.compiled).toBe('boolean');
    expect(typeof info.cuda.available).toBe('boolean');
    if (!info.cuda.available) expect(info.cuda.reason.length).toBeGreaterThan(0);
    else expect(info.cuda.devices.length).toBeGreaterThan(0);
    if (info.cpu.avx512) expect(info.simdBest).toBe('avx512');
  });

  it('setSimd rejects unknown levels and levels the CPU lacks', () => {
    expect(() => setSimd('sse' as 'scalar')).toThrow(KquantError);
    const info = backend();
    if (!info.cpu.avx512) expect(() => setSimd('avx512')).toThrow(/not supported by this CPU/);
  });
});

describe('environment overrides', () => {
  const probe = "import('./dist/lib/index.js').then(k => console.log(JSON.stringify(k.backend())))";

  it('KQUANT_SIMD forces a level at load', () => {
    const info = JSON.parse(child(probe, { KQUANT_SIMD: 'scalar' }));
    expect(info.simd).toBe('scalar');
    expect(info.simdNote).toMatch(/KQUANT_SIMD=scalar/);
    const bogus = JSON.parse(child(probe, { KQUANT_SIMD: 'mmx' }));
    expect(bogus.simd).toBe(bogus.simdBest);
    expect(bogus.simdNote).toMatch(/not one of/);
  });

  it('KQUANT_THREADS sizes the pool', () => {
    const info = JSON.parse(child(probe, { KQUANT_THREADS: '3' }));
    expect(info.threads).toBe(3);
    expect(info.threadsMax).toBe(3);
  });

  it('setThreads limits the pool at run time without changing results', () => {
    const code = `import('./dist/lib/index.js').then(k => {
      const x = new Float32Array(1 << 20).map((_, i) => Math.sin(i * 0.37) * (1 + (i % 97)));
      const all = k.quantizeAbsmaxSync(x, { shape: [1024, 1024], axis: 0, device: 'cpu' });
      k.setThreads(1);
      const one = k.quantizeAbsmaxSync(x, { shape: [1024, 1024], axis: 0, device: 'cpu' });
      const same = Buffer.compare(Buffer.from(all.values.buffer), Buffer.from(one.values.buffer)) === 0;
      let bad = ''; try { k.setThreads(5); } catch (e) { bad = e.code; }
      console.log(JSON.stringify({ threads: k.backend().threads, max: k.backend().threadsMax, same, bad }));
    })`;
    expect(JSON.parse(child(code, { KQUANT_THREADS: '4' }))).toEqual({ threads: 1, max: 4, same: true, bad: 'KQ_INVALID_ARGUMENT' });
  });
});

describe('worker_threads', () => {
  it('loads and runs in several workers at once, matching the main thread', async () => {
    const x = Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i * 0.37) * 5);
    const expected = quantizeAbsmaxSync(x, { blockSize: 64 });
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.entry).then(async (k) => {
        const q = await k.quantizeAbsmax(workerData.x, { blockSize: 64 });
        parentPort.postMessage({ values: q.values, scales: q.scales });
      });`;
    const entry = new URL('../dist/lib/index.js', import.meta.url).href;
    const results = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<{ values: Int8Array; scales: Float32Array }>((resolve, reject) => {
            const worker = new Worker(source, { eval: true, workerData: { entry, x } });
            worker.once('message', (m) => {
              resolve(m);
              void worker.terminate();
            });
            worker.once('error', reject);
          }),
      ),
    );
    for (const r of results) {
      expect(r.values).toEqual(expected.values);
      expect(r.scales).toEqual(expected.scales);
    }
  });

  it('survives a worker terminated while its async op runs', () => {
    // In a child process, so a crash would fail this test instead of the runner.
    const script = `
      import { Worker } from 'node:worker_threads';
      const entry = new URL('./dist/lib/index.js', 'file://' + process.cwd() + '/').href;
      const source = \`
        import('node:worker_threads').then(async ({ parentPort, workerData }) => {
          const k = await import(workerData.entry);
          const x = new Float32Array(1 << 24).fill(0.5);
          k.quantizeAbsmax(x, { blockSize: 64 });
          parentPort.postMessage('started');
        });\`;
      const worker = new Worker(source, { eval: true, workerData: { entry } });
      worker.on('message', async () => {
        await worker.terminate();
        const k = await import(entry);
        const q = await k.quantizeAbsmax(Float32Array.from([1, -2, 4]));
        console.log('alive', Array.from(q.values).join(','));
      });`;
    // The race (kernel threads still running as the worker unloads and frees) is timing-dependent:
    // several runs make a regression show up reliably.
    for (let run = 0; run < 4; run++) expect(child(script, {}).trim()).toBe('alive 32,-64,127');
  });
});
