/**
 * What the dev cluster owns, and which process owns it. Two records:
 *
 * - A marker file in every directory the dev cluster creates (the `dev up` state
 *   directory, the temp dir of an in-process cluster). Cleanup removes a directory
 *   only when the marker is there, so `--state-dir ~` can never become `rm -rf ~`.
 * - A process identity (PID, command line, start time) wherever a PID is recorded. A
 *   PID alone is not enough: after a reboot or a kill -9 the number is reused by an
 *   unrelated process, which must be neither reported as the cluster nor signalled.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Name of the marker file (also what error messages point at). */
export const MARKER_FILE = '.snapshotctl-dev.json';

/** A process as the kernel describes it: enough to tell it from a later one with the same PID. */
export interface ProcessIdentity {
  pid: number;
  /** `/proc/PID/cmdline`, split at NUL. */
  cmdline: string[];
  /** Field 22 of `/proc/PID/stat`: clock ticks after boot when the process started. */
  startTime: string;
}

/** What the marker file holds. */
export interface DirMarker {
  createdBy: 'snapshotctl';
  /** `dev-state` (a `dev up` state directory) or `dev-temp` (an in-process cluster's temp dir). */
  purpose: 'dev-state' | 'dev-temp';
  createdAt: string;
  /** The process that created the directory and uses it (for `dev-state`: the `dev up` that is starting it). */
  owner?: ProcessIdentity;
}

/** True where `/proc` describes processes (Linux); elsewhere only liveness can be checked. */
function hasProcfs(): boolean {
  return existsSync('/proc/self/stat');
}

/** `pid`'s identity now, or undefined when there is no such process (or no /proc). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 is the command name in parentheses and may hold spaces or ')': count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTime = fields[22 - 3];
    if (startTime === undefined || !/^\d+$/.test(startTime)) return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (cmdline.at(-1) === '') cmdline.pop();
    return { pid, cmdline, startTime };
  } catch {
    return undefined;
  }
}

/** True when a process with this PID exists (any process: see `isRecordedProcess`). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Is the process recorded as `rec` still running, and still the same process? The
 * command line and start time must match what was recorded; a record without them
 * (written by an older snapshotctl, or by hand) is never trusted. Without /proc the
 * PID's liveness is all there is to go on.
 */
export function isRecordedProcess(rec: { pid: number; cmdline?: unknown; startTime?: unknown }): boolean {
  if (!hasProcfs()) return isAlive(rec.pid);
  const { cmdline, startTime } = rec;
  if (!Array.isArray(cmdline) || typeof startTime !== 'string') return false;
  const now = processIdentity(rec.pid);
  return now !== undefined && now.startTime === startTime && now.cmdline.length === cmdline.length && now.cmdline.every((arg, i) => arg === cmdline[i]);
}

/**
 * Does the recorded process still exist, running or exited but not yet reaped (a
 * zombie keeps its start time but loses its command line)? For waiting on a process
 * that `isRecordedProcess` accepted before it was signalled.
 */
export function isStillThere(rec: { pid: number; startTime?: unknown }): boolean {
  if (!hasProcfs()) return isAlive(rec.pid);
  return typeof rec.startTime === 'string' && processIdentity(rec.pid)?.startTime === rec.startTime;
}

/** This process's identity (PID only where there is no /proc). */
export function ownIdentity(): ProcessIdentity {
  return processIdentity(process.pid) ?? { pid: process.pid, cmdline: [], startTime: '' };
}

/** Write the marker into `dir`, recording this process as its owner. */
export async function writeMarker(dir: string, purpose: DirMarker['purpose']): Promise<void> {
  const marker: DirMarker = { createdBy: 'snapshotctl', purpose, createdAt: new Date().toISOString(), owner: ownIdentity() };
  await writeFile(join(dir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
}

/** The marker of `dir`, or undefined when it has none (or not one of ours). */
export async function readMarker(dir: string): Promise<DirMarker | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, MARKER_FILE), 'utf8')) as Partial<DirMarker> | null;
    if (!m || m.createdBy !== 'snapshotctl' || (m.purpose !== 'dev-state' && m.purpose !== 'dev-temp')) return undefined;
    return m as DirMarker;
  } catch {
    return undefined;
  }
}

/**
 * Remove `dir` if it carries the marker; true when it was removed. A directory without
 * the marker is left as it is: the caller decides whether that is an error.
 */
export async function removeOwnedDir(dir: string): Promise<boolean> {
  if (!(await readMarker(dir))) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}
