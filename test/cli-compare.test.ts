// `kquant compare` as a user runs it (the built dist/ entry) on generated models: a safetensors file with f16
// and bf16 matrices of round and odd shapes plus a 1-D norm, and a GGUF file with F32/F16/BF16 tensors and a
// Q4_K one (dequantized first). The JSON's figures must equal an f64 recomputation from kquant's ops called
// here, its byte counts the formats' storage formulas; more bits must mean less error on Gaussian weights;
// shapes a format cannot store are n/a; the HTML page is self-contained and renders in headless Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dequantize4bitSync,
  dequantizeAbsmaxSync,
  dequantizeBlockwiseSync,
  dequantizeGGMLSync,
  dequantizeGPTQSync,
  fromBFloat16Sync,
  fromFloat16Sync,
  packGPTQSync,
  quantize4bitSync,
  quantizeAbsmaxSync,
  quantizeBlockwiseSync,
  quantizeGGMLSync,
  solveRTNSync,
  toBFloat16Sync,
  toFloat16Sync,
  writeGGUF,
  writeSafetensors,
  type GGMLQuantType,
  type SafeTensor,
} from '../lib/index.js';
import { FORMAT_IDS } from '../lib/cli/compare-formats.js';
import { CHART } from '../lib/cli/compare-html.js';
import { decodePng } from './helpers/png.js';
import { randomFloats } from './helpers/random.js';

const cli = fileURLToPath(new URL('../dist/lib/cli/kquant.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'kquant-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function kquant(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

// ---- the generated models ----

type Spec = { name: string; shape: number[]; dtype: 'F16' | 'BF16' };
const SPECS: Spec[] = [
  { name: 'model.layers.0.self_attn.q_proj.weight', shape: [128, 256], dtype: 'BF16' },
  { name: 'model.layers.0.mlp.down_proj.weight', shape: [256, 512], dtype: 'F16' },
  // Rows of 100: no ggml block or GPTQ group divides them; bnb's flat blocks and int8's rows do.
  { name: 'model.layers.0.odd.weight', shape: [24, 100], dtype: 'F16' },
  { name: 'model.norm.weight', shape: [256], dtype: 'F16' },
];

// The weights as the file holds them, and widened to f32 (what the comparison is against).
const values = new Map<string, Float32Array>();
const tensors = new Map<string, SafeTensor>();
SPECS.forEach(({ name, shape, dtype }, seed) => {
  const raw = randomFloats(shape.reduce((a, d) => a * d, 1), 7000 + seed, 0.02);
  const bits = dtype === 'F16' ? toFloat16Sync(raw) : toBFloat16Sync(raw);
  tensors.set(name, { dtype, shape, data: bits });
  values.set(name, dtype === 'F16' ? fromFloat16Sync(bits) : fromBFloat16Sync(bits));
});
const model = join(tmp, 'model.safetensors');
writeSafetensors(model, tensors);

const FORMATS = ['q8_0', 'q6_k', 'q4_k', 'nf4', 'fp4', 'int8', 'bnb8', 'gptq4'];
const GGML = new Set(['q8_0', 'q6_k', 'q4_k']);

// ---- the f64 recomputation ----

// Bytes each format stores for a [rows, cols] matrix, from the formats' layouts (ggml's block sizes; bnb: a
// nibble per weight plus an f32 absmax per 64, a byte plus an f32 per 4096; int8: a byte plus an f32 per row;
// GPTQModel 4-bit: qweight nibbles, qzeros nibbles and f16 scales per group of 128 and row, int32 g_idx).
function storageBytes(format: string, rows: number, cols: number): number {
  const n = rows * cols;
  const groups = cols / 128;
  const perFormat: Record<string, number> = {
    q8_0: (n / 32) * 34,
    q6_k: (n / 256) * 210,
    q4_k: (n / 256) * 144,
    nf4: Math.ceil(n / 2) + 4 * Math.ceil(n / 64),
    fp4: Math.ceil(n / 2) + 4 * Math.ceil(n / 64),
    int8: n + 4 * rows,
    bnb8: n + 4 * Math.ceil(n / 4096),
    gptq4: n / 2 + (groups * rows) / 2 + groups * rows * 2 + 4 * cols,
  };
  return perFormat[format]!;
}

function roundTrip(format: string, w: Float32Array, rows: number, cols: number): Float32Array {
  if (GGML.has(format)) return dequantizeGGMLSync(format as GGMLQuantType, quantizeGGMLSync(format as GGMLQuantType, w), w.length);
  if (format === 'nf4' || format === 'fp4') return dequantize4bitSync(quantize4bitSync(w, { quantType: format, blockSize: 64 }), { outDtype: 'float32' });
  if (format === 'bnb8') return dequantizeBlockwiseSync(quantizeBlockwiseSync(w, { blockSize: 4096 }), { outDtype: 'float32' });
  if (format === 'int8') return dequantizeAbsmaxSync(quantizeAbsmaxSync(w, { shape: [rows, cols], axis: 0 }));
  const s = solveRTNSync(w, [rows, cols], { bits: 4, groupSize: 128, sym: true });
  const t = packGPTQSync({ codes: s.codes, scales: s.groupScales, zeros: s.groupZeros, gIdx: s.gIdx, rows, cols, bits: 4, groupSize: 128, sym: true });
  return dequantizeGPTQSync(t);
}

interface Figures {
  bytes: number;
  elements: number;
  bitsPerWeight: number;
  relativeError: number;
  sqnrDb: number;
  maxAbsError: number;
  sumSquares: number;
  errorSumSquares: number;
}
type Cell = Figures | { na: string };
interface Report {
  kind: string;
  totals: (Figures & { format: string; tensors: number; naTensors: number })[];
  tensors: { name: string; shape: number[]; dtype: string; dequantized: boolean; formats: Record<string, Cell> }[];
  skipped: { name: string; reason: string }[];
}

function expectFigures(cell: Cell | undefined, w: Float32Array, approx: Float32Array, bytes: number, what: string): void {
  expect(cell && !('na' in cell), `${what} has figures`).toBe(true);
  const f = cell as Figures;
  let signal = 0;
  let noise = 0;
  let maxAbs = 0;
  for (let i = 0; i < w.length; i++) {
    signal += w[i]! * w[i]!;
    noise += (w[i]! - approx[i]!) ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(w[i]! - approx[i]!));
  }
  expect(f.bytes, `${what} bytes`).toBe(bytes);
  expect(f.bitsPerWeight, `${what} bits/weight`).toBeCloseTo((bytes * 8) / w.length, 12);
  expect(f.sumSquares / signal, `${what} ΣW²`).toBeCloseTo(1, 12);
  expect(f.errorSumSquares / noise, `${what} Σ(W−Ŵ)²`).toBeCloseTo(1, 12);
  expect(f.relativeError / Math.sqrt(noise / signal), `${what} relative error`).toBeCloseTo(1, 12);
  expect(f.sqnrDb, `${what} SQNR`).toBeCloseTo(10 * Math.log10(signal / noise), 10);
  expect(f.maxAbsError, `${what} max error`).toBe(maxAbs);
}

function runJson(...args: string[]): Report {
  const r = kquant('compare', ...args, '--json');
  expect(r.stderr, 'stderr').not.toMatch(/kquant: /);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

const byName = (r: Report, name: string) => r.tensors.find((t) => t.name === name)!;

describe('kquant compare on safetensors', () => {
  const report = runJson(model, '--formats', FORMATS.join(','));

  it('reports every matrix in every format, figures equal to an f64 recomputation', () => {
    expect(report.kind).toBe('safetensors');
    expect(report.tensors.map((t) => t.name)).toEqual(SPECS.filter((s) => s.shape.length === 2).map((s) => s.name));
    for (const spec of SPECS.filter((s) => s.shape.length === 2)) {
      const t = byName(report, spec.name);
      const [rows, cols] = spec.shape as [number, number];
      expect(t.shape).toEqual(spec.shape);
      expect(t.dtype).toBe(spec.dtype);
      expect(Object.keys(t.formats)).toEqual(FORMATS);
      for (const format of FORMATS) {
        if (cols === 100 && (GGML.has(format) || format === 'gptq4')) continue;
        const w = values.get(spec.name)!;
        expectFigures(t.formats[format], w, roundTrip(format, w, rows, cols), storageBytes(format, rows, cols), `${spec.name} ${format}`);
      }
    }
  });

  it('skips 1-D tensors and says why', () => {
    expect(report.skipped).toEqual([expect.objectContaining({ name: 'model.norm.weight', reason: expect.stringMatching(/1-D/) })]);
  });

  it('reports n/a where the block or group does not divide the row length, and leaves it out of the totals', () => {
    const odd = byName(report, 'model.layers.0.odd.weight');
    for (const format of ['q8_0', 'q6_k', 'q4_k']) expect(odd.formats[format], format).toEqual({ na: expect.stringMatching(/row length 100 .* block/) });
    expect(odd.formats.gptq4).toEqual({ na: expect.stringMatching(/row length 100 .* group \(128\)/) });
    const q8 = report.totals.find((t) => t.format === 'q8_0')!;
    expect([q8.tensors, q8.naTensors]).toEqual([2, 1]);
    const fitting = report.tensors.map((t) => t.formats.q8_0!).filter((c): c is Figures => !('na' in c));
    expect(q8.bytes).toBe(fitting.reduce((a, c) => a + c.bytes, 0));
    expect(q8.relativeError).toBeCloseTo(Math.sqrt(fitting.reduce((a, c) => a + c.errorSumSquares, 0) / fitting.reduce((a, c) => a + c.sumSquares, 0)), 12);
    const nf4 = report.totals.find((t) => t.format === 'nf4')!;
    expect([nf4.tensors, nf4.naTensors]).toEqual([3, 0]);
  });

  it('orders the totals by bits per weight; on Gaussian weights more bits give less error (q8_0 < q6_k < q4_k)', () => {
    const bits = report.totals.map((t) => t.bitsPerWeight);
    expect(bits).toEqual([...bits].sort((a, b) => a - b));
    for (const t of report.tensors.filter((x) => !('na' in x.formats.q4_k!))) {
      const err = (f: string) => (t.formats[f] as Figures).relativeError;
      const bpw = (f: string) => (t.formats[f] as Figures).bitsPerWeight;
      expect(err('q8_0'), t.name).toBeLessThan(err('q6_k'));
      expect(err('q6_k'), t.name).toBeLessThan(err('q4_k'));
      expect(bpw('q8_0')).toBeGreaterThan(bpw('q6_k'));
      expect(bpw('q6_k')).toBeGreaterThan(bpw('q4_k'));
    }
  });

  it('prints tables on stdout and progress on stderr without --json', () => {
    const r = kquant('compare', model, '--formats', 'q4_k,nf4');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^format\s+tensors\s+bits\/weight\s+size\s+rel\. error\s+SQNR dB\s+max error$/m);
    expect(r.stdout).toMatch(/^model\.layers\.0\.odd\.weight\s+\[24, 100\]\s+F16\s+q4_k\s+n\/a$/m);
    expect(r.stdout).toMatch(/model\.norm\.weight \[256\] F16: 1-D/);
    expect(r.stderr).toMatch(/\[3\/3\] model\.layers\.0\.odd\.weight/);
  });

  it('reads a directory of shards through model.safetensors.index.json', () => {
    const dir = join(tmp, 'sharded');
    mkdirSync(dir);
    const names = [...tensors.keys()];
    const shards = [names.slice(0, 2), names.slice(2)].map((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(part.map((n) => [n, tensors.get(n)!])));
      return part.map((n) => [n, file]);
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: Object.fromEntries(shards.flat()) }));
    const sharded = runJson(dir, '--formats', 'q4_k,int8');
    expect(sharded.tensors.map((t) => [t.name, t.formats])).toEqual(report.tensors.map((t) => [t.name, { q4_k: t.formats.q4_k, int8: t.formats.int8 }]));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00003-of-00002.safetensors' } }));
    const missing = kquant('compare', dir);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^kquant: .*names the shard model-00003-of-00002\.safetensors, which is not in .*\n$/);
  });

  it('writes --json to a file, keeps only --tensors matches, and runs the default formats', () => {
    const out = join(tmp, 'q.json');
    const r = kquant('compare', model, '--tensors', 'q_proj', '--json', out);
    expect(r.status, r.stderr).toBe(0);
    const fromFile = JSON.parse(readFileSync(out, 'utf8')) as Report;
    expect(fromFile.tensors.map((t) => t.name)).toEqual(['model.layers.0.self_attn.q_proj.weight']);
    expect(Object.keys(fromFile.tensors[0]!.formats)).toEqual(['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'nf4', 'fp4', 'int8', 'gptq4']);
    expect(r.stdout).toMatch(/^q2_k\s/m);
  });
});

describe('kquant compare on GGUF', () => {
  const rows = 32;
  const cols = 256;
  const w = (seed: number) => randomFloats(rows * cols, seed, 0.02);
  const f16 = toFloat16Sync(w(1));
  const bf16 = toBFloat16Sync(w(2));
  const f32 = w(3);
  const q4k = quantizeGGMLSync('q4_k', w(4));
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const path = join(tmp, 'model.gguf');
  writeGGUF(path, {
    metadata: { 'general.architecture': 'llama' },
    tensors: [
      { name: 'blk.0.attn_q.weight', type: 'f16', shape: [cols, rows], data: bytes(f16) },
      { name: 'blk.0.attn_k.weight', type: 'bf16', shape: [cols, rows], data: bytes(bf16) },
      { name: 'blk.0.ffn_up.weight', type: 'f32', shape: [cols, rows], data: bytes(f32) },
      { name: 'blk.0.ffn_down.weight', type: 'q4_k', shape: [cols, rows], data: q4k },
      { name: 'output_norm.weight', type: 'f32', shape: [cols], data: bytes(w(5).subarray(0, cols)) },
    ],
  });
  const sources: Record<string, Float32Array> = {
    'blk.0.attn_q.weight': fromFloat16Sync(f16),
    'blk.0.attn_k.weight': fromBFloat16Sync(bf16),
    'blk.0.ffn_up.weight': f32,
    'blk.0.ffn_down.weight': dequantizeGGMLSync('q4_k', q4k, rows * cols),
  };

  it('reads F32/F16/BF16 tensors, dequantizes block types first and says so', () => {
    const report = runJson(path, '--formats', 'q8_0,nf4,int8');
    expect(report.kind).toBe('gguf');
    expect(report.skipped.map((s) => s.name)).toEqual(['output_norm.weight']);
    expect(report.tensors.map((t) => [t.name, t.dtype, t.dequantized])).toEqual([
      ['blk.0.attn_q.weight', 'f16', false],
      ['blk.0.attn_k.weight', 'bf16', false],
      ['blk.0.ffn_up.weight', 'f32', false],
      ['blk.0.ffn_down.weight', 'q4_k', true],
    ]);
    for (const t of report.tensors) {
      expect(t.shape).toEqual([rows, cols]);
      for (const format of ['q8_0', 'nf4', 'int8']) {
        const src = sources[t.name]!;
        expectFigures(t.formats[format], src, roundTrip(format, src, rows, cols), storageBytes(format, rows, cols), `${t.name} ${format}`);
      }
    }
  });
});

// ---- the HTML page ----

function whichChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

describe('kquant compare --html', () => {
  const html = join(tmp, 'report.html');
  const formats = ['q8_0', 'q6_k', 'q4_k', 'nf4', 'int8', 'gptq4'];
  const r = kquant('compare', model, '--formats', formats.join(','), '--html', html);
  const page = existsSync(html) ? readFileSync(html, 'utf8') : '';

  it('writes one self-contained page with a series per format and the tables', () => {
    expect(r.status, r.stderr).toBe(0);
    for (const f of formats) expect(page, f).toMatch(new RegExp(`<g class="series" data-format="${f}" fill="#[0-9a-f]{6}">\\s*(<circle [^>]*><title>[^<]*${f}[^<]*</title></circle>\\s*)+</g>`));
    for (const spec of SPECS) expect(page).toContain(`<td class="text">${spec.name}</td>`);
    expect(page).not.toMatch(/https?:|\bsrc=|\bhref=|<link|<script|url\(/i);
  });

  const chromium = whichChromium();
  if (!chromium) console.warn('cli-compare.test.ts: no chromium binary on PATH (Debian: apt-get install -y chromium); the headless screenshot test is skipped');
  it.skipIf(!chromium)(`renders the chart in headless Chromium${chromium ? '' : ' (SKIPPED: no chromium binary on PATH)'}`, () => {
    const png = join(tmp, 'report.png');
    const [width, height] = [CHART.width + 40, CHART.height + 200];
    const shot = spawnSync(
      chromium!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', `--user-data-dir=${join(tmp, 'chromium-profile')}`, `--window-size=${width},${height}`, `--screenshot=${png}`, `file://${html}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(existsSync(png), shot.stderr).toBe(true);
    const image = decodePng(readFileSync(png));
    expect([image.width, image.height]).toEqual([width, height]);
    // Each format's total is an opaque disc of its colour inside the plot area (the legend lies outside it).
    const { left, top, right, bottom } = CHART.plot;
    for (const [, format, color] of page.matchAll(/<g class="series" data-format="([^"]+)" fill="#([0-9a-f]{6})">/g)) {
      const rgb = [0, 2, 4].map((i) => parseInt(color!.slice(i, i + 2), 16));
      let hits = 0;
      for (let y = top; y < bottom; y++) {
        for (let x = left; x < right; x++) {
          const p = (y * image.width + x) * 4;
          if (rgb.every((c, k) => Math.abs(image.rgba[p + k]! - c) <= 6)) hits++;
        }
      }
      expect(hits, `${format} (#${color}) pixels in the plot`).toBeGreaterThan(40);
    }
  }, 90_000);
});

describe('kquant compare: bad input', () => {
  it('exits with status 2 on usage errors', () => {
    for (const args of [[], ['a', 'b'], [join(tmp, 'missing.safetensors')], [model, '--formats', 'q4_k,q9_z'], [model, '--tensors', '(('], [model, '--bogus']]) {
      const r = kquant('compare', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^kquant: .*\nRun 'kquant --help' for usage\.\n$/);
    }
  });

  it('fails with one line on a file that is not a model, or when no tensor matches', () => {
    const junk = join(tmp, 'junk.safetensors');
    writeFileSync(junk, 'not a safetensors file at all');
    for (const args of [[junk], [model, '--tensors', '^nothing$']]) {
      const r = kquant('compare', ...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^kquant: [^\n]+\n$/);
    }
  });

  it('lists every format in the help', () => {
    const help = kquant('--help').stdout;
    for (const id of FORMAT_IDS) expect(help, id).toMatch(new RegExp(`\\b${id}\\b`));
  });
});
