/**
 * Container runtimes of the simulated kubelet.
 * - `sim`: no process. The command is read for a few well-known shapes (`sleep N`,
 *   `sleep infinity`, `true`, `false`, `sh -c "exit N"`); anything else runs until
 *   signalled. `signal('SIGUSR1')` ends it with exit 0, SIGKILL/SIGTERM with 137/143.
 * - `process`: `command` + `args` run as a real child process (own process group) in a
 *   fresh temp working directory with the pod's env; stdout/stderr go to `<dir>.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a container ended. */
export interface ContainerExit {
  exitCode: number;
  /** Signal name when killed by one. */
  signal: string | null;
  reason: 'Completed' | 'Error' | 'OOMKilled' | 'ContainerCannotRun';
}

/** The per-container handle other code (snapshot agent, CRIU engine, tests) uses. */
export interface ContainerHandle {
  readonly runtime: 'sim' | 'process';
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  readonly name: string;
  readonly nodeName: string;
  /** `containerd://<64 hex>` as in `status.containerStatuses[].containerID`. */
  readonly containerID: string;
  /** Main process id (`process` runtime only). */
  readonly pid: number | undefined;
  /** The container's working directory (`process` runtime only). */
  readonly workDir: string | undefined;
  /** Still running? */
  readonly running: boolean;
  /** Resolves when the container ends. */
  readonly exited: Promise<ContainerExit>;
  /** Send a signal; false when the container is no longer running. */
  signal(sig: NodeJS.Signals): boolean;
}

/** What a runtime needs to start one container. */
export interface ContainerLaunch {
  namespace: string;
  podName: string;
  podUid: string;
  nodeName: string;
  spec: { name: string; command?: string[]; args?: string[]; env?: { name: string; value?: string }[]; workingDir?: string };
  /** Resolved env (pod env with fieldRefs filled). */
  env: Record<string, string>;
  /** Launcher the command runs through (process runtime), e.g. one applying the pod's seccomp profile. */
  launcher?: string[];
}

function newContainerId(): string {
  return `containerd://${randomBytes(32).toString('hex')}`;
}

function signalNumber(sig: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[sig] ?? 9;
}

/**
 * A container that does one quick job in-process and exits, for the dev cluster's
 * helper pods (file tools, the preflight probe). Subclasses implement `work()`, which
 * returns the exit code.
 */
export abstract class OneShotContainer implements ContainerHandle {
  readonly runtime = 'sim' as const;
  readonly containerID = newContainerId();
  readonly pid = undefined;
  readonly workDir = undefined;
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  readonly name: string;
  readonly nodeName: string;
  readonly exited: Promise<ContainerExit>;
  private done = false;

  constructor(l: ContainerLaunch) {
    this.namespace = l.namespace;
    this.podName = l.podName;
    this.podUid = l.podUid;
    this.name = l.spec.name;
    this.nodeName = l.nodeName;
    this.exited = (async () => {
      // Let the kubelet report Running first, as a real short-lived container does
      // (and let the subclass finish constructing before its work starts).
      await new Promise((r) => setTimeout(r, 20));
      const code = await this.work();
      this.done = true;
      return { exitCode: code, signal: null, reason: code === 0 ? 'Completed' : 'Error' };
    })();
  }

  /** The job; resolves to the exit code. */
  protected abstract work(): Promise<number>;

  get running(): boolean {
    return !this.done;
  }

  signal(_sig: NodeJS.Signals): boolean {
    return !this.done;
  }
}

/** A container with no process behind it. */
export class SimContainer implements ContainerHandle {
  readonly runtime = 'sim' as const;
  readonly containerID = newContainerId();
  readonly pid = undefined;
  readonly workDir = undefined;
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  readonly name: string;
  readonly nodeName: string;
  readonly exited: Promise<ContainerExit>;
  private resolveExit!: (e: ContainerExit) => void;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(l: ContainerLaunch) {
    this.namespace = l.namespace;
    this.podName = l.podName;
    this.podUid = l.podUid;
    this.name = l.spec.name;
    this.nodeName = l.nodeName;
    this.exited = new Promise((r) => (this.resolveExit = r));
    const plan = simPlan([...(l.spec.command ?? []), ...(l.spec.args ?? [])]);
    if (plan !== undefined) this.timer = setTimeout(() => this.finish(plan.code, null), plan.afterMs);
  }

  get running(): boolean {
    return !this.done;
  }

  private finish(code: number, signal: string | null): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.resolveExit({ exitCode: code, signal, reason: code === 0 ? 'Completed' : 'Error' });
  }

  /** SIGUSR1 → exit 0 (the worker's "checkpointed, exit" path); other fatal signals → 128+n. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.done) return false;
    if (sig === 'SIGUSR1') this.finish(0, null);
    else if (sig === 'SIGCONT' || sig === 'SIGSTOP' || sig === 'SIGWINCH' || sig === 'SIGCHLD') return true;
    else this.finish(128 + signalNumber(sig), sig);
    return true;
  }

  /** Stop without a status (kubelet shutdown). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/** When does a simulated command end? undefined = never (until signalled). */
export function simPlan(argv: string[]): { code: number; afterMs: number } | undefined {
  let words = argv;
  if ((words[0] === 'sh' || words[0] === 'bash' || words[0] === '/bin/sh' || words[0] === '/bin/bash') && words[1] === '-c' && words[2] !== undefined) {
    words = words[2].trim().split(/\s+/);
  }
  const [cmd, arg] = words;
  if (cmd === undefined) return undefined;
  const base = cmd.split('/').pop();
  if (base === 'true') return { code: 0, afterMs: 10 };
  if (base === 'false') return { code: 1, afterMs: 10 };
  if (base === 'exit') return { code: Number(arg ?? 0) || 0, afterMs: 10 };
  if (base === 'sleep' && arg !== undefined && arg !== 'infinity' && words.length === 2) {
    const n = Number(arg.replace(/s$/, ''));
    if (Number.isFinite(n)) return { code: 0, afterMs: n * 1000 };
  }
  return undefined;
}

/** A container backed by a real local child process. */
export class ProcessContainer implements ContainerHandle {
  readonly runtime = 'process' as const;
  readonly containerID = newContainerId();
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  readonly name: string;
  readonly nodeName: string;
  readonly workDir: string;
  readonly logPath: string;
  readonly exited: Promise<ContainerExit>;
  readonly env: Record<string, string>;
  private readonly child: ChildProcess | undefined;
  private done = false;
  private readonly baseDir: string;
  private settle!: (e: ContainerExit) => void;
  /** Main process adopted by `adopt()` (a restored worker), replacing `child`. */
  private adopted: number | undefined;
  /** Last fatal signal sent to an adopted process: its exit status is not ours to read. */
  private adoptedKill: NodeJS.Signals | undefined;

  constructor(l: ContainerLaunch, baseDir?: string) {
    this.namespace = l.namespace;
    this.podName = l.podName;
    this.podUid = l.podUid;
    this.name = l.spec.name;
    this.nodeName = l.nodeName;
    this.baseDir = mkdtempSync(join(baseDir ?? tmpdir(), `snapshotctl-${l.podName}-${l.spec.name}-`));
    this.workDir = join(this.baseDir, 'work');
    this.logPath = join(this.baseDir, 'container.log');
    mkdirSync(this.workDir);
    this.env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: this.workDir, HOSTNAME: l.podName, ...l.env };
    let resolveExit!: (e: ContainerExit) => void;
    this.exited = new Promise((r) => (resolveExit = r));
    this.settle = resolveExit;
    const command = [...(l.spec.command ?? []), ...(l.spec.args ?? [])];
    const argv = command.length > 0 ? [...(l.launcher ?? []), ...command] : command;
    if (argv.length === 0) {
      // No command means the image's entrypoint, which we cannot run: behave like sim.
      this.child = undefined;
      this.pendingResolve = resolveExit;
      return;
    }
    const fd = openSync(this.logPath, 'a');
    try {
      this.child = spawn(argv[0]!, argv.slice(1), { cwd: this.workDir, env: this.env, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.child.on('error', () => {
      if (this.done) return;
      this.done = true;
      resolveExit({ exitCode: 128, signal: null, reason: 'ContainerCannotRun' });
    });
    this.child.on('exit', (code, signal) => {
      if (this.done) return;
      this.done = true;
      const exitCode = code ?? 128 + signalNumber((signal ?? 'SIGKILL') as NodeJS.Signals);
      resolveExit({ exitCode, signal: signal ?? null, reason: exitCode === 0 ? 'Completed' : 'Error' });
    });
  }

  private pendingResolve: ((e: ContainerExit) => void) | undefined;

  get pid(): number | undefined {
    return this.adopted ?? this.child?.pid;
  }

  /**
   * Make an already running process the container's main process: the snapshot
   * engine's restored worker replaces the placeholder's `sleep infinity`. The current
   * process is killed without ending the container; from now on signals go to `pid`
   * and the container ends when `exited` settles (the restored tree's parent, CRIU,
   * reaps it, so only its own exit is known: 0, or 128+n for a signal we sent).
   * Probes keep running in `workDir`.
   */
  adopt(pid: number, exited: Promise<unknown>): void {
    if (this.done) throw new Error(`container ${this.name} of pod ${this.podName} is not running`);
    const old = this.child;
    if (old) {
      old.removeAllListeners('exit');
      old.removeAllListeners('error');
      old.on('error', () => {});
      if (old.pid && old.exitCode === null && old.signalCode === null) {
        try {
          process.kill(-old.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    this.pendingResolve = undefined;
    this.adopted = pid;
    const finish = (): void => {
      if (this.done || this.adopted !== pid) return;
      this.done = true;
      // The container ends with its parent's exit: nothing of the restored tree may
      // outlive it (a criu killed under a still running worker would orphan it).
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone with it.
      }
      const sig = this.adoptedKill;
      this.settle(sig ? { exitCode: 128 + signalNumber(sig), signal: sig, reason: 'Error' } : { exitCode: 0, signal: null, reason: 'Completed' });
    };
    exited.then(finish, finish);
  }

  get running(): boolean {
    return !this.done;
  }

  /** Signal the main process (SIGKILL goes to the whole process group). */
  signal(sig: NodeJS.Signals): boolean {
    if (this.done) return false;
    if (this.adopted !== undefined) {
      try {
        // SIGKILL takes the restored process group, as it does for a started one.
        process.kill(sig === 'SIGKILL' ? -this.adopted : this.adopted, sig);
        if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') this.adoptedKill = sig;
        return true;
      } catch {
        return false;
      }
    }
    if (this.child === undefined) {
      if (sig === 'SIGCONT' || sig === 'SIGSTOP') return true;
      this.done = true;
      this.pendingResolve?.({ exitCode: sig === 'SIGUSR1' ? 0 : 128 + signalNumber(sig), signal: sig === 'SIGUSR1' ? null : sig, reason: sig === 'SIGUSR1' ? 'Completed' : 'Error' });
      return true;
    }
    try {
      if (sig === 'SIGKILL' && this.child.pid) process.kill(-this.child.pid, sig);
      else this.child.kill(sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Kill the process group (if alive) and remove the working directory. */
  dispose(): void {
    if (this.adopted !== undefined && !this.done) {
      try {
        process.kill(-this.adopted, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (this.child?.pid && !this.done && this.adopted === undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.child?.removeAllListeners('exit');
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** Run an exec probe in the container's directory; resolves true on exit 0 within the timeout. */
export function runExecProbe(c: ProcessContainer, command: string[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (command.length === 0) return resolve(false);
    const p = spawn(command[0]!, command.slice(1), { cwd: c.workDir, env: c.env, stdio: 'ignore' });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      resolve(false);
    }, timeoutMs);
    p.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve(code === 0);
    });
  });
}
