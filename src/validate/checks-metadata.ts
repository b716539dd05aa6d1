/** Rules on apiVersion, labels and annotations (SNAP009, SNAP010, SNAP012-SNAP015). */
import {
  ANNOTATION_ARTIFACT_VERSION,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
  ANNOTATION_RESTORE_STATUS,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
} from '../protocol/constants.js';
import type { RuleContext, RuleHit } from './types.js';
import { keyPath, rec, show, type Obj } from './util.js';

/** Service-mesh opt-outs that later Dynamo versions add to checkpoint pods (docs/protocol.md §9). */
export const ISTIO_INJECT = 'sidecar.istio.io/inject';
export const LINKERD_INJECT = 'linkerd.io/inject';

export function checkApiVersionWrong(obj: Obj): RuleHit[] {
  const v = obj['apiVersion'];
  if (v === undefined || v === null || v === '' || v === 'v1') return [];
  return [{ path: 'apiVersion', message: `apiVersion is ${show(v)}; a Pod is apiVersion: v1 (set apiVersion: v1)` }];
}

export function checkApiVersionMissing(obj: Obj): RuleHit[] {
  const v = obj['apiVersion'];
  if (v !== undefined && v !== null && v !== '') return [];
  return [{ path: 'apiVersion', message: 'apiVersion is missing; snapshotctl assumes v1, but kubectl and other tools reject the file (add apiVersion: v1)' }];
}

function maps(obj: Obj): Array<{ where: 'labels' | 'annotations'; map: Obj }> {
  const meta = rec(obj['metadata']);
  const out: Array<{ where: 'labels' | 'annotations'; map: Obj }> = [];
  for (const where of ['labels', 'annotations'] as const) {
    const map = rec(meta?.[where]);
    if (map) out.push({ where, map });
  }
  return out;
}

/** Keys the agent acts on (labels) or writes itself (annotations): never set by hand. */
const TRIGGERS: Record<string, string> = {
  [`labels/${LABEL_IS_CHECKPOINT_SOURCE}`]: 'the agent dumps any Running, Ready pod with this label',
  [`labels/${LABEL_IS_RESTORE_TARGET}`]: 'the agent restores into any Running pod with this label, before snapshotctl has chosen the checkpoint',
  [`annotations/${ANNOTATION_CHECKPOINT_STATUS}`]: 'the agent writes this verdict; a copied value is mistaken for a result',
  [`annotations/${ANNOTATION_RESTORE_STATUS}`]: 'the agent writes this verdict; a stale value makes a v1.0.x restore report success at once',
  [`annotations/${ANNOTATION_RESTORE_CONTAINER_ID}`]: 'the agent writes this while restoring',
};

/** Keys snapshotctl sets itself: a value in the manifest is replaced. */
const REPLACED: Record<string, string> = {
  [`labels/${LABEL_CHECKPOINT_ID}`]: 'snapshotctl sets it to the checkpoint ID of the run (--checkpoint-id)',
  [`annotations/${ANNOTATION_ARTIFACT_VERSION}`]: 'snapshotctl sets it to the artifact version it writes',
};

export function checkSnapshotTriggers(obj: Obj): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const { where, map } of maps(obj)) {
    for (const key of Object.keys(map)) {
      const why = TRIGGERS[`${where}/${key}`];
      if (why) hits.push({ path: keyPath(`metadata.${where}`, key), message: `metadata.${where} sets ${key}: ${why}; remove it (snapshotctl adds what the agent needs)` });
    }
  }
  return hits;
}

export function checkSnapshotReplaced(obj: Obj, ctx: RuleContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const { where, map } of maps(obj)) {
    for (const key of Object.keys(map)) {
      if (!key.startsWith('nvidia.com/snapshot-') || TRIGGERS[`${where}/${key}`]) continue;
      const path = keyPath(`metadata.${where}`, key);
      const why = REPLACED[`${where}/${key}`];
      if (!why) {
        hits.push({ path, message: `metadata.${where} sets ${key}, which is not a ${where === 'labels' ? 'label' : 'annotation'} of the snapshot protocol (a typo?); remove it` });
        continue;
      }
      const differs = key === LABEL_CHECKPOINT_ID && ctx.checkpointId !== undefined && map[key] !== ctx.checkpointId;
      hits.push({
        path,
        message: `metadata.${where} sets ${key}=${show(map[key])}, but ${why}${differs ? ` (${show(ctx.checkpointId)} here)` : ''}; remove it from the manifest`,
      });
    }
  }
  return hits;
}

/** The value of a mesh key, from annotations (Istio also reads a label). */
function meshValue(obj: Obj, key: string): { value: unknown; path: string } | undefined {
  for (const { where, map } of maps(obj)) {
    if (key in map) return { value: map[key], path: keyPath(`metadata.${where}`, key) };
  }
  return undefined;
}

export function checkMeshEnabled(obj: Obj): RuleHit[] {
  const hits: RuleHit[] = [];
  const istio = meshValue(obj, ISTIO_INJECT);
  if (istio && String(istio.value).toLowerCase() === 'true') {
    hits.push({ path: istio.path, message: `${ISTIO_INJECT} is "true": an Istio sidecar joins the pod and keeps the checkpoint Job alive; set it to "false"` });
  }
  const linkerd = meshValue(obj, LINKERD_INJECT);
  if (linkerd && (linkerd.value === 'enabled' || linkerd.value === 'ingress')) {
    hits.push({ path: linkerd.path, message: `${LINKERD_INJECT} is ${show(linkerd.value)}: a Linkerd proxy joins the pod and keeps the checkpoint Job alive; set it to disabled` });
  }
  return hits;
}

export function checkMeshNotDisabled(obj: Obj): RuleHit[] {
  const istio = meshValue(obj, ISTIO_INJECT);
  const linkerd = meshValue(obj, LINKERD_INJECT);
  const missing: string[] = [];
  if (!istio) missing.push(`${ISTIO_INJECT}: "false"`);
  if (!linkerd) missing.push(`${LINKERD_INJECT}: disabled`);
  if (missing.length === 0) return [];
  return [
    {
      path: 'metadata.annotations',
      message: `metadata.annotations does not turn off service-mesh injection; in a namespace with injection on, a sidecar joins the pod, which then has two containers and never lets the checkpoint Job finish; add ${missing.join(' and ')}`,
    },
  ];
}
