// A GGUF writer whose tensor data is produced one tensor at a time (quantized while the file is written), so
// a model never has to sit in memory whole. The header needs every tensor's type and size up front; names,
// types and shapes give them (encodeGGUFHeader), and each producer is called only when its turn comes.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { describe, fail } from '../validate.js';
import { encodeGGUFHeader, type GGUFHeaderTensor, type GGUFWriteValue } from './gguf.js';

export interface GGUFStreamTensor extends GGUFHeaderTensor {
  /** The tensor's bytes in ggml's layout for its type; called once, in file order. */
  data(): Promise<Uint8Array> | Uint8Array;
}

export interface GGUFStreamInput {
  metadata?: Record<string, GGUFWriteValue>;
  tensors: readonly GGUFStreamTensor[];
  alignment?: number;
}

// Node writes at most 2 GiB per call.
const IO_CHUNK = 1 << 30;

async function writeAt(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(IO_CHUNK, bytes.length - done), position + done);
    done += bytesWritten;
  }
}

/**
 * Writes a GGUF v3 file (the layout of writeGGUF) calling each tensor's producer in turn; `onTensor` hears
 * of each tensor once written. Returns the bytes written. A producer's bytes must match its type and shape
 * (KQ_LENGTH otherwise); on any error the partial file is removed.
 */
export async function writeGGUFStream(path: string, input: GGUFStreamInput, onTensor?: (index: number, data: Uint8Array) => void): Promise<number> {
  if (typeof path !== 'string' || path.length === 0) fail('KQ_INVALID_ARGUMENT', `Expected a file path for path but received ${describe(path)}`);
  const plan = encodeGGUFHeader(input);
  const zeros = new Uint8Array(plan.alignment);
  const fh = await open(path, 'w');
  let ok = false;
  try {
    await writeAt(fh, plan.header, 0);
    let position = plan.header.length;
    for (const [i, tensor] of input.tensors.entries()) {
      const data = await tensor.data();
      if (!(data instanceof Uint8Array) || data.byteLength !== plan.tensorBytes[i]) {
        fail('KQ_LENGTH', `tensors[${i}] (${tensor.name}) needs ${plan.tensorBytes[i]} bytes of ${String(tensor.type)} but its producer gave ${describe(data)}${data instanceof Uint8Array ? ` of ${data.byteLength} bytes` : ''}`);
      }
      await writeAt(fh, data, position);
      await writeAt(fh, zeros.subarray(0, plan.paddedBytes[i]! - data.byteLength), position + data.byteLength);
      position += plan.paddedBytes[i]!;
      onTensor?.(i, data);
    }
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(path).catch(() => undefined);
  }
  return plan.total;
}
