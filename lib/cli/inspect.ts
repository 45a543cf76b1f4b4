// `kquant inspect`: a GGUF file's header as text (version, metadata, a tensor table) or JSON. Only the header
// is read. Arrays longer than ARRAY_HEAD (a tokenizer's 128k tokens) are shown as their length and first
// elements; 64-bit integers print exactly (JSON: a number when safe, else a string).
import { existsSync, statSync } from 'node:fs';
import { readGGUF, type GGUFFile, type GGUFTypedValue } from '../formats/gguf.js';
import { renderTable } from './table.js';
import { formatBytes } from './units.js';
import { UsageError } from './usage.js';

const ARRAY_HEAD = 8;
const STRING_MAX = 80;

type JsonScalar = number | string | boolean;
type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };

// The shortest decimal that reads back as the same f32 (1e-5, not 0.000009999999747378752).
function shortF32(v: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const x = Number(v.toPrecision(digits));
    if (Math.fround(x) === v) return x;
  }
  return v;
}

function jsonScalar(v: number | bigint | boolean | string, type: string): JsonScalar {
  if (type === 'f32' && typeof v === 'number') return shortF32(v);
  if (typeof v !== 'bigint') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function typeName(v: GGUFTypedValue): string {
  return v.type === 'array' ? `array[${v.itemType === 'array' ? 'array' : v.itemType}]` : v.type;
}

function jsonValue(v: GGUFTypedValue): JsonValue {
  if (v.type !== 'array') return jsonScalar(v.value, v.type);
  const itemType = v.itemType;
  const items = itemType === 'array' ? (v.value as GGUFTypedValue[]).slice(0, ARRAY_HEAD).map(jsonValue) : v.value.slice(0, ARRAY_HEAD).map((x) => jsonScalar(x, itemType));
  return v.value.length > ARRAY_HEAD ? { count: v.value.length, head: items } : items;
}

function textScalar(v: number | bigint | boolean | string, type: string): string {
  if (typeof v !== 'string') return String(jsonScalar(v, type));
  const quoted = JSON.stringify(v);
  return quoted.length > STRING_MAX ? `${quoted.slice(0, STRING_MAX - 1)}…` : quoted;
}

function textValue(v: GGUFTypedValue): string {
  if (v.type !== 'array') return textScalar(v.value, v.type);
  const itemType = v.itemType;
  const shown = itemType === 'array' ? (v.value as GGUFTypedValue[]).slice(0, ARRAY_HEAD).map(textValue) : v.value.slice(0, ARRAY_HEAD).map((x) => textScalar(x, itemType));
  const more = v.value.length > ARRAY_HEAD ? `, … (${v.value.length} items)` : '';
  return `[${shown.join(', ')}${more}]`;
}

export function inspectJson(f: GGUFFile, fileBytes: number): JsonValue {
  return {
    version: f.version,
    alignment: f.alignment,
    dataOffset: f.dataOffset,
    fileBytes,
    metadata: Object.fromEntries(Object.entries(f.typedMetadata).map(([k, v]) => [k, { type: typeName(v), value: jsonValue(v) }])),
    tensors: f.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, bytes: t.byteLength, offset: t.offset })),
  };
}

export function inspectText(f: GGUFFile, path: string, fileBytes: number): string {
  const kv = renderTable(
    [
      { header: 'key', align: 'left' },
      { header: 'type', align: 'left' },
      { header: 'value', align: 'left' },
    ],
    Object.entries(f.typedMetadata).map(([k, v]) => [k, typeName(v), textValue(v)]),
  );
  const tensors = renderTable(
    [
      { header: 'name', align: 'left' },
      { header: 'type', align: 'left' },
      { header: 'shape', align: 'left' },
      { header: 'bytes', align: 'right' },
      { header: 'offset', align: 'right' },
    ],
    f.tensors.map((t) => [t.name, t.type, `[${t.shape.join(', ')}]`, String(t.byteLength), String(t.offset)]),
  );
  const head = `${path}: GGUF v${f.version}, ${formatBytes(fileBytes)}, alignment ${f.alignment}, data at byte ${f.dataOffset}, ${f.kvCount} key-values, ${f.tensorCount} tensors`;
  return `${head}\n\n${kv}\n${tensors}`;
}

export function inspectCommand(positionals: readonly string[], json: boolean): void {
  if (positionals.length !== 1) throw new UsageError(`Expected one GGUF file but received ${positionals.length}`);
  const path = positionals[0]!;
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`No such file: ${path}`);
  const f = readGGUF(path);
  const fileBytes = statSync(path).size;
  process.stdout.write(json ? JSON.stringify(inspectJson(f, fileBytes), null, 2) + '\n' : inspectText(f, path, fileBytes));
}
