/**
 * Engine registry and selection: the dev cluster takes an engine by flag, or by
 * default the best one whose probe passes on this machine (cuda, then criu, then sim).
 * `criu` is real (see criu/engine.ts); `cuda` wraps it with NVIDIA's CUDA checkpoint
 * (see cuda/engine.ts) and its probe says why it cannot run where there is no GPU.
 */
import { createCriuEngine } from './criu/engine.js';
import { createCudaEngine } from './cuda/engine.js';
import type { NodeRuntime, SnapshotEngine } from './engine.js';
import { createSimEngine } from './sim-engine.js';

/** Engine names, best first. */
export const ENGINE_NAMES = ['cuda', 'criu', 'sim'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** True for a known engine name (flag parsing). */
export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

/** What real engines need from the node they run on. */
export interface EngineDeps {
  /** The node's container runtime; the criu engine restores through it. */
  runtime?: NodeRuntime;
  /**
   * Environment the real engines read the machine's tools from (SNAPSHOTCTL_CRIU, PATH,
   * SNAPSHOTCTL_PYTHON; default process.env): tests pin what "this machine" has.
   */
  env?: NodeJS.ProcessEnv;
}

/** A fresh engine by name. */
export function createEngine(name: EngineName, deps: EngineDeps = {}): SnapshotEngine {
  const real = { ...(deps.runtime ? { runtime: deps.runtime } : {}), ...(deps.env ? { env: deps.env } : {}) };
  if (name === 'sim') return createSimEngine(deps.runtime ? { runtime: deps.runtime } : {});
  if (name === 'criu') return createCriuEngine(real);
  if (name === 'cuda') return createCudaEngine(real);
  return unavailableEngine(name, `the ${name} engine is not implemented in snapshotctl's dev agent; use the sim engine`);
}

/** An engine that cannot run, and says why (probe, checkpoint and restore alike). */
export function unavailableEngine(name: string, reason: string): SnapshotEngine {
  return {
    name,
    simulated: false,
    probe: async () => ({ ok: false, reason }),
    checkpoint: async () => {
      throw new Error(reason);
    },
    restore: async () => {
      throw new Error(reason);
    },
  };
}

/** The chosen engine and why each better one was passed over. */
export interface EngineChoice {
  engine: SnapshotEngine;
  skipped: Array<{ name: string; reason: string }>;
}

/**
 * With `wanted`: that engine, or an error naming why its probe failed. Without: the
 * first of `candidates` (default: every engine, best first) whose probe passes.
 */
export async function chooseEngine(wanted?: EngineName, candidates: SnapshotEngine[] = ENGINE_NAMES.map((n) => createEngine(n))): Promise<EngineChoice> {
  const skipped: EngineChoice['skipped'] = [];
  for (const engine of candidates) {
    if (wanted !== undefined && engine.name !== wanted) continue;
    const probe = await engine.probe().catch((err: unknown) => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }));
    if (probe.ok) return { engine, skipped };
    skipped.push({ name: engine.name, reason: probe.reason ?? 'probe failed' });
    if (wanted !== undefined) break;
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(wanted !== undefined ? `engine ${wanted} cannot run here (${why || 'unknown engine'})` : `no snapshot engine can run here (${why})`);
}
