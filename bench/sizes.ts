// Problem sizes in elements. The defaults aim at three levels of the memory hierarchy: 256 Ki f32 (1 MiB)
// stays in L2, 4 Mi (16 MiB) in a typical L3, 32 Mi (128 MiB) goes to main memory on most machines.
const Ki = 1024;
const Mi = 1024 * 1024;

export const DEFAULT_SIZES: readonly number[] = [256 * Ki, 4 * Mi, 32 * Mi];
export const QUICK_SIZES: readonly number[] = [64 * Ki, 1 * Mi];

// Every op must accept every size: per-block ops need the block sizes (64, 128) to divide it.
export const SIZE_MULTIPLE = 128;

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: Ki, mi: Mi, gi: Ki * Mi };

/** Parses "256Ki", "4Mi", "1m", "65536"; throws a message for the user on anything else. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?)?$/i.exec(text.trim());
  const scale = match ? SUFFIX[(match[2] ?? '').toLowerCase()] : undefined;
  const elements = match && scale !== undefined ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(elements) || elements <= 0 || elements % SIZE_MULTIPLE !== 0) {
    throw new Error(`Expected a size in elements that is a positive multiple of ${SIZE_MULTIPLE} (e.g. 65536, 256Ki, 4Mi) but received '${text}'`);
  }
  return elements;
}
