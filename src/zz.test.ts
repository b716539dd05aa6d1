import { expect, it } from 'vitest';
import { runCli } from './cli/testing/run-cli.js';
const OFFLINE = ['--dry-run', '--pvc', 'p', '--base-path', '/c', '--checkpoint-id', 'ck-1'];
it('x', async () => {
  const text = '['.repeat(10000) + ']'.repeat(10000);
  for (const args of [['checkpoint', '--manifest', 'deep.yaml', ...OFFLINE], ['validate', 'deep.yaml'], ['hash', '--file', 'deep.yaml']]) {
    console.log('start', args[0]);
    const r = await runCli(args, { files: { 'deep.yaml': text } });
    console.log('ran', args[0]);
    const out = r.stdout + r.stderr;
    expect(r.code, args[0]).toBe(2);
    console.log('a');
    expect(out, args[0]).toMatch(/nested more than 100 levels deep; a Kubernetes object is far shallower/);
    console.log('b');
  }
});
