// Whole reads and writes on a file descriptor, shared by the file formats. Node's readSync/writeSync may
// move fewer bytes than asked (and at most 2 GiB per call), so both loop in chunks.
import { readSync, writeSync } from 'node:fs';

const IO_CHUNK = 1 << 30;

/** Exactly `length` bytes at `position`; `fail` reports a file that ends early (it shrank while read). */
export function readExact(fd: number, position: number, length: number, fail: (message: string) => never): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, out, done, Math.min(IO_CHUNK, length - done), position + done);
    if (got <= 0) fail(`the file ended at byte ${position + done} while ${position + length} bytes were expected (changed while reading?)`);
    done += got;
  }
  return out;
}

export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}
