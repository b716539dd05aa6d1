/** Process identities (PID + command line + start time) and the directory marker. */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/temp-dir.js';
import { isRecordedProcess, isStillThere, MARKER_FILE, ownIdentity, processIdentity, readMarker, removeOwnedDir, writeMarker } from './ownership.js';

const children: Array<{ kill: (s: NodeJS.Signals) => boolean }> = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('process identity', () => {
  it('this process: its own record is trusted', () => {
    const me = ownIdentity();
    expect(me.pid).toBe(process.pid);
    expect(me.cmdline[0]).toBe(process.execPath);
    expect(me.startTime).toMatch(/^\d+$/);
    expect(isRecordedProcess(me)).toBe(true);
    expect(isStillThere(me)).toBe(true);
  });

  it.each([
    ['another start time (the PID was reused)', { startTime: '1' }],
    ['another command line', { cmdline: ['/bin/sleep', '60'] }],
    ['no command line or start time recorded (an older record, or one written by hand)', { cmdline: undefined, startTime: undefined }],
    ['a PID no process has', { pid: 2 ** 22 + 12345 }],
  ])('not trusted: %s', (_n, change) => {
    expect(isRecordedProcess({ ...ownIdentity(), ...change })).toBe(false);
  });

  it('reads the start time of a process whose name holds spaces and parentheses', async () => {
    const dir = tempDir('snapshotctl-ownership-');
    const odd = join(dir, 'a) (b c');
    copyFileSync('/bin/sleep', odd);
    const child = spawn(odd, ['30'], { stdio: 'ignore' });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    const id = processIdentity(child.pid!);
    expect(id?.cmdline).toEqual([odd, '30']);
    expect(id?.startTime).toMatch(/^\d+$/);
    expect(Number(id?.startTime)).toBeGreaterThanOrEqual(Number(ownIdentity().startTime));
  });
});

describe('directory marker', () => {
  it('removeOwnedDir removes a marked directory and leaves any other as it was', async () => {
    const base = tempDir('snapshotctl-ownership-');
    const ours = join(base, 'ours');
    const theirs = join(base, 'theirs');
    mkdirSync(ours);
    mkdirSync(theirs);
    await writeMarker(ours, 'dev-state');
    writeFileSync(join(theirs, 'file'), 'x');
    writeFileSync(join(theirs, MARKER_FILE), '{"not":"ours"}');
    expect((await readMarker(ours))?.owner?.pid).toBe(process.pid);
    expect(await readMarker(theirs)).toBeUndefined();
    expect(await removeOwnedDir(theirs)).toBe(false);
    expect(existsSync(join(theirs, 'file'))).toBe(true);
    expect(await removeOwnedDir(ours)).toBe(true);
    expect(existsSync(ours)).toBe(false);
  });
});
