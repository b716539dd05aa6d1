/** Checkpoint storage discovery from the agent DaemonSet (§2). Pure: the caller lists. */
import {
  AGENT_CHECKPOINT_VOLUME_NAME,
  AGENT_CONTAINER_NAME,
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
} from './constants.js';
import { trimTrailingSlash } from './location.js';
import type { DaemonSet } from './types.js';

export interface CheckpointStorage {
  pvcName: string;
  basePath: string;
  /** The DaemonSet it was found on; absent when given by flags. */
  daemonSet?: string;
}

/** DaemonSets found under each selector, component selector first. */
export interface AgentDaemonSets {
  byComponent: DaemonSet[];
  byName: DaemonSet[];
}

export type StorageDiscovery =
  | { found: true; storage: CheckpointStorage; daemonSet: DaemonSet }
  | { found: false; reason: 'no-daemonset' }
  | { found: false; reason: 'no-volume'; daemonSets: string[] };

/**
 * The first agent DaemonSet whose container `agent` mounts a PVC volume at a non-empty
 * path. With the component selector the volume must be named `checkpoints`.
 */
export function discoverStorage(sets: AgentDaemonSets): StorageDiscovery {
  const candidates: Array<{ ds: DaemonSet; requireName: boolean }> = [];
  for (const ds of sets.byComponent) {
    candidates.push({ ds, requireName: true });
  }
  // A DaemonSet carrying both labels is also tried under the older, looser rule.
  for (const ds of sets.byName) candidates.push({ ds, requireName: false });
  if (candidates.length === 0) return { found: false, reason: 'no-daemonset' };
  for (const { ds, requireName } of candidates) {
    const storage = storageOf(ds, requireName);
    if (storage) return { found: true, storage, daemonSet: ds };
  }
  const names = [...new Set(candidates.map((c) => c.ds.metadata.name ?? '?'))];
  return { found: false, reason: 'no-volume', daemonSets: names };
}

function storageOf(ds: DaemonSet, requireVolumeName: boolean): CheckpointStorage | undefined {
  const podSpec = ds.spec?.template?.spec;
  const agent = podSpec?.containers?.find((c) => c.name === AGENT_CONTAINER_NAME);
  if (!agent) return undefined;
  for (const volume of podSpec?.volumes ?? []) {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    if (requireVolumeName && volume.name !== AGENT_CHECKPOINT_VOLUME_NAME) continue;
    const mount = agent.volumeMounts?.find((m) => m.name === volume.name && m.mountPath !== '');
    if (!mount) continue;
    return { pvcName: claim, basePath: trimTrailingSlash(mount.mountPath), daemonSet: ds.metadata.name };
  }
  return undefined;
}

/** Human description of what discovery looked for, for error messages. */
export function describeAgentSelectors(): string {
  return `${AGENT_SELECTOR_COMPONENT} or ${AGENT_SELECTOR_NAME}`;
}
