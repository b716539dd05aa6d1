/** Output of `describe`: kubectl-describe-like text, or a JSON/YAML document (kind CheckpointDescription). */
import { stringify } from 'yaml';
import type { DescribeOutput, DescribeResult } from '../commands/describe.js';
import { DOCUMENT_API_VERSION } from './api-version.js';
import { entryObject, none } from './list-output.js';
import { formatAge, formatTable } from './table.js';
import { escapeControls, oneLine } from './terminal-text.js';

/** `describe -o json|yaml`: `{ apiVersion, kind: CheckpointDescription, ... }`. */
export function describeDocument(r: DescribeResult): Record<string, unknown> {
  return {
    apiVersion: DOCUMENT_API_VERSION,
    kind: 'CheckpointDescription',
    checkpoint: entryObject(r.entry),
    storage: r.storage,
    job: r.job,
    pods: r.pods,
    dynamoCheckpoint: r.dynamoCheckpoint,
    artifact: r.artifact,
    restores: r.restores,
    events: r.events,
    next: r.next,
  };
}

function indent(text: string, prefix: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? '' : prefix + l))
    .join('\n');
}

/** kubectl-describe-like text. */
export function formatDescribe(r: DescribeResult, format: DescribeOutput, now: number): string {
  if (format === 'json') return JSON.stringify(describeDocument(r), null, 2) + '\n';
  if (format === 'yaml') return stringify(describeDocument(r));
  const e = r.entry;
  // Every value comes from the cluster: each line is made one line, control characters escaped.
  const lines: string[] = [];
  const kv = (k: string, v: string) => lines.push(`${(k + ':').padEnd(18)}${oneLine(v)}`);
  const sub = (label: string, v: string) => lines.push(`  ${(label + ':').padEnd(17)}${oneLine(v)}`);
  kv('ID', e.id);
  kv('Namespace', e.namespace);
  kv('Source', e.source);
  kv('Status', e.status + (e.reason ? ` (${e.reason})` : ''));
  kv('Node', none(e.node));
  kv('Created', e.createdAt ? `${e.createdAt} (${formatAge(e.createdAt, now)} ago)` : '<unknown>');
  const noLocation = r.storage ? '<unknown: the checkpoint ID is not a safe path segment>' : '<unknown: no snapshot agent DaemonSet found>';
  kv('Location', e.location ? `${e.location}${r.storage ? ` on PVC ${r.storage.pvc}` : ''}` : noLocation);
  if (r.job) {
    kv('Job', `${r.job.name} (${r.job.status})`);
    for (const c of r.job.conditions) sub('Condition', `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`);
  } else kv('Job', '<none>');
  for (const p of r.pods) sub('Pod', `${p.name} on ${none(p.node)} (${none(p.phase)})`);
  if (r.dynamoCheckpoint) {
    const d = r.dynamoCheckpoint;
    kv('DynamoCheckpoint', `${d.name} (phase ${none(d.phase)}, hash ${none(d.identityHash)}${d.jobName ? `, job ${d.jobName}` : ''})`);
    if (d.message) sub('Message', d.message);
  }
  if (r.artifact) {
    const a = r.artifact;
    if (a.state === 'read') {
      lines.push(oneLine(`Artifact manifest: ${a.path} (read by pod/${a.reader?.pod ?? '?'}${a.reader?.node ? ` on ${a.reader.node}` : ''}, deleted)`));
      lines.push(indent(escapeControls(a.text ?? '', { multiline: true }), '  '));
    } else {
      const what = a.state === 'missing' ? 'not found' : a.state === 'skipped' ? 'skipped' : 'unreadable';
      lines.push(oneLine(`Artifact manifest: ${a.path}: ${what}${a.message ? ` (${a.message.trim()})` : ''}`));
    }
  }
  const c = e.restores;
  lines.push(`Restores:         ${c.total}${c.total > 0 ? ` (${c.completed} completed, ${c.failed} failed, ${c.inProgress} in progress)` : ''}`);
  if (r.restores.length > 0) {
    lines.push(indent(formatTable(['POD', 'STATUS', 'NODE', 'PHASE', 'AGE'], r.restores.map((x) => [x.pod, x.status, none(x.node), x.fromEvent ? '<gone: from its event>' : none(x.phase), formatAge(x.createdAt, now)])), '  '));
  }
  if (r.events.length > 0) {
    lines.push('Events:');
    lines.push(indent(formatTable(['TYPE', 'REASON', 'OBJECT', 'AGE', 'MESSAGE'], r.events.map((x) => [x.type, x.reason, x.object, formatAge(x.time, now), x.message.replace(/\s*\n\s*/g, ' ')])), '  '));
  } else lines.push('Events:           <none>');
  lines.push('Next:');
  for (const n of r.next) lines.push(`  ${oneLine(n)}`);
  return lines.join('\n') + '\n';
}
