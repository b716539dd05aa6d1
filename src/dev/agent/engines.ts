/**
 * Engine registry and selection: the dev cluster takes an engine by flag, or by
 * default the best one whose probe passes on this machine (cuda, then criu, then sim).
 * The real `criu` and `cuda` engines are a later piece of work; until then they are
 * stand-ins whose probe explains that, so selection already behaves as it will.
 */
import type { SnapshotEngine } from './engine.js';
import { createSimEngine } from './sim-engine.js';

/** Engine names, best first. */
export const ENGINE_NAMES = ['cuda', 'criu', 'sim'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** True for a known engine name (flag parsing). */
export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

/** A fresh engine by name. */
export function createEngine(name: EngineName): SnapshotEngine {
  if (name === 'sim') return createSimEngine();
  return notImplemented(name);
}

function notImplemented(name: string): SnapshotEngine {
  const reason = `the ${name} engine is not implemented yet in snapshotctl's dev agent; use the sim engine`;
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
export async function chooseEngine(wanted?: EngineName, candidates: SnapshotEngine[] = ENGINE_NAMES.map(createEngine)): Promise<EngineChoice> {
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
