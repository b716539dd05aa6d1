/** The CLI's file and stdin readers: regular files only, bounded, abortable. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Interrupted } from '../errors.js';
import { tempDir } from '../testing/temp-dir.js';
import { readBoundedStream, readInputFile } from './input-file.js';

describe('readInputFile', () => {
  it('reads a regular file', async () => {
    const path = join(tempDir('snapshotctl-input-'), 'w.yaml');
    writeFileSync(path, 'kind: Pod\n');
    await expect(readInputFile(path)).resolves.toBe('kind: Pod\n');
  });

  it('refuses a FIFO at once, though nobody ever writes to it', async () => {
    const path = join(tempDir('snapshotctl-input-'), 'fifo.yaml');
    execFileSync('mkfifo', [path]);
    await expect(readInputFile(path)).rejects.toMatchObject({ code: 'ENOTREG', message: 'it is a FIFO (named pipe), not a regular file; pipe it to stdin and pass - instead' });
  });

  it('refuses a character device and a directory', async () => {
    await expect(readInputFile('/dev/zero')).rejects.toMatchObject({ code: 'ENOTREG', message: expect.stringMatching(/^it is a character device/) });
    await expect(readInputFile(tempDir('snapshotctl-input-'))).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('readBoundedStream', () => {
  it('resolves with everything once the stream ends', async () => {
    const s = new PassThrough();
    const text = readBoundedStream(s);
    s.write('a: ');
    s.end('1\n');
    await expect(text).resolves.toBe('a: 1\n');
  });

  it('an abort (Ctrl-C) while nobody writes ends the read with Interrupted', async () => {
    const s = new PassThrough();
    const ctl = new AbortController();
    const text = readBoundedStream(s, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 20);
    await expect(text).rejects.toBeInstanceOf(Interrupted);
    await expect(text).rejects.toThrow('interrupted while reading the manifest from stdin; nothing was sent');
  });
});
