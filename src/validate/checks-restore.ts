/** Rules for placeholder manifests restored in place (docs/protocol.md §6): SNAP020, SNAP021. */
import { RESTORE_COMMAND, RESTORE_VOLUME_NAME, SECCOMP_PROFILE, SECCOMP_TYPE } from '../protocol/constants.js';
import type { RuleContext, RuleHit } from './types.js';
import { arr, dig, rec, show, str, type Obj } from './util.js';

export function checkRestorePreconditions(obj: Obj, ctx: RuleContext): RuleHit[] {
  const hits: RuleHit[] = [];
  const pvcHint = ctx.pvc ?? '<your checkpoint PVC, e.g. snapshot-pvc>';
  const volumes = arr(dig(obj, 'spec', 'volumes'));
  const index = volumes.findIndex((v) => rec(v)?.['name'] === RESTORE_VOLUME_NAME);
  if (index < 0) {
    hits.push({
      path: 'spec.volumes',
      message: `spec.volumes has no volume "${RESTORE_VOLUME_NAME}"; add {name: ${RESTORE_VOLUME_NAME}, persistentVolumeClaim: {claimName: ${pvcHint}}}`,
    });
  } else {
    const claim = dig(volumes[index], 'persistentVolumeClaim', 'claimName');
    const path = `spec.volumes[${index}].persistentVolumeClaim.claimName`;
    if (typeof claim !== 'string' || claim === '') {
      hits.push({ path, message: `spec.volumes[${index}] "${RESTORE_VOLUME_NAME}" is not backed by a PVC; set persistentVolumeClaim.claimName to ${pvcHint}` });
    } else if (ctx.pvc !== undefined && claim !== ctx.pvc) {
      hits.push({ path, message: `${path} is ${show(claim)}; "${RESTORE_VOLUME_NAME}" must use the checkpoint PVC ${show(ctx.pvc)}` });
    }
  }
  const container = rec(dig(obj, 'spec', 'containers', 0));
  if (container) {
    const mounts = arr(container['volumeMounts']);
    const m = mounts.findIndex((x) => rec(x)?.['name'] === RESTORE_VOLUME_NAME);
    if (m < 0) {
      hits.push({
        path: 'spec.containers[0].volumeMounts',
        message: `spec.containers[0] does not mount "${RESTORE_VOLUME_NAME}"; add a volumeMount {name: ${RESTORE_VOLUME_NAME}, mountPath: ${ctx.basePath}}`,
      });
    } else {
      const at = dig(mounts[m], 'mountPath');
      if (at !== ctx.basePath) {
        hits.push({
          path: `spec.containers[0].volumeMounts[${m}].mountPath`,
          message: `spec.containers[0].volumeMounts[${m}].mountPath is ${show(at)}; "${RESTORE_VOLUME_NAME}" must be mounted at exactly ${ctx.basePath}, where the agent mounts the PVC (--base-path to check another)`,
        });
      }
    }
  }
  const seccomp = rec(dig(obj, 'spec', 'securityContext', 'seccompProfile'));
  if (seccomp?.['type'] !== SECCOMP_TYPE || seccomp['localhostProfile'] !== SECCOMP_PROFILE) {
    hits.push({
      path: 'spec.securityContext.seccompProfile',
      message: `spec.securityContext.seccompProfile must be {type: ${SECCOMP_TYPE}, localhostProfile: ${SECCOMP_PROFILE}} (installed on the nodes by manifests/seccomp-installer.yaml)`,
    });
  }
  return hits;
}

export function checkPlaceholderCommand(obj: Obj): RuleHit[] {
  const container = rec(dig(obj, 'spec', 'containers', 0));
  if (!container) return [];
  const command = arr(container['command']).map((c) => str(c) ?? '');
  if (command.length === RESTORE_COMMAND.length && command.every((c, i) => c === RESTORE_COMMAND[i])) return [];
  return [
    {
      path: 'spec.containers[0].command',
      message: `spec.containers[0].command is ${show(container['command'] ?? null)}; a placeholder should only wait for the agent: command: [sleep, infinity] (anything else starts its own worker, or exits before the restore)`,
    },
  ];
}
