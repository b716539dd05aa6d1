/**
 * Pod-to-node predicates shared by the scheduler and the DaemonSet controller:
 * nodeSelector, required node affinity (terms ORed, expressions ANDed; matchFields on
 * metadata.name), taints vs tolerations, and Ready/unschedulable.
 */
import type { KubeObject } from '../types.js';

interface Expr {
  key: string;
  operator: string;
  values?: string[];
}

function exprMatches(value: string | undefined, e: Expr): boolean {
  const vals = e.values ?? [];
  switch (e.operator) {
    case 'In': return value !== undefined && vals.includes(value);
    case 'NotIn': return value === undefined || !vals.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && Number(value) > Number(vals[0]);
    case 'Lt': return value !== undefined && Number(value) < Number(vals[0]);
    default: return false;
  }
}

/** Does the node satisfy the pod's nodeSelector and required node affinity? */
export function matchesNodeSelection(pod: KubeObject, node: KubeObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries((pod.spec?.nodeSelector ?? {}) as Record<string, string>)) if (labels[k] !== v) return false;
  const terms: any[] | undefined = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (Array.isArray(terms) && terms.length > 0) {
    const ok = terms.some((t) => {
      const exprs: Expr[] = t?.matchExpressions ?? [];
      const fields: Expr[] = t?.matchFields ?? [];
      if (exprs.length === 0 && fields.length === 0) return false;
      return exprs.every((e) => exprMatches(labels[e.key], e)) && fields.every((f) => exprMatches(f.key === 'metadata.name' ? node.metadata.name : undefined, f));
    });
    if (!ok) return false;
  }
  return true;
}

/** Taint `{key: value}` as the scheduler prints it. */
export function taintText(t: any): string {
  return `{${String(t.key)}: ${t.value ?? ''}}`;
}

function tolerates(tols: any[], taint: any): boolean {
  return tols.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** The first NoSchedule/NoExecute taint the pod does not tolerate, if any. */
export function untoleratedTaint(pod: KubeObject, node: KubeObject): any | undefined {
  const tols: any[] = pod.spec?.tolerations ?? [];
  return (node.spec?.taints ?? []).find((t: any) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(tols, t));
}

/** Is the node Ready=True? */
export function isNodeReady(node: KubeObject): boolean {
  return (node.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** Is the pod Ready=True? */
export function isPodReady(pod: KubeObject): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** Terminal phase? */
export function isTerminal(pod: KubeObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
