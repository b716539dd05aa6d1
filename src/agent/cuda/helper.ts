/**
 * The CUDA side of the `cuda` engine: a small Python helper (`cuda_ckpt.py`, beside
 * this file in the source tree) that calls the CUDA driver's checkpoint API
 * (`cuCheckpointProcessLock/Checkpoint/Restore/Unlock`, driver >= 570; GPU remapping
 * with 580) and NVML, on another process by pid. It runs as a child speaking JSON
 * lines (`cuda_ckpt.py serve`), started early so that Python's start-up and `cuInit`
 * overlap the engine's other work (CRIU's restore, above all).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Env var: path of cuda_ckpt.py. */
export const HELPER_ENV = 'SNAPSHOTCTL_CUDA_HELPER';
/** Env var: the Python to run it with (default python3). */
export const PYTHON_ENV = 'SNAPSHOTCTL_PYTHON';

export interface GpuInfo {
  index: number;
  /** The N of /dev/nvidiaN (NVML's minor number), when the helper reports it. */
  minor?: number;
  uuid: string;
  name: string;
  freeBytes: number;
  totalBytes: number;
}

export interface ProcessStep {
  pid: number;
  /** The pid has no CUDA state (not a CUDA process, or nothing to do). */
  skipped?: boolean;
  why?: string;
  state?: string;
  lockSeconds?: number;
  checkpointSeconds?: number;
  restoreSeconds?: number;
  unlockSeconds?: number;
}

/** What the engine needs from the CUDA side (the real helper, or a fake in tests). */
export interface CudaHelper {
  /** Resolves once the helper has loaded the driver; rejects with the reason when it cannot. */
  ready(): Promise<void>;
  probe(): Promise<{ driverVersion: number; gpus: GpuInfo[] }>;
  gpus(): Promise<GpuInfo[]>;
  /** GPU memory the pids hold, summed per GPU uuid. */
  usage(pids: number[]): Promise<Record<string, number>>;
  /** Lock and checkpoint each CUDA process of `pids` (device memory to host, GPU released). */
  suspend(pids: number[], timeoutMs?: number): Promise<ProcessStep[]>;
  /**
   * Restore (with `pairs` remapping old GPU uuids to new ones) and unlock each
   * checkpointed process. With `needBytes`, first checks that each of `gpus` has that
   * much free and refuses otherwise.
   */
  resume(pids: number[], opts?: { pairs?: Array<[string, string]>; needBytes?: number; gpus?: string[] }): Promise<ProcessStep[]>;
  close(): void;
}

/** Where cuda_ckpt.py is: the env var, beside this module (src), or the package's src/ (dist). */
export function locateHelper(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env[HELPER_ENV];
  if (explicit) return existsSync(explicit) ? explicit : undefined;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'cuda_ckpt.py'), join(here, '../../../src/agent/cuda/cuda_ckpt.py')]) {
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A helper failure; `unsupported` when the machine has no driver or checkpoint API. */
export class CudaHelperError extends Error {
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(message);
    this.name = 'CudaHelperError';
  }
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export interface SpawnHelperOptions {
  /** argv that runs the helper in serve mode (tests pass a fake). Default: python3 cuda_ckpt.py serve. */
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Per-request limit (ms); 0 for none. A hung CUDA restore cannot be undone, so the default is generous. */
  timeoutMs?: number;
}

/** Start the helper (returns at once; `ready()` says when it can serve). */
export function spawnHelper(opts: SpawnHelperOptions = {}): CudaHelper {
  const env = opts.env ?? process.env;
  let argv = opts.argv;
  if (!argv) {
    const script = locateHelper(env);
    if (!script) return failedHelper(`cuda_ckpt.py not found (set ${HELPER_ENV})`);
    argv = [env[PYTHON_ENV] || 'python3', script, 'serve'];
  }
  const [file, ...args] = argv as [string, ...string[]];
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  } catch (err) {
    return failedHelper(`cannot start the CUDA helper (${file}): ${(err as Error).message}`);
  }
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let stderr = '';
  let dead: Error | undefined;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => {});
  const fail = (err: Error): void => {
    dead ??= err;
    readyReject(err);
    for (const p of pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4000)));
  child.on('error', (err) => fail(new CudaHelperError(`cannot start the CUDA helper (${file}): ${err.message}`, true)));
  child.on('close', (code) => fail(new CudaHelperError(`the CUDA helper exited (${String(code)})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (msg['id'] === 0 && msg['ready']) {
      if (msg['ok']) readyResolve();
      else readyReject(new CudaHelperError(String(msg['error'] ?? 'CUDA is not available'), Boolean(msg['unsupported'])));
      return;
    }
    const p = pending.get(Number(msg['id']));
    if (!p) return;
    pending.delete(Number(msg['id']));
    if (p.timer) clearTimeout(p.timer);
    if (msg['ok']) p.resolve(msg);
    else p.reject(new CudaHelperError(String(msg['error'] ?? 'CUDA helper request failed'), Boolean(msg['unsupported'])));
  });
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;

  const request = async (op: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    await ready;
    if (dead) throw dead;
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          pending.delete(id);
          reject(new CudaHelperError(`the CUDA helper did not answer ${op} within ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }
      pending.set(id, p);
      child.stdin!.write(`${JSON.stringify({ id, op, ...body })}\n`);
    });
  };

  return {
    ready: () => ready,
    probe: async () => {
      const r = await request('probe');
      return { driverVersion: Number(r['driverVersion']), gpus: r['gpus'] as GpuInfo[] };
    },
    gpus: async () => (await request('gpus'))['gpus'] as GpuInfo[],
    usage: async (pids) => (await request('usage', { pids }))['usedBytes'] as Record<string, number>,
    suspend: async (pids, timeout) => (await request('suspend', { pids, timeoutMs: timeout ?? 0 }))['results'] as ProcessStep[],
    resume: async (pids, o = {}) => (await request('resume', { pids, pairs: o.pairs ?? [], needBytes: o.needBytes ?? null, gpus: o.gpus ?? [] }))['results'] as ProcessStep[],
    close: () => {
      child.stdin?.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    },
  };
}

function failedHelper(reason: string): CudaHelper {
  const err = new CudaHelperError(reason, true);
  const no = async (): Promise<never> => {
    throw err;
  };
  return { ready: no, probe: no, gpus: no, usage: no, suspend: no, resume: no, close: () => {} };
}
