/**
 * Defaulting, as the real API server's scheme defaulters and admission plugins do it,
 * for the fields clients read back (kubectl describe, -o yaml, our CLI's waits).
 */
import type { ResourceInfo } from './resources.js';
import { isRecord, type KubeObject } from './types.js';

function setDefault(o: Record<string, any>, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function defaultProbe(p: unknown): void {
  if (!isRecord(p)) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
}

function defaultContainer(c: unknown): void {
  if (!isRecord(c)) return;
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  setDefault(c, 'imagePullPolicy', tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent');
  setDefault(c, 'resources', {});
  for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[p]);
  if (Array.isArray(c['ports'])) for (const port of c['ports']) if (isRecord(port)) setDefault(port, 'protocol', 'TCP');
}

/** Scheme defaults of a PodSpec (also used inside templates). */
export function defaultPodSpec(spec: unknown): void {
  if (!isRecord(spec)) return;
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const list of ['containers', 'initContainers']) if (Array.isArray(spec[list])) spec[list].forEach(defaultContainer);
  if (Array.isArray(spec['volumes'])) {
    for (const v of spec['volumes']) {
      if (!isRecord(v)) continue;
      for (const src of ['configMap', 'secret']) if (isRecord(v[src])) setDefault(v[src], 'defaultMode', 420);
    }
  }
}

function defaultTemplate(t: unknown): void {
  if (!isRecord(t)) return;
  setDefault(t, 'metadata', {});
  defaultPodSpec(t['spec']);
}

/** Tolerations the DefaultTolerationSeconds admission plugin adds to every pod. */
const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** Apply create-time defaults (scheme + admission) in place. */
export function applyDefaults(res: ResourceInfo, obj: KubeObject): void {
  switch (`${res.group}/${res.plural}`) {
    case '/pods': {
      const spec = (obj.spec ??= {});
      defaultPodSpec(spec);
      // ServiceAccount and DefaultTolerationSeconds admission.
      setDefault(spec, 'serviceAccountName', 'default');
      setDefault(spec, 'serviceAccount', spec.serviceAccountName);
      setDefault(spec, 'enableServiceLinks', true);
      setDefault(spec, 'priority', 0);
      setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
      const tols: any[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
      for (const t of DEFAULT_TOLERATIONS) if (!tols.some((x) => x?.key === t.key && x?.effect === t.effect)) tols.push({ ...t });
      spec.tolerations = tols;
      const hasResources = (spec.containers ?? []).some((c: any) => isRecord(c?.resources) && Object.keys(c.resources).length > 0);
      obj.status = { phase: 'Pending', qosClass: hasResources ? 'Burstable' : 'BestEffort' };
      break;
    }
    case 'batch/jobs': {
      const spec = (obj.spec ??= {});
      setDefault(spec, 'parallelism', 1);
      setDefault(spec, 'completions', 1);
      setDefault(spec, 'backoffLimit', 6);
      setDefault(spec, 'completionMode', 'NonIndexed');
      setDefault(spec, 'suspend', false);
      setDefault(spec, 'manualSelector', undefined);
      if (spec.manualSelector === undefined) delete spec.manualSelector;
      defaultTemplate(spec.template);
      // The job controller-uid selector and template labels are added by the Job
      // strategy at create time, once the uid is known (see store.create).
      break;
    }
    case 'apps/daemonsets': {
      const spec = (obj.spec ??= {});
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
      defaultTemplate(spec.template);
      obj.status = { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
      break;
    }
    case '/persistentvolumeclaims': {
      const spec = (obj.spec ??= {});
      setDefault(spec, 'volumeMode', 'Filesystem');
      obj.status = { phase: 'Pending' };
      break;
    }
    case '/namespaces':
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      break;
    case '/secrets':
      setDefault(obj, 'type', 'Opaque');
      break;
    default:
      break;
  }
}

/**
 * The Job strategy's create-time additions: the `controller-uid` selector and the
 * matching template labels (skipped with `manualSelector: true`).
 */
export function applyJobSelector(obj: KubeObject): void {
  const spec = obj.spec;
  if (!isRecord(spec) || spec['manualSelector'] === true) return;
  const uid = obj.metadata.uid ?? '';
  const name = obj.metadata.name ?? '';
  spec['selector'] = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  const tmpl = (spec['template'] ??= {}) as Record<string, any>;
  const md = (tmpl['metadata'] ??= {});
  md.labels = {
    ...(md.labels ?? {}),
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
}
