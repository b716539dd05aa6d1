/** Running criu and turning its failures into errors that carry CRIU's own log lines. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { CriuCommand } from './locate.js';

/** Log lines quoted in a CriuError. */
export const LOG_TAIL_LINES = 20;

/** A failed criu run: the message ends with the last lines of CRIU's log. */
export class CriuError extends Error {
  constructor(
    message: string,
    readonly logTail: string[],
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'CriuError';
  }
}

/** The last `n` non-empty lines of a log file ([] when unreadable). */
export async function logTail(path: string, n = LOG_TAIL_LINES): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '').slice(-n);
  } catch {
    return [];
  }
}

/** Hints for CRIU errors we know the cause of. */
export function hintFor(lines: string[]): string | undefined {
  const text = lines.join('\n');
  if (/Can't get 1:(16|34) opt: Operation not supported/.test(text)) {
    return 'this kernel (>= 6.16) refuses SO_PASSCRED/SO_PASSSEC on TCP sockets and this CRIU predates the fix (criu#2719); use the criu that scripts/setup-criu.sh sets up, which preloads a compatibility shim';
  }
  if (/io_uring/.test(text)) {
    return 'the worker holds an io_uring instance, which CRIU cannot dump; run it under the block-iouring seccomp profile (pod securityContext.seccompProfile Localhost profiles/block-iouring.json; the dev cluster applies it with the no-io-uring launcher from scripts/setup-criu.sh)';
  }
  if (/File exists|pid .* in use|clone\(\) with set_tid=.*failed|Can't fork for \d+: File exists/i.test(text)) {
    return 'without a PID namespace CRIU restores the original PIDs; a process that holds one of them must end first';
  }
  if (/nsenter: failed to execute criu|can't execute 'criu'/.test(text)) {
    return 'the container\'s image has no criu on its PATH; checkpoint and restore pods need the placeholder image (the runtime image plus criu)';
  }
  if (/cannot join cgroup/.test(text)) {
    return 'the agent could not move into the placeholder\'s cgroups; run it privileged with hostPID (manifests/snapshotctl-agent/daemonset.yaml)';
  }
  if (/can only be restored in a new pid namespace|Can't dump.*init/i.test(text)) {
    return 'the worker is its container\'s PID 1; start it under an init (/bin/worker-init -- <command>)';
  }
  if (/Can't open file .*: No such file or directory|No such file or directory.*cwd/i.test(text)) {
    return 'a file or directory the worker had open is gone on this node';
  }
  return undefined;
}

export interface RunCriuOptions {
  /** criu's log file (absolute), quoted on failure. */
  logPath: string;
  /** Extra file descriptors for criu, as fd 3, 4, ... (for --inherit-fd). */
  fds?: number[];
  signal?: AbortSignal;
  /**
   * Resolve as soon as this returns true (polled every 20 ms) instead of waiting for
   * criu to exit; criu keeps running (a restore without --restore-detached stays as
   * the restored tree's parent). The returned `exited` settles when it ends.
   */
  until?: () => Promise<boolean>;
  /** criu's environment (default ours): e.g. SNAPSHOTCTL_CRIU_READ_THREADS for the patched CRIU. */
  env?: NodeJS.ProcessEnv;
}

export interface CriuRun {
  /** Settles when criu exits (for `until` runs: later, when the restored tree has ended). */
  exited: Promise<number | null>;
  pid: number;
}

/**
 * Run `criu <args>`. Rejects with a CriuError (CRIU's last log lines, plus its stderr)
 * when it exits non-zero, or when it exits before `until` holds.
 */
export async function runCriu(cmd: CriuCommand, args: string[], opts: RunCriuOptions): Promise<CriuRun> {
  const [file, ...pre] = cmd.argv;
  const child = spawn(file, [...pre, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])],
    // Its own session: the restored tree must not share our process group.
    detached: true,
    env: opts.env ?? process.env,
  });
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : null)));
  });
  exited.catch(() => {});
  const onAbort = (): void => void child.kill('SIGKILL');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const fail = async (code: number | null, why: string): Promise<never> => {
    const tail = await logTail(opts.logPath);
    const out = stderr.trim().split('\n').filter((l) => l && !/kdat cache/.test(l)).slice(-5);
    // criu's stderr too: what failed before criu ran (nsenter, a cgroup join) is only there.
    const hint = hintFor([...tail, ...out]);
    const lines = tail.length > 0 ? tail : out;
    throw new CriuError(
      `criu ${args[0] ?? ''} ${why}${hint ? ` (${hint})` : ''}; ${tail.length > 0 ? `last lines of ${opts.logPath}` : 'its output (no log was written)'}:\n${lines.join('\n')}`,
      lines,
      code,
    );
  };
  try {
    if (opts.until) {
      const until = opts.until;
      let done = false;
      const early = exited.then((code) => (done ? undefined : code));
      for (;;) {
        const raced = await Promise.race([early, new Promise<'tick'>((r) => setTimeout(() => r('tick'), 20))]);
        if (raced !== 'tick') return await fail(raced ?? null, `failed (exit ${String(raced)})`);
        if (opts.signal?.aborted) return await fail(null, 'aborted');
        if (await until()) {
          done = true;
          // Handed over: from here the restored tree (and the criu that parents it) is
          // the container runtime's to stop, not the operation's abort signal.
          opts.signal?.removeEventListener('abort', onAbort);
          return { exited, pid: child.pid ?? 0 };
        }
      }
    }
    const code = await exited.catch((err: Error) => fail(null, `could not start: ${err.message}`));
    if (code !== 0) return await fail(code, opts.signal?.aborted ? 'aborted' : `failed (exit ${String(code)})`);
    return { exited, pid: child.pid ?? 0 };
  } finally {
    if (!opts.until) opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** `criu --version` → "4.1.1", or throws. */
export async function criuVersion(cmd: CriuCommand): Promise<string> {
  const { out, code } = await capture(cmd, ['--version']);
  const m = /Version:\s*([0-9.]+)/.exec(out);
  if (code !== 0 || !m?.[1]) throw new Error(`\`criu --version\` failed (${cmd.source}): ${out.trim() || `exit ${String(code)}`}`);
  return m[1];
}

/** Run criu to completion and capture its output (for `--version` and `check`). */
export function capture(cmd: CriuCommand, args: string[]): Promise<{ out: string; code: number | null }> {
  const [file, ...pre] = cmd.argv;
  return new Promise((resolve) => {
    const child = spawn(file, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.on('error', (err) => resolve({ out: err.message, code: null }));
    child.on('close', (code) => resolve({ out, code }));
  });
}
