/**
 * vitest globalSetup: the end-to-end tests spawn `bin/snapshotctl.js`, which runs
 * `dist/`. Build it once per run when it is missing or older than a source file, so
 * the tests never judge yesterday's binary (and a fresh dist costs only a stat walk).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/** Newest mtime (ms) of the files under `dir` whose name passes `keep`; 0 when none. */
function newestMtime(dir: string, keep: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when `dist/` lacks the entry point or a non-test source is newer than every output. */
export function isDistStale(root = ROOT): boolean {
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'cli', 'main.js'))) return true;
  const src = newestMtime(join(root, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'));
  const out = newestMtime(dist, (n) => n.endsWith('.js'));
  return src > out;
}

export default function setup(): void {
  if (!isDistStale()) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`e2e setup: \`tsc -p tsconfig.build.json\` failed, so bin/snapshotctl.js cannot be tested:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
