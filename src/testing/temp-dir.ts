/**
 * For tests: a fresh directory under the OS temp dir, removed after the test file that
 * made it has run (whether its tests passed or not), so nothing is left in /tmp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made = new Set<string>();

// Vitest loads this module once per test file: the hook belongs to the file that imports it.
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}
