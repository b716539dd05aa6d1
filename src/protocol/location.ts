import { ARTIFACT_VERSION } from './constants.js';

/**
 * Where the agent writes a checkpoint: `<basePath>/<id>/versions/<artifactVersion>`.
 * The agent computes it from its own config; this is the CLI's prediction (§2).
 */
export function checkpointLocation(basePath: string, checkpointId: string): string {
  return `${trimTrailingSlash(basePath)}/${checkpointId}/versions/${ARTIFACT_VERSION}`;
}

/** `/checkpoints/` → `/checkpoints`; `/` stays `/`. */
export function trimTrailingSlash(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' && path.startsWith('/') ? '/' : trimmed;
}
