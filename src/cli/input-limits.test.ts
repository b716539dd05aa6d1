/**
 * Input is bounded before it is parsed: more than 3 MiB is refused from its size, deep
 * nesting and alias bombs get a sentence (not a stack overflow or an out-of-memory).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES } from '../protocol/yaml-input.js';
import { tempDir } from '../testing/temp-dir.js';
import { readBoundedStream, readInputFile } from './input-file.js';
import { runCli } from './testing/run-cli.js';

const LIMIT = /is larger than 3 MiB \(3145728 bytes\), the most snapshotctl reads: about what the API server accepts for one object/;
const BIG = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\n  annotations:\n    pad: "${'x'.repeat(MAX_INPUT_BYTES)}"\n`;
const OFFLINE = ['--dry-run', '--pvc', 'p', '--base-path', '/c', '--checkpoint-id', 'ck-1'];
const LAUGHS = `a: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`;

describe('size', () => {
  it('checkpoint refuses a manifest over 3 MiB in one sentence naming it and the limit (exit 2, nothing sent)', async () => {
    const r = await runCli(['checkpoint', '--manifest', 'big.yaml', ...OFFLINE], { files: { 'big.yaml': BIG } });
    expect(r.code).toBe(2);
    expect(r.kubeCalls).toBe(0);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^error: manifest "big\\.yaml" ${LIMIT.source}$`));
  });

  it('the same on stdin, for restore --manifest, and for hash --file', async () => {
    const s = await runCli(['restore', '--manifest', '-', ...OFFLINE], { stdin: BIG });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(new RegExp(`^error: the manifest on stdin ${LIMIT.source}`, 'm'));
    const h = await runCli(['hash', '--file', 'big.yaml'], { files: { 'big.yaml': BIG } });
    expect(h.code).toBe(2);
    expect(h.stderr).toMatch(LIMIT);
  });

  it('validate reports it as SNAP007 naming the file, and still judges the others', async () => {
    const r = await runCli(['validate', '-o', 'json', 'big.yaml', 'ok.yaml'], { files: { 'big.yaml': BIG, 'ok.yaml': 'kind: Service\n' } });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { files: Array<{ file: string; findings: Array<{ rule: string; message: string }> }> };
    expect(doc.files[0]!.findings).toEqual([expect.objectContaining({ rule: 'SNAP007', message: expect.stringMatching(LIMIT) })]);
    expect(doc.files[1]!.findings.map((f) => f.rule)).toContain('SNAP002');
  });

  it('the CLI readers stop at the limit: a file is refused from its size, stdin once it passes it', async () => {
    const dir = tempDir('snapshotctl-limits-');
    const path = join(dir, 'big.yaml');
    writeFileSync(path, BIG);
    await expect(readInputFile(path)).rejects.toMatchObject({ code: 'EFBIG' });
    writeFileSync(path, 'a: 1\n');
    await expect(readInputFile(path)).resolves.toBe('a: 1\n');
    let served = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        served += 1;
        yield Buffer.alloc(1024 * 1024, 'a');
      }
    }
    await expect(readBoundedStream(Readable.from(endless()))).rejects.toMatchObject({ code: 'EFBIG' });
    // It stopped reading: the stream read ahead a little at most, never endlessly.
    expect(served).toBeLessThan(32);
  });
});

describe('nesting and aliases', () => {
  // The texts are built inside the test: vitest formats it.each rows, and huge ones cost it dearly.
  it.each([
    ['10,000 nested [', () => `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
    ['200,000 nested block sequences', () => `${'- '.repeat(200_000)}x\n`],
    ['150 nested JSON objects', () => `${'{"a":'.repeat(150)}1${'}'.repeat(150)}`],
  ])('%s: exit 2 with the depth limit, no stack overflow', async (_name, build) => {
    const text = build();
    for (const args of [['checkpoint', '--manifest', 'deep.yaml', ...OFFLINE], ['validate', 'deep.yaml'], ['hash', '--file', 'deep.yaml']]) {
      const r = await runCli(args, { files: { 'deep.yaml': text } });
      const out = r.stdout + r.stderr;
      expect(r.code, args[0]).toBe(2);
      expect(out, args[0]).toMatch(/nested more than 100 levels deep; a Kubernetes object is far shallower/);
      expect(out, args[0]).not.toMatch(/Maximum call stack|unexpected failure/);
    }
  });

  it('an alias bomb is refused, not expanded', async () => {
    const r = await runCli(['checkpoint', '--manifest', 'l.yaml', ...OFFLINE], { files: { 'l.yaml': LAUGHS } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SNAP007 .*alias/i);
  });
});
