import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createReporter } from './reporter.js';

function fakeTerminal(columns: number): NodeJS.WritableStream & { text: string } {
  const stream = Object.assign(new PassThrough(), {
    isTTY: true,
    columns,
    text: '',
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
  });
  stream.on('data', (chunk: Buffer) => (stream.text += chunk.toString()));
  return stream;
}

describe('progress reporter', () => {
  it('prints plain timestamped lines when not interactive, deduplicating phases', async () => {
    let out = '';
    let t = 1000;
    const r = await createReporter({ write: (s) => (out += s), interactive: false, color: false, quiet: false, now: () => t });
    r.phase('creating job.batch/w-checkpoint');
    r.phase('creating job.batch/w-checkpoint');
    t = 2500;
    r.phase('waiting for pod w to become Ready on node gpu-3');
    r.warn('watch is forbidden; polling every 2s');
    r.stop();
    expect(out).toBe(
      '[  0.0s] creating job.batch/w-checkpoint\n[  1.5s] waiting for pod w to become Ready on node gpu-3\nwarning: watch is forbidden; polling every 2s\n',
    );
  });

  it('--quiet keeps warnings only', async () => {
    let out = '';
    const r = await createReporter({ write: (s) => (out += s), interactive: true, color: false, quiet: true, now: () => 0 });
    r.phase('x');
    r.info('deleted job');
    r.warn('careful');
    expect(out).toBe('warning: careful\n');
  });

  it('falls back to plain lines on a terminal that reports no width (a spinner would loop forever)', async () => {
    let out = '';
    const stream = fakeTerminal(0);
    const r = await createReporter({ write: (s) => (out += s), interactive: true, color: false, quiet: false, now: () => 0, stream });
    r.phase('looking for the snapshot agent');
    r.stop();
    expect(out).toBe('[  0.0s] looking for the snapshot agent\n');
    expect(stream.text).toBe('');
  });

  it('shows a spinner with the phase and elapsed time on a real terminal', async () => {
    const stream = fakeTerminal(80);
    let t = 0;
    const r = await createReporter({ write: () => {}, interactive: true, color: false, quiet: false, now: () => t, stream });
    t = 1200;
    r.phase('waiting for pod w to become Ready on node gpu-3');
    r.stop();
    expect(stream.text).toContain('waiting for pod w to become Ready on node gpu-3 1.2s');
  });
});
