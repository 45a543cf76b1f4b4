// Size of the last-level CPU cache, so the bandwidth buffer can be made large enough to miss it.
// Node has no API for this; Linux exposes it in sysfs, elsewhere it is unknown.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CACHE_DIR = '/sys/devices/system/cpu/cpu0/cache';

// sysfs writes sizes as "266240K" (or "2M"); the suffix is binary.
function parseCacheSize(text: string): number | undefined {
  const match = /^(\d+)([KMG]?)$/.exec(text.trim());
  if (!match) return undefined;
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2] as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * scale;
}

/** Bytes of the highest-level cache of CPU 0, or undefined where it cannot be read. */
export function lastLevelCacheBytes(): number | undefined {
  let best: { level: number; bytes: number } | undefined;
  try {
    for (const entry of readdirSync(CACHE_DIR)) {
      if (!entry.startsWith('index')) continue;
      const level = Number(readFileSync(join(CACHE_DIR, entry, 'level'), 'utf8'));
      const bytes = parseCacheSize(readFileSync(join(CACHE_DIR, entry, 'size'), 'utf8'));
      if (bytes !== undefined && (!best || level > best.level)) best = { level, bytes };
    }
  } catch {
    return undefined;
  }
  return best?.bytes;
}
