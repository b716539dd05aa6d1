/**
 * Input that could hang the built binary: a FIFO given as a file (opening one waits
 * for a writer, in a thread Ctrl-C cannot stop) is refused at once, also inside a
 * `validate` directory; stdin that never ends gives way to Ctrl-C (exit 130).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../src/testing/temp-dir.js';
import { BIN, ROOT, WORKER_MANIFEST, runCli } from './harness.js';

const OFFLINE = ['--dry-run', '--pvc', 'snapshot-pvc', '--base-path', '/checkpoints', '--checkpoint-id', 'ck-1'];

describe('non-regular files', () => {
  it('checkpoint --manifest FIFO: exit 2 at once, saying what it is and to use stdin', async () => {
    const fifo = join(tempDir('snapshotctl-fifo-'), 'worker.yaml');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['checkpoint', '--manifest', fifo, ...OFFLINE], { timeoutMs: 10_000, kubeconfig: false });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: cannot read manifest "${fifo}": it is a FIFO (named pipe), not a regular file; pipe it to stdin and pass - instead\n`);
    expect(r.ms).toBeLessThan(5_000);
  });

  it('validate DIR with a FIFO among the manifests: SNAP007 for it, the others judged', async () => {
    const dir = tempDir('snapshotctl-fifo-');
    execFileSync('mkfifo', [join(dir, 'a-fifo.yaml')]);
    writeFileSync(join(dir, 'b-service.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\n');
    const r = await runCli(['validate', '-o', 'json', dir], { timeoutMs: 10_000, kubeconfig: false });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { files: Array<{ file: string; findings: Array<{ rule: string; message: string }>; skipped: unknown[] }> };
    expect(doc.files.map((f) => f.file)).toEqual([join(dir, 'a-fifo.yaml'), join(dir, 'b-service.yaml')]);
    expect(doc.files[0]!.findings).toEqual([expect.objectContaining({ rule: 'SNAP007', message: expect.stringContaining('it is a FIFO (named pipe), not a regular file') })]);
    expect(doc.files[1]!.skipped).toHaveLength(1);
  });

  it('a regular file and - on stdin still work', async () => {
    const r = await runCli(['checkpoint', '--manifest', '-', ...OFFLINE, '-o', 'name'], { stdin: execFileSync('cat', [WORKER_MANIFEST], { encoding: 'utf8' }), kubeconfig: false });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('job.batch/vllm-worker-checkpoint\n');
  });
});

describe('stdin that never ends', () => {
  it.each([
    ['checkpoint --manifest -', ['checkpoint', '--manifest', '-', ...OFFLINE]],
    ['validate -', ['validate', '-']],
  ])('%s: Ctrl-C exits 130 with one sentence', async (_name, args) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: 'true', NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    // stdin stays open and empty: the binary waits for it until it is told to stop.
    await new Promise((r) => setTimeout(r, 800));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('close', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    child.stdin.destroy();
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('error: interrupted while reading the manifest from stdin; nothing was sent\n');
  });
});
