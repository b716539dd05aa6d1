/**
 * Reading input files and stdin for the CLI (the `readFile`/`readStdin` seams): never
 * more than MAX_INPUT_BYTES, refused from the file's size before its text is read.
 */
import { open } from 'node:fs/promises';
import { MAX_INPUT_BYTES } from '../protocol/yaml-input.js';

/** Read in pieces of this size, so a file that grows while read stays bounded. */
const CHUNK = 64 * 1024;

function tooLarge(path: string, bytes: number): Error {
  return Object.assign(new Error(`${path} is larger than ${MAX_INPUT_BYTES} bytes`), { code: 'EFBIG', bytes });
}

/**
 * The file's text (UTF-8). Throws an `EFBIG` error (with `bytes`) for a file over
 * `maxBytes`, before reading it; other errors are Node's (`ENOENT`, `EACCES`, `EISDIR`).
 */
export async function readInputFile(path: string, opts: { maxBytes?: number } = {}): Promise<string> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    if (size > max) throw tooLarge(path, size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(CHUNK), 0, CHUNK, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > max) throw tooLarge(path, total);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await file.close();
  }
}

/** All of `stream` as UTF-8, stopping with an `EFBIG` error once it passes `maxBytes`. */
export async function readBoundedStream(stream: AsyncIterable<Buffer | string>, opts: { maxBytes?: number } = {}): Promise<string> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > max) throw tooLarge('stdin', total);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
