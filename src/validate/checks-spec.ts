/** Rules on the pod spec: readiness (SNAP016), GPU placement (SNAP017), restartPolicy (SNAP018), volumes (SNAP019). */
import { READY_FOR_CHECKPOINT_ENV, READY_FOR_CHECKPOINT_FILE, RESTORE_VOLUME_NAME } from '../protocol/constants.js';
import type { RuleContext, RuleHit } from './types.js';
import { arr, dig, keyPath, rec, show, str, type Obj } from './util.js';

const GPU_RESOURCE = 'nvidia.com/gpu';
const PROBE_EXAMPLE = `an exec probe that reads the file the worker writes once warmed up, e.g. env ${READY_FOR_CHECKPOINT_ENV}=${READY_FOR_CHECKPOINT_FILE} and readinessProbe.exec.command: [cat, ${READY_FOR_CHECKPOINT_FILE}]`;

/** Commands that succeed only when a file exists (or has content); `test -f` and `[ -e` included. */
const FILE_READERS = /(^|[\s;&|(`/])(cat|test|stat|ls|head|tail|grep|\[\[?)\s+[^\s;&|]/;

function readsFile(command: string[]): boolean {
  const script = command.join(' ');
  return FILE_READERS.test(script);
}

/** The env value of the ready file, when the worker's env sets it literally. */
function readyFileEnv(container: Obj): string | undefined {
  for (const e of arr(container['env'])) {
    const env = rec(e);
    if (env?.['name'] === READY_FOR_CHECKPOINT_ENV) return str(env['value']);
  }
  return undefined;
}

export function checkReadiness(obj: Obj): RuleHit[] {
  const container = rec(dig(obj, 'spec', 'containers', 0));
  if (!container) return [];
  const base = 'spec.containers[0].readinessProbe';
  const probe = rec(container['readinessProbe']);
  if (!probe) {
    return [
      {
        path: base,
        message: `${base} is missing: the agent checkpoints as soon as the pod is Ready, which without a probe is the moment the container starts, before the model is loaded; add ${PROBE_EXAMPLE}`,
      },
    ];
  }
  const exec = rec(probe['exec']);
  if (!exec) {
    const kind = ['httpGet', 'tcpSocket', 'grpc'].find((k) => probe[k] !== undefined) ?? 'its handler';
    return [
      {
        path: base,
        message: `${base} uses ${kind}, which says the server answers, not that it is warmed up and quiesced; the agent would checkpoint mid-warm-up; use ${PROBE_EXAMPLE}`,
      },
    ];
  }
  const command = arr(exec['command']).filter((c): c is string => typeof c === 'string');
  if (!readsFile(command)) {
    return [
      {
        path: `${base}.exec.command`,
        message: `${base}.exec.command ${show(command)} does not read a file, so it cannot mean "ready to checkpoint"; use ${PROBE_EXAMPLE}`,
      },
    ];
  }
  const file = readyFileEnv(container);
  const script = command.join(' ');
  if (file && !script.includes(file) && !script.includes(READY_FOR_CHECKPOINT_ENV)) {
    return [
      {
        path: `${base}.exec.command`,
        message: `${base}.exec.command ${show(command)} does not read ${file}, the file ${READY_FOR_CHECKPOINT_ENV} names; probe that file so Ready means the worker reached its checkpoint point`,
      },
    ];
  }
  return [];
}

function requestsGpu(obj: Obj): string | undefined {
  for (const list of ['containers', 'initContainers'] as const) {
    const containers = arr(dig(obj, 'spec', list));
    for (let i = 0; i < containers.length; i++) {
      for (const kind of ['limits', 'requests'] as const) {
        const v = dig(containers[i], 'resources', kind, GPU_RESOURCE);
        if (v !== undefined && v !== null && String(v) !== '0') return keyPath(`spec.${list}[${i}].resources.${kind}`, GPU_RESOURCE);
      }
    }
  }
  return undefined;
}

export function checkGpuPlacement(obj: Obj): RuleHit[] {
  const path = requestsGpu(obj);
  if (!path) return [];
  const spec = rec(obj['spec']) ?? {};
  const selector = rec(spec['nodeSelector']);
  const placed = (selector !== undefined && Object.keys(selector).length > 0) || rec(dig(spec, 'affinity', 'nodeAffinity')) !== undefined;
  const tolerated = arr(spec['tolerations']).some((t) => {
    const tol = rec(t);
    return tol !== undefined && (tol['key'] === GPU_RESOURCE || ((tol['key'] === undefined || tol['key'] === '') && tol['operator'] === 'Exists'));
  });
  if (placed || tolerated) return [];
  return [
    {
      path,
      message: `${path} asks for a GPU, but the pod has no nodeSelector, node affinity or ${GPU_RESOURCE} toleration: on clusters whose GPU nodes are tainted it stays Pending until the timeout; add spec.tolerations [{key: ${GPU_RESOURCE}, operator: Exists, effect: NoSchedule}] and a GPU nodeSelector (e.g. nvidia.com/gpu.present: "true")`,
    },
  ];
}

export function checkRestartPolicy(obj: Obj, ctx: RuleContext): RuleHit[] {
  const policy = dig(obj, 'spec', 'restartPolicy');
  if (policy !== 'Always' && policy !== 'OnFailure') return [];
  const path = 'spec.restartPolicy';
  const message =
    ctx.purpose === 'restore'
      ? `${path} is ${policy}: when the restored worker exits, or the agent kills a failed restore, the kubelet starts a fresh placeholder that looks healthy but holds no worker; set restartPolicy: Never`
      : `${path} is ${policy}, but the ${ctx.purpose === 'checkpoint' ? 'checkpoint Job' : 'restore pod'} runs with Never (a restarted worker would lose its warm state, and the Job must end after the dump); snapshotctl replaces it, so set restartPolicy: Never to say what runs`;
  return [{ path, message }];
}

export function checkVolumes(obj: Obj, ctx: RuleContext): RuleHit[] {
  const mounts = new Map<string, string>();
  for (const m of arr(dig(obj, 'spec', 'containers', 0, 'volumeMounts'))) {
    const mount = rec(m);
    const name = str(mount?.['name']);
    if (name) mounts.set(name, str(mount?.['mountPath']) ?? '?');
  }
  const hits: RuleHit[] = [];
  const volumes = arr(dig(obj, 'spec', 'volumes'));
  for (let i = 0; i < volumes.length; i++) {
    const v = rec(volumes[i]);
    const name = str(v?.['name']);
    // The checkpoint volume itself is SNAP020's business.
    if (!v || !name || !mounts.has(name) || name === RESTORE_VOLUME_NAME) continue;
    const type = v['hostPath'] !== undefined ? 'hostPath' : v['emptyDir'] !== undefined ? 'emptyDir' : undefined;
    if (!type) continue;
    const at = mounts.get(name);
    const after = ctx.purpose === 'restore' ? 'the restored worker finds this placeholder\'s copy instead' : 'a restored worker finds them missing or different';
    hits.push({
      path: `spec.volumes[${i}]`,
      message: `spec.volumes[${i}] ${show(name)} is ${type === "hostPath" ? "a" : "an"} ${type} volume mounted at ${at}: the checkpoint holds the processes and the container's root filesystem, not volumes, so files written there before the checkpoint are not saved and ${after}; keep such state in the container filesystem or recreate it after restore`,
    });
  }
  return hits;
}
