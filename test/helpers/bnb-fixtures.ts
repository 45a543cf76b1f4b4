// The bitsandbytes golden files in test/fixtures/bnb (copied from shared/vectors/bnb; its README is the
// format spec): the manifest, and file loading checked against the manifest's size and sha256.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const BNB_FIXTURES = fileURLToPath(new URL('../fixtures/bnb/', import.meta.url));

export interface FixtureFile {
  path: string;
  dtype: string;
  shape: number[];
  bytes: number;
  sha256: string;
}

export const bnbManifest = JSON.parse(readFileSync(join(BNB_FIXTURES, 'manifest.json'), 'utf8')) as {
  cases_4bit_and_8bit: unknown[];
  cases_int8: unknown[];
  files: Record<string, FixtureFile>;
};

const loaded = new Map<string, Uint8Array>();

/** A fresh copy of a fixture file (callers may mutate it), verified on first use. */
export function loadFixtureBytes(name: string): Uint8Array {
  const cached = loaded.get(name);
  if (cached) return cached.slice();
  const entry = bnbManifest.files[name];
  if (!entry) throw new Error(`manifest has no file ${name}`);
  const buf = readFileSync(join(BNB_FIXTURES, entry.path));
  expect(buf.length, `${name} size`).toBe(entry.bytes);
  expect(createHash('sha256').update(buf).digest('hex'), `${name} sha256`).toBe(entry.sha256);
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  loaded.set(name, bytes);
  return bytes.slice();
}
