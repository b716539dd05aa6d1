/**
 * The rule registry: every check snapshotctl runs on a manifest, each with a stable ID,
 * a severity and a title (docs/validation.md "Validation rules"). `validate` runs them all;
 * `checkpoint` and `restore --manifest` run all but the lint-only ones before any request.
 * The §3 rules (SNAP001-SNAP008) keep their implementation in src/protocol/manifest.ts,
 * which the commands used first; the registry gives them their metadata.
 */
import type { Finding } from '../errors.js';
import { RULES, checkForCheckpoint, checkIdFindings, checkPodObject } from '../protocol/manifest.js';
import type { Pod } from '../protocol/types.js';
import { checkApiVersionMissing, checkApiVersionWrong, checkMeshEnabled, checkMeshNotDisabled, checkSnapshotReplaced, checkSnapshotTriggers } from './checks-metadata.js';
import { checkPlaceholderCommand, checkRestorePreconditions } from './checks-restore.js';
import { checkGpuPlacement, checkReadiness, checkRestartPolicy, checkVolumes } from './checks-spec.js';
import { checkImage } from './image-policy.js';
import type { Purpose, Rule, RuleContext, RuleHit } from './types.js';
import { dig, rec, type Obj } from './util.js';

const ALL: readonly Purpose[] = ['checkpoint', 'restore', 'restore-manifest'];
const WORKER: readonly Purpose[] = ['checkpoint', 'restore-manifest'];

/** Rule IDs beyond §3's (`RULES` in src/protocol/manifest.ts). */
export const RULE_IDS = {
  ...RULES,
  apiVersion: 'SNAP009',
  apiVersionMissing: 'SNAP010',
  schema: 'SNAP011',
  snapshotTrigger: 'SNAP012',
  snapshotReplaced: 'SNAP013',
  meshEnabled: 'SNAP014',
  meshNotDisabled: 'SNAP015',
  readiness: 'SNAP016',
  gpuPlacement: 'SNAP017',
  restartPolicy: 'SNAP018',
  volumes: 'SNAP019',
  /** Also used by `restore --pod` for a live pod (src/commands/restore.ts). */
  restorePreconditions: 'SNAP020',
  placeholderCommand: 'SNAP021',
  imagePolicy: 'SNAP022',
  runtimeImage: 'SNAP023',
} as const;

/** The §3 checks report several IDs at once: run them once per object. */
const coreCache = new WeakMap<Obj, Finding[]>();
function core(id: string) {
  return (obj: Obj): RuleHit[] => {
    let found = coreCache.get(obj);
    if (!found) {
      found = checkPodObject(obj);
      coreCache.set(obj, found);
    }
    return found.filter((f) => f.rule === id).map(({ path, message }) => ({ path, message }));
  };
}

function checkCommand(obj: Obj, ctx: RuleContext): RuleHit[] {
  if (!ctx.requireCommand || !rec(dig(obj, 'spec', 'containers', 0))) return [];
  const command = dig(obj, 'spec', 'containers', 0, 'command');
  // checkForCheckpoint reads only containers[0].command; give it exactly that.
  const pod = { metadata: {}, spec: { containers: [{ name: '', command: Array.isArray(command) ? command : undefined }] } } as unknown as Pod;
  return checkForCheckpoint(pod, { requireCommand: true }).map(({ path, message }) => ({ path, message }));
}

function checkImagePolicy(runtime: boolean) {
  return (obj: Obj, ctx: RuleContext): RuleHit[] => {
    const image = dig(obj, 'spec', 'containers', 0, 'image');
    if (!ctx.imagePolicy || typeof image !== 'string' || image.trim() === '') return [];
    const verdict = checkImage(image, ctx.imagePolicy, 'spec.containers[0].image');
    if (verdict.allowed || verdict.runtime !== runtime) return [];
    return [{ path: 'spec.containers[0].image', message: verdict.message }];
  };
}

/** Every rule, in ID order. */
export const RULE_REGISTRY: readonly Rule[] = [
  { id: RULES.containerCount, severity: 'error', title: 'exactly one container', fix: 'Keep only the worker container in spec.containers; move sidecars out or disable their injection.', purposes: ALL, check: core(RULES.containerCount) },
  { id: RULES.kind, severity: 'error', title: 'kind must be Pod', fix: 'Copy the pod template of your Deployment or Job into a kind: Pod manifest.', purposes: ALL, check: core(RULES.kind) },
  { id: RULES.name, severity: 'error', title: 'metadata.name present and a valid name; metadata.namespace and container names valid', fix: 'Give the pod a DNS-1123 name (lower-case letters, digits, - and .), and the namespace and containers DNS-1123 labels (no dots, at most 63 characters).', purposes: ALL, check: core(RULES.name) },
  { id: RULES.image, severity: 'error', title: 'container image present', fix: 'Set spec.containers[0].image to your placeholder image.', purposes: ALL, check: core(RULES.image) },
  { id: RULES.command, severity: 'error', title: 'command present when cuda-checkpoint wrapping is on', fix: 'Set spec.containers[0].command, or pass --disable-cuda-checkpoint-job-file.', purposes: ['checkpoint'], check: checkCommand },
  {
    id: RULES.checkpointId,
    severity: 'error',
    title: 'checkpoint ID is a label value and a safe path segment',
    fix: 'Use at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends, without .. or slashes.',
    purposes: ALL,
    check: (_obj, ctx) => (ctx.checkpointId === undefined ? [] : checkIdFindings(ctx.checkpointId).map(({ path, message }) => ({ path, message }))),
  },
  { id: RULES.document, severity: 'error', title: 'a YAML or JSON object', fix: 'Fix the YAML syntax; each document must be a mapping.', purposes: ALL, check: () => [] },
  { id: RULES.nameLength, severity: 'error', title: 'name short enough for the checkpoint Job', fix: 'Shorten metadata.name so that "<name>-checkpoint" fits in 63 characters.', purposes: ALL, check: core(RULES.nameLength) },
  { id: RULE_IDS.apiVersion, severity: 'error', title: 'apiVersion is v1', fix: 'Set apiVersion: v1.', purposes: ALL, check: checkApiVersionWrong },
  { id: RULE_IDS.apiVersionMissing, severity: 'warning', title: 'apiVersion present', fix: 'Add apiVersion: v1 so kubectl and other tools accept the file.', purposes: ALL, check: checkApiVersionMissing },
  {
    id: RULE_IDS.schema,
    severity: 'error',
    title: 'valid against the Kubernetes Pod schema',
    fix: 'Fix the field as `kubectl explain pod.<path>` describes.',
    purposes: ALL,
    check: (obj, ctx) => (ctx.schema ? ctx.schema(obj) : []),
  },
  { id: RULE_IDS.snapshotTrigger, severity: 'error', title: 'no snapshot trigger label or agent annotation set by hand', fix: 'Remove nvidia.com/snapshot-is-* labels and the agent\'s status annotations from the manifest.', purposes: ALL, check: checkSnapshotTriggers },
  { id: RULE_IDS.snapshotReplaced, severity: 'warning', title: 'no nvidia.com/snapshot-* key that snapshotctl replaces or does not know', fix: 'Remove nvidia.com/snapshot-* labels and annotations; snapshotctl sets them.', purposes: ALL, check: checkSnapshotReplaced },
  { id: RULE_IDS.meshEnabled, severity: 'error', title: 'service-mesh injection not turned on', fix: 'Set sidecar.istio.io/inject: "false" and linkerd.io/inject: disabled.', purposes: ALL, check: checkMeshEnabled },
  { id: RULE_IDS.meshNotDisabled, severity: 'warning', title: 'service-mesh injection turned off', fix: 'Add the annotations sidecar.istio.io/inject: "false" and linkerd.io/inject: disabled.', purposes: ALL, lintOnly: true, check: checkMeshNotDisabled },
  { id: RULE_IDS.readiness, severity: 'warning', title: 'readiness probe means "ready to checkpoint"', fix: 'Use an exec readiness probe that reads the file the worker writes when warmed up (DYN_READY_FOR_CHECKPOINT_FILE).', purposes: ['checkpoint'], check: checkReadiness },
  { id: RULE_IDS.gpuPlacement, severity: 'warning', title: 'GPU pod has a GPU node selector, affinity or toleration', fix: 'Add a nvidia.com/gpu toleration and a GPU nodeSelector.', purposes: ALL, lintOnly: true, check: checkGpuPlacement },
  { id: RULE_IDS.restartPolicy, severity: 'warning', title: 'restartPolicy is Never', fix: 'Set spec.restartPolicy: Never.', purposes: ALL, check: checkRestartPolicy },
  { id: RULE_IDS.volumes, severity: 'warning', title: 'no hostPath or emptyDir state outside the checkpoint', fix: 'Keep state the worker needs after restore in the container filesystem, or recreate it after restore.', purposes: ALL, check: checkVolumes },
  { id: RULE_IDS.restorePreconditions, severity: 'error', title: 'restore-in-place preconditions (docs/protocol.md §6)', fix: 'Give the placeholder the checkpoint-storage PVC volume mounted at the base path and the Localhost block-iouring seccomp profile (manifests/samples/placeholder.yaml).', purposes: ['restore'], check: checkRestorePreconditions },
  { id: RULE_IDS.placeholderCommand, severity: 'warning', title: 'placeholder runs sleep infinity', fix: 'Set the placeholder\'s command: [sleep, infinity].', purposes: ['restore'], check: checkPlaceholderCommand },
  { id: RULE_IDS.imagePolicy, severity: 'error', title: 'image allowed by the placeholder-image policy', fix: 'Use a placeholder image, add a pattern to placeholderImages in .snapshotctl.yaml, or pass --skip-image-check.', purposes: ALL, check: checkImagePolicy(false) },
  { id: RULE_IDS.runtimeImage, severity: 'error', title: 'not a raw runtime image', fix: 'Use the placeholder image (runtime image plus criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep).', purposes: ALL, check: checkImagePolicy(true) },
];

/** The registry entry of an ID. */
export function ruleById(id: string): Rule | undefined {
  return RULE_REGISTRY.find((r) => r.id === id);
}

/** Which rules run: `skip` leaves out IDs the caller has checked already. */
export interface RunRulesOptions {
  skip?: ReadonlySet<string>;
}

/**
 * Run every applicable rule on one object that claims to be a Pod. Never throws on
 * strange input: a rule that fails unexpectedly is itself reported, so a crash in one
 * check cannot hide the others.
 */
export function runRules(obj: Obj, ctx: RuleContext, opts: RunRulesOptions = {}): Finding[] {
  const kind = obj['kind'];
  const notPod = kind !== undefined && kind !== null && kind !== '' && kind !== 'Pod';
  const findings: Finding[] = [];
  for (const rule of RULE_REGISTRY) {
    if (opts.skip?.has(rule.id) || !rule.purposes.includes(ctx.purpose) || (ctx.inCommand && rule.lintOnly)) continue;
    // Another kind gets SNAP002 only: the other rules would judge the wrong object.
    if (notPod && rule.id !== RULES.kind) continue;
    let hits: RuleHit[];
    try {
      hits = rule.check(obj, ctx);
    } catch (err) {
      hits = [{ path: '', message: `the ${rule.id} check could not judge this object (${(err as Error).message}); please report it` }];
    }
    for (const hit of hits) findings.push({ rule: rule.id, severity: rule.severity, path: hit.path, message: hit.message });
  }
  return findings;
}
