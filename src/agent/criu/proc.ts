/** Reading process facts from /proc: the tree CRIU will dump, and who holds a PID. */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The fields of /proc/<pid>/stat we use. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, T, t, Z, X, ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
}

/** Parse /proc/<pid>/stat; undefined when the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself hold spaces or parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    ttyNr: Number(rest[4]),
  };
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** A process tree: its processes (root first) and every thread ID in it. */
export interface ProcessTree {
  root: number;
  pids: number[];
  tids: number[];
}

function numbers(dir: string, min = 1): number[] {
  try {
    return readdirSync(dir).map(Number).filter((n) => Number.isInteger(n) && n >= min);
  } catch {
    return [];
  }
}

/** The tree under `root` (children through /proc/<pid>/task/<tid>/children). */
export function processTree(root: number): ProcessTree {
  const pids: number[] = [];
  const tids: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (pids.includes(pid)) continue;
    pids.push(pid);
    for (const tid of numbers(`/proc/${pid}/task`)) {
      tids.push(tid);
      try {
        const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (kids) queue.push(...kids.split(/\s+/).map(Number));
      } catch {
        // Thread or process gone meanwhile.
      }
    }
  }
  return { root, pids, tids };
}

/** An open file of a process, as /proc shows it. */
export interface OpenFile {
  pid: number;
  /** File descriptor number, or 'cwd'. */
  fd: number | 'cwd';
  path: string;
  /** Open flags (octal in fdinfo); 0 for cwd. */
  flags: number;
}

/** cwd and every fd of each process that points at a path (not sockets, pipes, anon inodes). */
export function openPaths(pids: number[]): OpenFile[] {
  const out: OpenFile[] = [];
  for (const pid of pids) {
    try {
      out.push({ pid, fd: 'cwd', path: readlinkSync(`/proc/${pid}/cwd`), flags: 0 });
    } catch {
      // Gone.
    }
    for (const fd of numbers(`/proc/${pid}/fd`, 0)) {
      let path: string;
      try {
        path = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!path.startsWith('/')) continue;
      let flags = 0;
      try {
        const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (m?.[1]) flags = parseInt(m[1], 8);
      } catch {
        // Gone.
      }
      if (!out.some((o) => o.pid === pid && o.fd === fd)) out.push({ pid, fd, path, flags });
    }
  }
  return out;
}

/** Who holds a PID now: "pid 123 (node, state S)", or undefined when free. */
export function describePid(pid: number): string | undefined {
  if (!existsSync(`/proc/${pid}`)) return undefined;
  const st = readStat(pid);
  return st ? `pid ${pid} (${st.comm}, state ${st.state}${st.state === 'Z' ? ': a zombie nobody reaped' : ''})` : `pid ${pid}`;
}
