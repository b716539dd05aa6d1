/**
 * Which CRIU the engine picks, and what it reports about the parallel page restore
 * (scripts/criu-parallel-restore.patch). Pure: fake roots in a temp dir.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pageReads } from './engine.js';
import { defaultCriuRoot, locateCriu, ROOT_CRIU, ROOT_LOADER, ROOT_PARALLEL_MARKER, setupCriuRoots } from './locate.js';

let cache: string;
beforeEach(async () => {
  cache = await mkdtemp(join(tmpdir(), 'snapshotctl-locate-'));
});
afterEach(async () => {
  await rm(cache, { recursive: true, force: true });
});

async function fakeRoot(root: string, parallel: boolean): Promise<void> {
  for (const f of [ROOT_CRIU, ROOT_LOADER, ...(parallel ? [ROOT_PARALLEL_MARKER] : [])]) {
    await mkdir(join(root, f, '..'), { recursive: true });
    await writeFile(join(root, f), '');
  }
}

describe('the CRIU the engine runs', () => {
  it("prefers the root with the parallel page restore patch, else Debian's", async () => {
    const env = { XDG_CACHE_HOME: cache, PATH: '' };
    const roots = setupCriuRoots(env);
    await fakeRoot(roots.debian, false);
    expect(defaultCriuRoot(env)).toBe(roots.debian);
    expect(locateCriu(env)).toMatchObject({ source: `${roots.debian} (trixie root)` });

    await fakeRoot(roots.parallel, true);
    expect(defaultCriuRoot(env)).toBe(roots.parallel);
    const found = locateCriu(env);
    expect(found).toMatchObject({ source: `${roots.parallel} (trixie root, parallel page restore)` });
    expect('argv' in found && found.argv.at(-1)).toBe(join(roots.parallel, ROOT_CRIU));
  });

  it('SNAPSHOTCTL_CRIU_ROOT wins over both', async () => {
    const env = { XDG_CACHE_HOME: cache, PATH: '', SNAPSHOTCTL_CRIU_ROOT: join(cache, 'mine') };
    await fakeRoot(setupCriuRoots(env).parallel, true);
    await fakeRoot(join(cache, 'mine'), false);
    expect(locateCriu(env)).toMatchObject({ source: `${join(cache, 'mine')} (trixie root)` });
  });
});

describe('pageReads (what the patched restorer logged)', () => {
  it('sums the bytes of every restored process and keeps the most threads used', () => {
    const log = [
      '(00.191521) pie: 23756: Read 314580992 bytes of pages in 20 chunks with 8 threads',
      '(00.300000) pie: 23756: Preadv 0x420000:4096... (3 iovs)',
      "(00.400000) pie: 23751: Warn  (criu/pie/restorer.c:1693): Can't start a page-reading helper (-11); going on with 6",
      '(00.607382) pie: 23751: Read 1073750016 bytes of pages in 66 chunks with 6 threads',
    ].join('\n');
    expect(pageReads(log)).toEqual({ threads: 8, bytes: 314580992 + 1073750016, helpersNotStarted: 1 });
  });

  it("is undefined for Debian's CRIU, which reads with one preadv loop", () => {
    expect(pageReads('(01.506711) pie: 923: Preadv 0x7fddbe4bc000:-1246474240... (413 iovs)\n(11.7) Restore finished successfully.')).toBeUndefined();
  });
});
