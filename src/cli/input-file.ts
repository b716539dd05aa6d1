/**
 * Reading input files and stdin for the CLI (the `readFile`/`readStdin` seams):
 * - only regular files: a FIFO, socket or device named as a file could block forever
 *   (opening a FIFO waits for a writer, in a thread Ctrl-C cannot stop); it is opened
 *   without blocking, looked at, and refused. Stdin (`-`) stays the way to pipe input;
 * - never more than MAX_INPUT_BYTES, refused from the file's size before its text is read;
 * - abortable: Ctrl-C while waiting on stdin ends the run (exit 130).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Interrupted } from '../errors.js';
import { MAX_INPUT_BYTES } from '../protocol/input-limits.js';

/** Read in pieces of this size, so a file that grows while read stays bounded. */
const CHUNK = 64 * 1024;

function tooLarge(path: string, bytes: number): Error {
  return Object.assign(new Error(`${path} is larger than ${MAX_INPUT_BYTES} bytes`), { code: 'EFBIG', bytes });
}

/** What a non-regular file is, for the message. */
function fileKind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * The file's text (UTF-8). Throws, before reading anything: `ENOTREG` for a FIFO, socket
 * or device (message: what it is), `EISDIR` for a directory, `EFBIG` (with `bytes`) for
 * a file over `maxBytes`; and Node's own errors (`ENOENT`, `EACCES`). `signal` aborts
 * between chunks with Interrupted.
 */
export async function readInputFile(path: string, opts: { maxBytes?: number; signal?: AbortSignal } = {}): Promise<string> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; it has
  // no effect on a regular file.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await file.stat();
    if (st.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    if (!st.isFile()) {
      const kind = fileKind(st);
      throw Object.assign(new Error(`it is ${kind}, not a regular file; pipe it to stdin and pass - instead`), { code: 'ENOTREG', kind });
    }
    if (st.size > max) throw tooLarge(path, st.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      if (opts.signal?.aborted) throw new Interrupted(`interrupted while reading ${path}; nothing was sent`);
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

/**
 * All of `stream` as UTF-8. Rejects with an `EFBIG` error once it passes `maxBytes`, and
 * with Interrupted when `signal` aborts (Ctrl-C while nobody writes to stdin); either
 * way it stops reading.
 */
export function readBoundedStream(stream: NodeJS.ReadableStream, opts: { maxBytes?: number; signal?: AbortSignal } = {}): Promise<string> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (settle: () => void) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      opts.signal?.removeEventListener('abort', onAbort);
      stream.pause();
      // Release stdin's handle, so the process can exit without more input.
      (stream as { destroy?: () => void }).destroy?.();
      settle();
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += b.length;
      if (total > max) stop(() => reject(tooLarge('stdin', total)));
      else chunks.push(b);
    };
    const onEnd = () => stop(() => resolve(Buffer.concat(chunks).toString('utf8')));
    const onError = (err: Error) => stop(() => reject(err));
    const onAbort = () => stop(() => reject(new Interrupted('interrupted while reading the manifest from stdin; nothing was sent')));
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
