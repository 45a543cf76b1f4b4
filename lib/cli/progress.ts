// Benchmark progress on stderr: a redrawn bar on a terminal, one line per finished step otherwise
// (logs and CI keep every line, and carriage returns would garble them).
import type { BenchStep, ProgressEvent } from '../../bench/run.js';
import { formatBytes, formatCount, formatFixed } from './units.js';

const BAR_WIDTH = 24;

function describeStep(step: BenchStep): string {
  if (step.kind === 'layer') return step.label;
  return step.kind === 'bandwidth'
    ? `copy bandwidth, ${formatBytes(step.bufferBytes)} buffers`
    : `${step.op.id} ${step.variant} ${formatCount(step.elements)}`;
}

export interface Progress {
  update(event: ProgressEvent): void;
  finish(): void;
}

export function createProgress(stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) {
    return {
      update({ done, total, step, GBps }) {
        if (GBps !== undefined) stream.write(`[${done}/${total}] ${describeStep(step)}: ${formatFixed(GBps)} GB/s\n`);
      },
      finish() {},
    };
  }
  return {
    // Drawn when a step starts, so the bar names what is running now.
    update({ done, total, step, GBps }) {
      if (GBps !== undefined) return;
      const filled = Math.round((done / total) * BAR_WIDTH);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} ${describeStep(step)}`;
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(0, (stream.columns || 80) - 1))}`);
    },
    finish() {
      stream.write('\r\x1b[2K');
    },
  };
}
