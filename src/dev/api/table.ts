/**
 * Server-side printing (`meta.k8s.io/v1` Table), which kubectl asks for on `get` via
 * `Accept: application/json;as=Table;...`. Columns follow the real printers for the
 * kinds users look at; other kinds get Name + Age.
 */
import type { ResourceInfo } from './resources.js';
import type { KubeObject } from './types.js';

interface Col {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description?: string;
  cell: (o: KubeObject, now: number) => string | number;
}

/** Kubernetes' short human duration: 45s, 3m20s, 5h, 2d. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function age(ts: string | undefined, now: number): string {
  return ts ? humanDuration(now - Date.parse(ts)) : '<unknown>';
}

const name: Col = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name ?? '' };
const ageCol: Col = { name: 'Age', type: 'string', description: 'CreationTimestamp', cell: (o, now) => age(o.metadata.creationTimestamp, now) };

function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  const st = o.status ?? {};
  if (st.reason) return String(st.reason);
  for (const c of st.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) return String(c.state.waiting.reason);
    if (c.state?.terminated?.reason && st.phase !== 'Succeeded' && st.phase !== 'Failed') return String(c.state.terminated.reason);
  }
  if (st.phase === 'Succeeded') return 'Completed';
  if (st.phase === 'Failed') return (st.containerStatuses ?? [])[0]?.state?.terminated?.reason ?? 'Error';
  return String(st.phase ?? 'Pending');
}

const COLUMNS: Record<string, Col[]> = {
  '/pods': [
    name,
    { name: 'Ready', type: 'string', cell: (o) => `${(o.status?.containerStatuses ?? []).filter((c: any) => c.ready).length}/${(o.spec?.containers ?? []).length}` },
    { name: 'Status', type: 'string', cell: podStatus },
    { name: 'Restarts', type: 'string', cell: (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0)) },
    ageCol,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => o.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => o.spec?.nodeName ?? '<none>' },
  ],
  'batch/jobs': [
    name,
    { name: 'Completions', type: 'string', cell: (o) => `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}` },
    {
      name: 'Duration', type: 'string', cell: (o, now) => {
        const start = o.status?.startTime;
        if (!start) return '';
        const end = o.status?.completionTime ? Date.parse(o.status.completionTime) : now;
        return humanDuration(end - Date.parse(start));
      },
    },
    ageCol,
  ],
  'apps/daemonsets': [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => o.status?.desiredNumberScheduled ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.currentNumberScheduled ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.numberReady ?? 0 },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedNumberScheduled ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.numberAvailable ?? 0 },
    { name: 'Node Selector', type: 'string', cell: (o) => Object.entries(o.spec?.template?.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',') || '<none>' },
    ageCol,
  ],
  '/nodes': [
    name,
    {
      name: 'Status', type: 'string', cell: (o) => {
        const ready = (o.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
        const s = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
        return o.spec?.unschedulable ? `${s},SchedulingDisabled` : s;
      },
    },
    { name: 'Roles', type: 'string', cell: () => '<none>' },
    ageCol,
    { name: 'Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (o) => (o.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>' },
    { name: 'External-IP', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'OS-Image', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.osImage ?? '' },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.kernelVersion ?? '' },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.containerRuntimeVersion ?? '' },
  ],
  '/namespaces': [name, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' }, ageCol],
  '/events': [
    { name: 'Last Seen', type: 'string', cell: (o, now) => age(o['lastTimestamp'] ?? o['eventTime'] ?? o.metadata.creationTimestamp, now) },
    { name: 'Type', type: 'string', cell: (o) => String(o['type'] ?? '') },
    { name: 'Reason', type: 'string', cell: (o) => String(o['reason'] ?? '') },
    { name: 'Object', type: 'string', cell: (o) => `${String(o['involvedObject']?.kind ?? '').toLowerCase()}/${String(o['involvedObject']?.name ?? '')}` },
    { name: 'Message', type: 'string', cell: (o) => String(o['message'] ?? '') },
  ],
  '/persistentvolumeclaims': [name, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Pending' }, { name: 'Volume', type: 'string', cell: (o) => o.spec?.volumeName ?? '' }, { name: 'Capacity', type: 'string', cell: (o) => o.status?.capacity?.storage ?? '' }, { name: 'Access Modes', type: 'string', cell: () => '' }, { name: 'StorageClass', type: 'string', cell: (o) => o.spec?.storageClassName ?? '' }, ageCol],
};

/** Build a Table for objects of one resource. Rows carry PartialObjectMetadata (or the full object). */
export function buildTable(res: ResourceInfo, objs: KubeObject[], rv: string, includeObject: string | undefined): Record<string, unknown> {
  const cols = COLUMNS[`${res.group}/${res.plural}`] ?? [name, ageCol];
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: rv },
    columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? c.name, priority: c.priority ?? 0 })),
    rows: objs.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      object: includeObject === 'Object' ? o : includeObject === 'None' ? null : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

/** Does this Accept header ask for a Table? */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((p) => /;\s*as=Table/.test(p) && /g=meta\.k8s\.io/.test(p));
}
