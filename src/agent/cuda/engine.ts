/**
 * The `cuda` engine: the `criu` engine plus NVIDIA's CUDA checkpoint, in the order
 * the driver needs.
 *
 * Checkpoint: CUDA lock (new CUDA calls block) and checkpoint (device memory copied
 * into the process's host memory, the GPU released) of every CUDA process of the
 * tree, then `criu dump` (which now sees plain host memory), then CUDA restore and
 * unlock of the source so it keeps running (CRIU dumps with --leave-running; the
 * agent then signals the worker). GPU memory use and GPU uuids go to `cuda.json`.
 *
 * Restore: before anything, the target GPUs must have enough free memory (a CUDA
 * restore that runs out of memory can leave the process stuck for good); then `criu
 * restore`, then the tree is continued (the driver's restore thread inside the
 * process must run), then CUDA restore, with the checkpoint's GPUs remapped to the
 * target's by uuid, and unlock. The helper process is started at the beginning, so
 * its start-up and `cuInit` overlap CRIU's work.
 *
 * Restore speed: CRIU's memory restore is one thread copying the image into fresh
 * anonymous memory; with 4 KiB pages the page faults dominate. Transparent huge pages
 * (`enabled=always`) cut a 16 GiB restore on an H100 from 16.3 s to 10.9 s
 * (bench/gpu); the probe reports when the node does not have them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pod } from '../../protocol/types.js';
import { readArtifactJson } from '../artifact.js';
import { createCriuEngine, type CriuEngineOptions } from '../criu/engine.js';
import type { ProcessTree } from '../criu/proc.js';
import type { CheckpointContext, CheckpointResult, RestoreContext, RestoreResult, SnapshotEngine } from '../engine.js';
import { spawnHelper, type CudaHelper, type GpuInfo, type ProcessStep } from './helper.js';

/** What the engine records beside CRIU's images. */
export const CUDA_META_FILE = 'cuda.json';
/** Default headroom over the checkpoint's GPU memory that a restore asks for. */
export const DEFAULT_MARGIN_BYTES = 512 * 2 ** 20;
const THP_ENABLED = '/sys/kernel/mm/transparent_hugepage/enabled';

export interface CudaMeta {
  engine: string;
  driverVersion?: number;
  /** GPU uuids the tree used, in order (the restore maps them onto the target's). */
  gpus: string[];
  /** GPU memory the tree held, per uuid, just before the checkpoint. */
  usedBytes: Record<string, number>;
  /** The processes that had CUDA state. */
  pids: number[];
  suspendSeconds: number;
}

export interface CudaEngineOptions extends Omit<CriuEngineOptions, 'phases' | 'name'> {
  /** Starts the CUDA helper (default: cuda_ckpt.py serve). */
  helper?: () => CudaHelper;
  /** Builds the wrapped CRIU engine (tests pass a fake). */
  criuEngine?: (opts: CriuEngineOptions) => SnapshotEngine;
  /**
   * The restore target's GPUs, as uuids in the container's order. Default: the
   * placeholder's NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES (uuids or indices),
   * else the checkpoint's own GPUs when this node has them, else GPUs 0..n-1.
   */
  targetGpus?: (ctx: RestoreContext, gpus: GpuInfo[]) => string[] | undefined;
  /** Free GPU memory a restore needs beyond the checkpoint's (default 512 MiB). */
  marginBytes?: number;
  /** Time limit for CUDA lock (ms, 0 = none). */
  lockTimeoutMs?: number;
  /** Reads the THP setting (tests). */
  readThp?: () => string | undefined;
}

interface OpState {
  helper: CudaHelper;
  started: number;
  usage?: Record<string, number>;
  suspended?: ProcessStep[];
  suspendSeconds?: number;
  resumeSourceSeconds?: number;
  meta?: CudaMeta;
  pairs?: Array<[string, string]>;
  target?: string[];
  need?: number;
  restoreSteps?: ProcessStep[];
  cudaRestoreSeconds?: number;
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}

/** `[always] madvise never` -> `always`. */
export function thpMode(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = /\[(\w+)\]/.exec(text);
  return m?.[1] ?? text.trim();
}

function defaultReadThp(): string | undefined {
  try {
    return readFileSync(THP_ENABLED, 'utf8');
  } catch {
    return undefined;
  }
}

/** The placeholder's visible-devices list (uuids or indices), when it names one. */
export function visibleDevices(pod: Pod): string[] | undefined {
  const c = pod.spec?.containers?.[0] as { env?: Array<{ name: string; value?: string }> } | undefined;
  return visibleList((n) => c?.env?.find((e) => e.name === n)?.value);
}

function visibleList(get: (name: string) => string | undefined): string[] | undefined {
  for (const name of ['NVIDIA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES']) {
    const v = get(name)?.trim();
    if (v && v !== 'all' && v !== 'void' && v !== 'none') return v.split(',').map((s) => s.trim()).filter(Boolean);
  }
  return undefined;
}

/** NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES of a process's environment (/proc/<pid>/environ). */
export function visibleDevicesOfEnviron(environ: string | undefined): string[] | undefined {
  if (environ === undefined) return undefined;
  const env = new Map<string, string>();
  for (const kv of environ.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return visibleList((n) => env.get(n));
}

/**
 * The GPUs whose device nodes (`/dev/nvidia<minor>`) a container has, in minor order,
 * when the device plugin passed no environment (CDI). Undefined when it has none.
 */
export function gpusOfDeviceNodes(devEntries: string[] | undefined, gpus: GpuInfo[]): string[] | undefined {
  const minors = (devEntries ?? []).map((e) => /^nvidia(\d+)$/.exec(e)?.[1]).filter((m): m is string => m !== undefined).map(Number).sort((a, b) => a - b);
  if (minors.length === 0) return undefined;
  return minors.map((m) => {
    const g = gpus.find((x) => (x.minor ?? x.index) === m);
    if (!g) throw new Error(`the placeholder has /dev/nvidia${m}, and this node has no GPU with minor number ${m}`);
    return g.uuid;
  });
}

/**
 * The GPUs a placeholder container was given. Its device nodes decide, since the runtime
 * puts them there and an unprivileged pod cannot; its environment, which the pod's own
 * spec can set, only orders them, and counts alone only where the container has no GPU
 * device node to look at.
 */
export function placeholderGpus(devEntries: string[] | undefined, environ: string | undefined, gpus: GpuInfo[]): string[] | undefined {
  const fromDev = gpusOfDeviceNodes(devEntries, gpus);
  const named = visibleDevicesOfEnviron(environ);
  if (!fromDev) return named;
  const fromEnv = named?.map((n) => gpus.find((g) => g.uuid === n || String(g.index) === n)?.uuid);
  return fromEnv && fromEnv.every((u): u is string => u !== undefined && fromDev.includes(u)) ? fromEnv : fromDev;
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function listQuietly(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/**
 * Which GPUs of this node the restore goes to, as uuids, one per GPU of the checkpoint.
 * Throws when the node cannot provide them.
 */
export function resolveTargets(meta: CudaMeta, gpus: GpuInfo[], wanted: string[] | undefined): string[] {
  const byUuid = new Map(gpus.map((g) => [g.uuid, g]));
  const byIndex = new Map(gpus.map((g) => [String(g.index), g]));
  let target: string[];
  if (wanted && wanted.length > 0) {
    target = wanted.map((w) => {
      const g = byUuid.get(w) ?? byIndex.get(w);
      if (!g) throw new Error(`the restore target names GPU ${w}, which this node does not have (GPUs: ${gpus.map((x) => `${x.index}=${x.uuid}`).join(', ') || 'none'})`);
      return g.uuid;
    });
  } else if (meta.gpus.every((u) => byUuid.has(u))) {
    target = [...meta.gpus];
  } else {
    target = gpus.slice(0, meta.gpus.length).map((g) => g.uuid);
  }
  if (target.length < meta.gpus.length) {
    throw new Error(`the checkpoint used ${meta.gpus.length} GPU(s) and the restore target has ${target.length}`);
  }
  return target.slice(0, meta.gpus.length);
}

/**
 * Refuse (with the figures) unless each target GPU has the memory its source GPU held
 * plus the margin free.
 */
export function checkFreeMemory(meta: CudaMeta, target: string[], gpus: GpuInfo[], marginBytes: number): number {
  const byUuid = new Map(gpus.map((g) => [g.uuid, g]));
  let most = 0;
  meta.gpus.forEach((src, i) => {
    const dst = byUuid.get(target[i]!);
    const need = (meta.usedBytes[src] ?? 0) + marginBytes;
    most = Math.max(most, need);
    if (!dst) throw new Error(`GPU ${target[i]} is not on this node`);
    if (dst.freeBytes < need) {
      throw new Error(
        `GPU ${dst.index} (${dst.uuid}) has ${gib(dst.freeBytes)} free and the checkpoint needs ${gib(need)} (${gib(meta.usedBytes[src] ?? 0)} + ${gib(marginBytes)} headroom): not restoring, since a CUDA restore that runs out of GPU memory can leave the process stuck for good`,
      );
    }
  });
  return most;
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}

/** Create the `cuda` engine. */
export function createCudaEngine(opts: CudaEngineOptions = {}): SnapshotEngine {
  const name = 'cuda';
  const startHelper = opts.helper ?? (() => spawnHelper(opts.env ? { env: opts.env } : {}));
  const margin = opts.marginBytes ?? DEFAULT_MARGIN_BYTES;
  const readThp = opts.readThp ?? defaultReadThp;
  const states = new WeakMap<object, OpState>();
  const runtime = opts.runtime;
  // On a real node the placeholder container's own view decides (placeholderGpus).
  const containerGpus = async (ctx: RestoreContext, gpus: GpuInfo[]): Promise<string[] | undefined> => {
    if (!runtime?.containerInit) return undefined;
    const init = await runtime.containerInit(ctx.placeholder);
    if (init === undefined) return undefined;
    return placeholderGpus(listQuietly(`/proc/${init}/root/dev`), readQuietly(`/proc/${init}/environ`), gpus);
  };
  const stateOf = (ctx: object): OpState => {
    const s = states.get(ctx);
    if (!s) throw new Error('cuda engine: no operation state (internal error)');
    return s;
  };

  const { helper: _h, criuEngine: _c, targetGpus: _t, marginBytes: _m, lockTimeoutMs: _l, readThp: _r, ...criuOpts } = opts;
  const criu = (opts.criuEngine ?? createCriuEngine)({
    ...criuOpts,
    name,
    phases: {
      async beforeDump(tree: ProcessTree, ctx: CheckpointContext) {
        const s = stateOf(ctx);
        await s.helper.ready();
        s.usage = await s.helper.usage(tree.pids);
        const t0 = performance.now();
        s.suspended = await s.helper.suspend(tree.pids, opts.lockTimeoutMs ?? 0);
        s.suspendSeconds = (performance.now() - t0) / 1000;
        const cuda = s.suspended.filter((p) => !p.skipped);
        ctx.log(
          cuda.length > 0
            ? `${name}: CUDA lock + checkpoint of ${cuda.map((p) => p.pid).join(', ')} in ${s.suspendSeconds.toFixed(2)} s (${gib(Object.values(s.usage).reduce((a, b) => a + b, 0))} of GPU memory to host)`
            : `${name}: no process of the tree uses CUDA; dumping it with CRIU alone`,
        );
      },
      async afterDump(_tree: ProcessTree, ctx: CheckpointContext, ok: boolean) {
        const s = stateOf(ctx);
        const cuda = (s.suspended ?? []).filter((p) => !p.skipped).map((p) => p.pid);
        if (cuda.length === 0) return;
        // The source keeps running (--leave-running, or a failed dump): give it its GPU back.
        const t0 = performance.now();
        try {
          await s.helper.resume(cuda);
          s.resumeSourceSeconds = (performance.now() - t0) / 1000;
        } catch (err) {
          const msg = `${name}: could not give the source worker its GPU back (${(err as Error).message}); its CUDA calls stay blocked`;
          if (ok) throw new Error(msg);
          ctx.log(msg);
        }
      },
      async afterRestore(tree: ProcessTree, ctx: RestoreContext, pidOf) {
        const s = stateOf(ctx);
        const meta = s.meta!;
        if (meta.pids.length === 0) return;
        // The checkpoint's PIDs as the restored processes have them here (in a placeholder
        // container: other host PIDs).
        const pids = meta.pids.map((pid) => {
          const now = pidOf(pid);
          if (now === undefined) throw new Error(`${name}: the CUDA process that was pid ${pid} at the checkpoint is not in the restored tree`);
          return now;
        });
        // The driver's restore thread inside the process must run for the CUDA restore.
        for (const pid of tree.pids) {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // gone: the restore below says so
          }
        }
        const t0 = performance.now();
        s.restoreSteps = await s.helper.resume(pids, { pairs: s.pairs ?? [], needBytes: s.need ?? 0, gpus: s.target ?? [] });
        s.cudaRestoreSeconds = (performance.now() - t0) / 1000;
        // Each of them had CUDA state at the checkpoint; one the driver does not see as
        // checkpointed now would run without its GPU memory.
        const lost = s.restoreSteps.filter((p) => p.skipped);
        if (lost.length > 0) {
          throw new Error(`${name}: the driver has no checkpointed CUDA state for ${lost.map((p) => `pid ${p.pid} (${p.why ?? 'skipped'})`).join(', ')} after the CRIU restore; the restored worker would run without its GPU memory`);
        }
        ctx.log(`${name}: CUDA restore + unlock of ${pids.join(', ')} in ${s.cudaRestoreSeconds.toFixed(2)} s${s.pairs?.length ? ` (GPUs remapped: ${s.pairs.map(([a, b]) => `${a} -> ${b}`).join(', ')})` : ''}`);
      },
    },
  });

  return {
    name,
    simulated: false,

    async probe() {
      const c = await criu.probe();
      if (!c.ok) return { ok: false, reason: `CRIU: ${c.reason ?? 'does not work here'}` };
      const helper = startHelper();
      try {
        await helper.ready();
        const p = await helper.probe();
        if (p.gpus.length === 0) return { ok: false, reason: 'the NVIDIA driver sees no GPU on this machine' };
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: `no usable NVIDIA GPU or driver with CUDA checkpoint support (>= 570) here: ${(err as Error).message}` };
      } finally {
        helper.close();
      }
    },

    async checkpoint(ctx: CheckpointContext): Promise<CheckpointResult> {
      const s: OpState = { helper: startHelper(), started: performance.now() };
      states.set(ctx, s);
      try {
        const r = await criu.checkpoint(ctx);
        const suspended = (s.suspended ?? []).filter((p) => !p.skipped);
        const meta: CudaMeta = {
          engine: name,
          gpus: Object.keys(s.usage ?? {}).sort(),
          usedBytes: s.usage ?? {},
          pids: suspended.map((p) => p.pid),
          suspendSeconds: round(s.suspendSeconds ?? 0),
        };
        try {
          meta.driverVersion = (await s.helper.probe()).driverVersion;
        } catch {
          // recorded when known
        }
        await writeFile(join(ctx.artifactDir, CUDA_META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
        return {
          ...r,
          details: {
            ...(r.details ?? {}),
            cuda: {
              pids: meta.pids,
              gpus: meta.gpus,
              gpuBytes: Object.values(meta.usedBytes).reduce((a, b) => a + b, 0),
              lockSeconds: round(suspended.reduce((a, p) => a + (p.lockSeconds ?? 0), 0)),
              checkpointSeconds: round(suspended.reduce((a, p) => a + (p.checkpointSeconds ?? 0), 0)),
              resumeSourceSeconds: round(s.resumeSourceSeconds ?? 0),
            },
          },
        };
      } finally {
        s.helper.close();
        states.delete(ctx);
      }
    },

    async restore(ctx: RestoreContext): Promise<RestoreResult> {
      let meta: CudaMeta;
      try {
        meta = (await readArtifactJson(ctx.artifactDir, CUDA_META_FILE)) as CudaMeta;
      } catch (err) {
        throw new Error(`the artifact has no readable ${CUDA_META_FILE} (${(err as Error).message}); it was not written by the cuda engine`);
      }
      // Started now: Python's start-up and cuInit overlap the checks and CRIU's restore.
      const s: OpState = { helper: startHelper(), started: performance.now(), meta };
      states.set(ctx, s);
      try {
        if (meta.pids.length > 0) {
          await s.helper.ready();
          const gpus = await s.helper.gpus();
          const wanted = opts.targetGpus?.(ctx, gpus) ?? (await containerGpus(ctx, gpus)) ?? visibleDevices(ctx.pod);
          s.target = resolveTargets(meta, gpus, wanted);
          s.need = checkFreeMemory(meta, s.target, gpus, margin);
          s.pairs = meta.gpus.map((u, i): [string, string] => [u, s.target![i]!]).filter(([a, b]) => a !== b);
          const thp = thpMode(readThp());
          if (thp !== undefined && thp !== 'always') {
            ctx.log(`${name}: transparent huge pages are '${thp}' on this node; restores of large workers take longer than with 'always' (16 GiB on an H100: 5.3 s against 4.2 s; see bench/gpu/README.md)`);
          }
        }
        const r = await criu.restore(ctx);
        const gpuBytes = Object.values(meta.usedBytes).reduce((a, b) => a + b, 0);
        if (gpuBytes >= 2 ** 30 && r.details?.['pageReadThreads'] === undefined) {
          ctx.log(
            `${name}: CRIU copied the ${gib(gpuBytes)} of host memory back with one thread; the CRIU that \`scripts/setup-criu.sh --parallel-restore\` builds does it with several (16 GiB on an H100: 5.3 s against 14.4 s)`,
          );
        }
        return {
          ...r,
          details: {
            ...(r.details ?? {}),
            cuda: {
              pids: meta.pids,
              gpus: s.target ?? [],
              remapped: s.pairs ?? [],
              restoreSeconds: round(s.cudaRestoreSeconds ?? 0),
              gpuBytes,
            },
          },
        };
      } finally {
        s.helper.close();
        states.delete(ctx);
      }
    },
  };
}
