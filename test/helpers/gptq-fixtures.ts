// The GPTQ golden files in test/fixtures/gptq (copied from shared/vectors/gptq without most qint.bin files;
// its README is the spec): the manifest, and typed loading checked against the manifest's size and sha256.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const GPTQ_FIXTURES = fileURLToPath(new URL('../fixtures/gptq/', import.meta.url));

export interface GptqFixtureFile {
  path: string;
  dtype: 'float32' | 'float16' | 'int32' | 'int64' | 'uint8';
  shape: number[];
  bytes: number;
  sha256: string;
}

export interface GptqCaseInfo {
  id: string;
  matrix: string;
  params: { bits: number; group_size: number; sym: boolean; desc_act: boolean; damp_percent: number; blocksize: number; static_groups: boolean };
  outputs: Record<string, string>;
  checkpoint: Record<string, string>;
  zero_points_equal_0: number;
  errors: Record<string, number>;
}

export const gptqManifest = JSON.parse(readFileSync(join(GPTQ_FIXTURES, 'manifest.json'), 'utf8')) as {
  cases: GptqCaseInfo[];
  matrices: Record<string, unknown>;
  files: Record<string, GptqFixtureFile>;
};

/** Typed view per manifest dtype; float16 comes back as its raw bits. */
export type GptqArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export interface GptqTensor {
  data: GptqArray;
  shape: number[];
  dtype: GptqFixtureFile['dtype'];
}

function typed(bytes: Uint8Array, dtype: GptqFixtureFile['dtype']): GptqArray {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float16':
      return new Uint16Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'uint8':
      return new Uint8Array(buf);
  }
}

/** Loads one manifest entry (fresh copy), or undefined when the file was left out of the copy (qint.bin). */
export function readGptqFile(name: string): GptqTensor | undefined {
  const entry = gptqManifest.files[name];
  if (!entry) throw new Error(`manifest has no file ${name}`);
  const file = join(GPTQ_FIXTURES, entry.path);
  if (!existsSync(file)) return undefined;
  const buf = readFileSync(file);
  expect(buf.length, `${name} size`).toBe(entry.bytes);
  expect(createHash('sha256').update(buf).digest('hex'), `${name} sha256`).toBe(entry.sha256);
  return { data: typed(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), entry.dtype), shape: entry.shape, dtype: entry.dtype };
}

function must(name: string): GptqTensor {
  const t = readGptqFile(name);
  if (!t) throw new Error(`fixture ${name} is missing`);
  return t;
}

export interface GptqCase {
  info: GptqCaseInfo;
  rows: number;
  cols: number;
  /** uint8 [rows, cols] codes in original column order; only kept for three cases. */
  qint?: Uint8Array;
  /** float32 [rows, G] in group creation order. */
  scales: Float32Array;
  /** float32 [rows, G], integer valued (v2 meaning; may hold -0). */
  zeros: Float32Array;
  g_idx: Int32Array;
  ckpt: {
    qweight: GptqTensor;
    qzeros_v1: GptqTensor;
    qzeros_v2: GptqTensor;
    /** float16 bits [G, rows]. */
    scales: GptqTensor;
    g_idx: GptqTensor;
  };
}

export const gptqCaseIds: string[] = gptqManifest.cases.map((c) => c.id);

/** One configuration, e.g. readCase('A_256x512/b4_g128_sym_noact'). */
export function readCase(id: string): GptqCase {
  const info = gptqManifest.cases.find((c) => c.id === id);
  if (!info) throw new Error(`manifest has no case ${id}`);
  const scales = must(info.outputs.scales);
  const qint = readGptqFile(info.outputs.qint);
  return {
    info,
    rows: scales.shape[0],
    cols: gptqManifest.files[info.outputs.qint].shape[1],
    qint: qint?.data as Uint8Array | undefined,
    scales: scales.data as Float32Array,
    zeros: must(info.outputs.zeros).data as Float32Array,
    g_idx: must(info.outputs.g_idx).data as Int32Array,
    ckpt: {
      qweight: must(info.checkpoint.qweight),
      qzeros_v1: must(info.checkpoint.qzeros_v1),
      qzeros_v2: must(info.checkpoint.qzeros_v2),
      scales: must(info.checkpoint.scales),
      g_idx: must(info.checkpoint.g_idx),
    },
  };
}

export interface GptqMatrix {
  rows: number;
  cols: number;
  /** float32 [rows=out, cols=in], fp16-exact values. */
  W: Float32Array;
  /** float16 bits [tokens, cols]. */
  X: Uint16Array;
  tokens: number;
  /** float32 [cols]. */
  H_diag: Float32Array;
  /** act-order permutation (int64 in the file), as numbers. */
  perm: Int32Array;
}

/** The matrix shared by a matrix's cases, e.g. readMatrix('A_256x512'). */
export function readMatrix(name: string): GptqMatrix {
  const W = must(`${name}/W`);
  const X = must(`${name}/X`);
  const perm64 = must(`${name}/perm_act_order`).data as BigInt64Array;
  return {
    rows: W.shape[0],
    cols: W.shape[1],
    W: W.data as Float32Array,
    X: X.data as Uint16Array,
    tokens: X.shape[0],
    H_diag: must(`${name}/H_diag`).data as Float32Array,
    perm: Int32Array.from(perm64, (v) => Number(v)),
  };
}
