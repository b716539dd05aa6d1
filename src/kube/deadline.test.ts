import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deadlineSignal } from './deadline.js';

const built = join(dirname(fileURLToPath(import.meta.url)), '../../dist/kube/deadline.js');

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError at the deadline', async () => {
    const signal = deadlineSignal(new AbortController().signal, 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('still fires after garbage collections (where AbortSignal.any over AbortSignal.timeout does not, on Node 20)', () => {
    const script = `
      const { deadlineSignal } = await import(${JSON.stringify(pathToFileURL(built).href)});
      const ours = deadlineSignal(new AbortController().signal, 50);
      gc(); setTimeout(gc, 20); setTimeout(gc, 40);
      setTimeout(() => console.log(JSON.stringify({ aborted: ours.aborted, reason: ours.reason?.name })), 300);`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).toEqual({ aborted: true, reason: 'TimeoutError' });
  });

  it('aborts with the parent\'s reason when the parent aborts first', () => {
    const parent = new AbortController();
    const signal = deadlineSignal(parent.signal, 60_000);
    parent.abort(new Error('Ctrl-C'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('Ctrl-C');
  });

  it('is aborted at once when the parent already is', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    expect(deadlineSignal(parent.signal, 60_000).reason).toEqual(new Error('gone'));
  });
});
