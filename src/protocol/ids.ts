/** Checkpoint IDs: generation as in v1.0.x, validation as our extension (§9, §11). */
import { GENERATED_ID_PREFIX } from './constants.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const LABEL_VALUE_MAX = 63;

/**
 * `manual-snapshot-<UTC Unix nanoseconds>`, as v1.0.x generates it.
 * @param epochNanos nanoseconds since the Unix epoch
 */
export function generateCheckpointId(epochNanos: bigint): string {
  return `${GENERATED_ID_PREFIX}${epochNanos.toString()}`;
}

/**
 * Problems with a checkpoint ID, empty when it is usable. An ID becomes a label value
 * and a path segment under the checkpoint PVC, so it must be both.
 */
export function checkCheckpointId(id: string): string[] {
  const problems: string[] = [];
  if (id.length === 0) return ['is empty'];
  if (id.length > LABEL_VALUE_MAX) problems.push(`is ${id.length} characters long; at most ${LABEL_VALUE_MAX} are allowed`);
  if (/[/\\]/.test(id)) problems.push('contains a path separator (`/` or `\\`)');
  if (id.includes('..')) problems.push('contains `..`');
  if (!LABEL_VALUE.test(id)) {
    problems.push('is not a label value: use only letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit');
  }
  return problems;
}

/**
 * Problems with an artifact version (the `nvidia.com/snapshot-artifact-version`
 * annotation, or a directory under `versions/`), empty when it is usable: it becomes a
 * path segment, so only a positive whole number without leading zeros is.
 */
export function checkArtifactVersion(version: string): string[] {
  if (version.length === 0) return ['is empty'];
  if (!/^[1-9][0-9]{0,8}$/.test(version)) return ['is not a positive whole number (such as `1`)'];
  return [];
}

/** True when `value` is a valid Kubernetes label value. */
export function isLabelValue(value: string): boolean {
  return value.length <= LABEL_VALUE_MAX && LABEL_VALUE.test(value);
}
