// `kquant info`: what backend() reports, as text or JSON.
import { cpus } from 'node:os';
import { backend, type BackendInfo } from '../index.js';
import { kquantVersion } from './package-version.js';
import { formatBytes } from './units.js';

// CUDA encodes versions as 1000 * major + 10 * minor.
function cudaVersion(code: number): string {
  return code > 0 ? `${Math.floor(code / 1000)}.${(code % 1000) / 10}` : 'none';
}

const yesNo = (flag: boolean): string => (flag ? 'yes' : 'no');

export function formatInfo(info: BackendInfo): string {
  const cpu = cpus();
  const lines = [
    `kquant ${kquantVersion()} (node ${process.version}, ${process.platform} ${process.arch})`,
    `CPU       ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} logical cores`,
    `features  ${Object.entries(info.cpu).map(([name, flag]) => `${name} ${yesNo(flag)}`).join(', ')}`,
    `SIMD      ${info.simd} (best this CPU supports: ${info.simdBest})`,
  ];
  if (info.simdNote) lines.push(`          ${info.simdNote}`);
  lines.push(`threads   ${info.threads}`);
  const { cuda } = info;
  lines.push(`CUDA      compiled ${yesNo(cuda.compiled)}, available ${yesNo(cuda.available)}${cuda.reason ? ` (${cuda.reason})` : ''}`);
  if (cuda.compiled) lines.push(`          runtime ${cudaVersion(cuda.runtimeVersion)}, driver ${cudaVersion(cuda.driverVersion)}`);
  for (const d of cuda.devices) {
    lines.push(`device ${d.index}  ${d.name}, compute capability ${d.computeCapability}, ${formatBytes(d.totalMemory)}, ${d.multiprocessors} SMs`);
  }
  return lines.join('\n') + '\n';
}

export function infoCommand(json: boolean): void {
  const info = backend();
  process.stdout.write(json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
}
