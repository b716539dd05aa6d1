/**
 * The simulated engine: records that a checkpoint happened without saving any process
 * state. It lets the whole flow (Job, verdict, artifact, restore) run on a laptop or in
 * CI with no CRIU and no GPU, and says so everywhere it leaves a trace.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readArtifactJson, unsafeIdReason } from './artifact.js';
import type { CheckpointContext, CheckpointResult, NodeRuntime, RestoreContext, RestoreResult, SnapshotEngine } from './engine.js';

/** File the sim engine writes into the artifact directory. */
export const SIM_STATE_FILE = 'sim-state.json';

/** What `sim-state.json` holds. */
export interface SimState {
  simulated: true;
  note: string;
  checkpointId: string;
  namespace: string;
  pod: string;
  container: string;
  pid?: number;
  savedAt: string;
}

export interface SimEngineOptions {
  /** Clock for `savedAt`; injectable for deterministic tests. */
  now?: () => Date;
  /**
   * The node's container runtime. On a real node (one whose runtime can exec in a
   * container) nothing simulates the placeholder's readiness probe, so after its
   * simulated restore the engine writes the placeholder's ready file itself, inside
   * the container: the pod then turns Ready through its own probe, as after a real
   * restore. It says so in its log and result.
   */
  runtime?: NodeRuntime;
}

/** The ready file a placeholder's probe looks for (its env, else the protocol's default). */
export function readyFileOf(pod: RestoreContext['pod']): string {
  const env = (pod.spec.containers[0]?.['env'] ?? []) as Array<{ name?: string; value?: string }>;
  const value = env.find((e) => e.name === READY_FILE_ENV)?.value;
  // Relative paths are the container's working directory's, as for the probe's `cat`.
  return value && /^[A-Za-z0-9._/-]+$/.test(value) && !value.split('/').includes('..') ? value : DEFAULT_READY_FILE;
}

const READY_FILE_ENV = 'DYN_READY_FOR_CHECKPOINT_FILE';
const DEFAULT_READY_FILE = '/tmp/ready-for-checkpoint';

/** The `sim` engine. Always available. */
export function createSimEngine(opts: SimEngineOptions = {}): SnapshotEngine {
  const now = opts.now ?? (() => new Date());
  return {
    name: 'sim',
    simulated: true,
    async probe() {
      return { ok: true };
    },
    async checkpoint(ctx: CheckpointContext): Promise<CheckpointResult> {
      const state: SimState = {
        simulated: true,
        note: 'written by the simulated engine: no process or GPU state was saved',
        checkpointId: ctx.checkpointId,
        namespace: ctx.container.namespace,
        pod: ctx.container.podName,
        container: ctx.container.containerName,
        savedAt: now().toISOString(),
      };
      if (ctx.container.pid !== undefined) state.pid = ctx.container.pid;
      const text = `${JSON.stringify(state, null, 2)}\n`;
      await writeFile(join(ctx.artifactDir, SIM_STATE_FILE), text);
      ctx.log(`sim: recorded ${ctx.container.namespace}/${ctx.container.podName} (no process state saved)`);
      return { bytes: Buffer.byteLength(text), details: { stateFile: SIM_STATE_FILE } };
    },
    async restore(ctx: RestoreContext): Promise<RestoreResult> {
      // Check the artifact really is one of ours, so a restore from a foreign or
      // corrupt directory fails here as a real engine's would.
      let value: unknown;
      try {
        value = await readArtifactJson(ctx.artifactDir, SIM_STATE_FILE);
      } catch (err) {
        throw new Error(`the artifact has no readable ${SIM_STATE_FILE} (${(err as Error).message}); it was not written by the simulated engine`);
      }
      const state = value as Partial<SimState> | null;
      if (typeof state !== 'object' || state === null || typeof state.checkpointId !== 'string') {
        throw new Error(`${SIM_STATE_FILE} records no checkpoint ID; it was not written by the simulated engine`);
      }
      if (state.checkpointId !== ctx.checkpointId) {
        // Quoted only when it is a checkpoint ID: the file's text stays out of messages.
        const other = unsafeIdReason(state.checkpointId) ? 'another checkpoint' : `checkpoint ${JSON.stringify(state.checkpointId)}`;
        throw new Error(`${SIM_STATE_FILE} belongs to ${other}, not ${JSON.stringify(ctx.checkpointId)}`);
      }
      ctx.log(`sim: "restored" ${state.namespace}/${state.pod} into ${ctx.placeholder.namespace}/${ctx.placeholder.podName} (nothing to restore)`);
      const exec = opts.runtime?.exec;
      if (!exec) return { details: { from: `${state.namespace}/${state.pod}` } };
      const readyFile = readyFileOf(ctx.pod);
      await exec.call(opts.runtime, ctx.placeholder, ['sh', '-c', ': > "$1"', 'sh', readyFile]).catch((err: unknown) => {
        throw new Error(`sim: could not write the placeholder's ready file ${readyFile} inside its container: ${(err as Error).message}`);
      });
      ctx.log(`sim: wrote ${readyFile} in the placeholder so its readiness probe passes (SIMULATED: no worker runs there)`);
      return { details: { from: `${state.namespace}/${state.pod}`, simulatedReadyFile: readyFile } };
    },
  };
}
