// Human-readable numbers for the CLI's tables: binary units for sizes, decimal GB for rates (as
// bandwidth is usually quoted).

const BINARY = ['', 'Ki', 'Mi', 'Gi', 'Ti'] as const;

// Three significant digits, without trailing zeros, and no exponent for 100..1023.
function compact(value: number): string {
  return value >= 100 ? String(Math.round(value)) : String(Number(value.toPrecision(3)));
}

function binary(value: number): { scaled: number; prefix: string } {
  let i = 0;
  while (value >= 1024 && i < BINARY.length - 1) {
    value /= 1024;
    i++;
  }
  return { scaled: value, prefix: BINARY[i]! };
}

/** 1310720 -> "1.25 MiB". */
export function formatBytes(bytes: number): string {
  const { scaled, prefix } = binary(bytes);
  return `${compact(scaled)} ${prefix}B`;
}

/** 262144 -> "256 Ki"; counts that are not whole binary multiples stay exact. */
export function formatCount(count: number): string {
  const { scaled, prefix } = binary(count);
  return Number.isInteger(scaled) ? `${scaled}${prefix ? ` ${prefix}` : ''}` : String(count);
}

/** Milliseconds -> "12.3 µs", "4.56 ms", "1.2 s". */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${compact(ms * 1000)} µs`;
  if (ms < 1000) return `${compact(ms)} ms`;
  return `${compact(ms / 1000)} s`;
}

/** A ratio or rate with two decimals below 10 and one above ("0.52", "12.3"). */
export function formatFixed(value: number): string {
  return value.toFixed(value < 10 ? 2 : 1);
}
