/**
 * Our snapshot agent (docs/protocol.md §7) and its engines. Importing starts nothing;
 * `startAgent` does.
 */
export { startAgent, DEFAULT_TIMING } from './agent.js';
export type { AgentDecision, AgentLog, AgentLogLevel, AgentTiming, RunningAgent, StartAgentOptions } from './agent.js';
export type {
  CheckpointContext,
  CheckpointResult,
  ContainerRef,
  EngineLog,
  EngineProbe,
  RestoreContext,
  RestoreResult,
  SnapshotEngine,
} from './engine.js';
export { createSimEngine, SIM_STATE_FILE } from './sim-engine.js';
export type { SimEngineOptions, SimState } from './sim-engine.js';
export { createFaults, resetFaults, INJECTED_FAILURE } from './faults.js';
export type { AgentFaults } from './faults.js';
export {
  ArtifactFileError,
  artifactDir,
  artifactExists,
  readArtifactJson,
  readArtifactManifest,
  UnsafeArtifactPathError,
  unsafeIdReason,
  unsafeVersionReason,
} from './artifact.js';
export { checkpointPodRefusal, replaceArtifactRefusal, restoreArtifactCheck } from './trust.js';
export type { ArtifactManifest } from './artifact.js';
export { chooseEngine, createEngine, isEngineName, ENGINE_NAMES } from './engines.js';
export type { EngineChoice, EngineName } from './engines.js';
