/**
 * Output of the catalogue commands (`hash`, `list`, `describe`, `delete`): the stable
 * JSON/YAML documents scripts parse and the human text. Tables and ages: `table.ts`.
 */
import { stringify } from 'yaml';
import { CHECKPOINT_NAME_TYPE, type CheckpointEntry } from '../commands/catalogue.js';
import type { DeleteOutput, DeletePlan, DeleteResult } from '../commands/delete.js';
import type { DescribeOutput, DescribeResult } from '../commands/describe.js';
import type { HashOutput, HashResult } from '../commands/hash.js';
import type { ListOutput, ListResult } from '../commands/list.js';
import type { PruneItem, PruneOutput, PrunePlan, PruneResult } from '../commands/prune.js';
import { formatAge, formatTable } from './table.js';
import { escapeControls, oneLine } from './terminal-text.js';

/** API version of every machine-readable document the catalogue commands print. */
export const CATALOGUE_API_VERSION = 'snapshotctl/v1';

/** `hash`: the hash alone (one identity) or `hash  source` lines; json: a document. */
export function formatHash(result: HashResult, format: HashOutput): string {
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          apiVersion: CATALOGUE_API_VERSION,
          kind: 'IdentityHashList',
          items: result.items.map((i) => ({ source: i.source, ...(i.service !== undefined ? { service: i.service } : {}), hash: i.hash, canonical: i.canonical, identity: i.identity })),
        },
        null,
        2,
      ) + '\n'
    );
  }
  if (result.items.length === 1) return `${result.items[0]!.hash}\n`;
  return result.items.map((i) => `${i.hash}  ${oneLine(i.service ?? i.source)}\n`).join('');
}

/** `list -o json|yaml`: `{ apiVersion: snapshotctl/v1, kind: CheckpointList, items }`. */
export function checkpointListDocument(result: ListResult): Record<string, unknown> {
  return { apiVersion: CATALOGUE_API_VERSION, kind: 'CheckpointList', items: result.items.map(entryObject) };
}

/** One item in a fixed field order (the documented, stable shape). */
export function entryObject(e: CheckpointEntry): Record<string, unknown> {
  return {
    id: e.id,
    namespace: e.namespace,
    source: e.source,
    status: e.status,
    phase: e.phase,
    node: e.node,
    createdAt: e.createdAt,
    job: e.job,
    pod: e.pod,
    dynamoCheckpoint: e.dynamoCheckpoint,
    identityHash: e.identityHash,
    location: e.location,
    reason: e.reason,
    artifact: e.artifact,
    restores: {
      total: e.restores.total,
      completed: e.restores.completed,
      failed: e.restores.failed,
      inProgress: e.restores.inProgress,
      last: e.restores.last,
    },
  };
}

/** `3 (last completed)`, or `0`. */
export function restoresCell(e: CheckpointEntry): string {
  return e.restores.last ? `${e.restores.total} (last ${e.restores.last.status})` : String(e.restores.total);
}

const none = (v: string | null): string => v ?? '<none>';

/** Bytes as `ls -h` and kubectl's quantities show them: 512, 3.4Ki, 17Gi. */
export function formatBytes(bytes: number): string {
  const units = ['Ki', 'Mi', 'Gi', 'Ti'];
  if (bytes < 1024) return String(bytes);
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10}${units[i]}`;
}

/** The ARTIFACT cell: its size on the volume, `missing`, or `<unknown>` when not looked at. */
export function artifactCell(e: CheckpointEntry): string {
  if (!e.artifact) return '<unknown>';
  if (e.artifact.state === 'missing') return 'missing';
  return e.artifact.bytes !== null ? formatBytes(e.artifact.bytes) : 'present';
}

/** A status word in colour (only when the caller allows colour). */
function statusPainter(color: Colorizer | undefined): ((col: number, cell: string) => string) | undefined {
  if (!color) return undefined;
  return (_col, cell) => {
    if (cell === 'completed') return color.green(cell);
    if (cell === 'failed') return color.red(cell);
    if (cell === 'in_progress') return color.yellow(cell);
    return cell;
  };
}

/** The few chalk functions the tables use. */
export interface Colorizer {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

/** `list` output in every format; empty table output is empty (the CLI says so on stderr). */
export function formatList(result: ListResult, format: ListOutput, now: number, color?: Colorizer): string {
  switch (format) {
    case 'json':
      return JSON.stringify(checkpointListDocument(result), null, 2) + '\n';
    case 'yaml':
      return stringify(checkpointListDocument(result));
    case 'name':
      // type/name, as kubectl prints it; describe and delete take it back as it is.
      return result.items.map((e) => `${oneLine(`${CHECKPOINT_NAME_TYPE}/${e.id}`)}\n`).join('');
    case 'table':
    case 'wide': {
      if (result.items.length === 0) return '';
      const all = result.namespace === undefined;
      const wide = format === 'wide';
      const headers = [...(all ? ['NAMESPACE'] : []), 'ID', 'SOURCE', 'STATUS', 'NODE', 'AGE', 'RESTORES', ...(wide ? ['ARTIFACT', 'JOB', 'POD', 'LOCATION', 'HASH'] : [])];
      const rows = result.items.map((e) => [
        ...(all ? [e.namespace] : []),
        e.id,
        e.source,
        e.status,
        none(e.node),
        formatAge(e.createdAt, now),
        restoresCell(e),
        ...(wide ? [artifactCell(e), none(e.job), none(e.pod), none(e.location), none(e.identityHash)] : []),
      ]);
      const statusCol = headers.indexOf('STATUS');
      const paint = statusPainter(color);
      return formatTable(headers, rows, paint ? (col, cell) => (col === statusCol ? paint(col, cell) : cell) : undefined);
    }
  }
}

/** `describe -o json|yaml`: `{ apiVersion, kind: CheckpointDescription, ... }`. */
export function describeDocument(r: DescribeResult): Record<string, unknown> {
  return {
    apiVersion: CATALOGUE_API_VERSION,
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

/** The confirmation question for `delete` (on stderr, before anything is deleted). */
export function deleteQuestion(plan: DeletePlan, opts: { keepArtifacts: boolean; force: boolean }): string {
  const found = plan.items.filter((i) => i.found);
  const lines = [`About to delete ${found.length} checkpoint${found.length === 1 ? '' : 's'} in namespace "${plan.namespace}":`];
  for (const i of found) {
    if (i.removeArtifact && i.idProblems.length > 0) {
      lines.push(`  ${oneLine(`${i.id}: skipped (not a safe path segment: it ${i.idProblems.join(', ')})`)}`);
      continue;
    }
    const what = [
      ...i.jobs.map((j) => `job.batch/${j.name}`),
      ...i.dynamoCheckpoints.map((d) => `dynamocheckpoint.nvidia.com/${d.name}`),
      ...(opts.keepArtifacts && !opts.force ? [] : [...i.runningRestorePods, ...i.finishedRestorePods].map((x) => `pod/${x.name}`)),
      ...(i.removeArtifact
        ? [`its artifact directory${i.artifact?.state === 'present' ? ` (${i.artifact.versions.length === 1 ? 'version' : 'versions'} ${i.artifact.versions.join(', ')}${i.artifact.bytes !== null ? `, ${formatBytes(i.artifact.bytes)}` : ''})` : ''}`]
        : []),
    ];
    lines.push(`  ${oneLine(`${i.id}: ${what.join(', ') || 'nothing but its restore history'}`)}`);
  }
  return `${lines.join('\n')}\nProceed? [y/N] `;
}

/** `delete` results: one line per ID on stdout (text), or a document (json). */
export function formatDelete(result: DeleteResult, format: DeleteOutput): string {
  if (format === 'json') {
    return JSON.stringify({ apiVersion: CATALOGUE_API_VERSION, kind: 'CheckpointDeleteResult', items: result.items }, null, 2) + '\n';
  }
  return result.items
    .map((i) =>
      i.status === 'deleted'
        ? `${oneLine(`checkpoint "${i.id}" deleted${i.deleted.length > 0 ? ` (${i.deleted.join(', ')})` : ''}`)}\n`
        : `${oneLine(`checkpoint "${i.id}" ${i.status === 'not_found' ? 'not found' : i.status === 'refused' ? 'not deleted' : 'failed'}: ${i.reason ?? ''}`)}\n`,
    )
    .join('');
}

function pruneLine(i: PruneItem): string {
  return oneLine(`${i.path} (${i.versions.length === 1 ? 'version' : 'versions'} ${i.versions.join(', ')}${i.bytes !== null ? `, ${formatBytes(i.bytes)}` : ''}${i.createdAt ? `, from ${i.createdAt}` : ''})`);
}

/** The confirmation question of `prune`. */
export function pruneQuestion(plan: PrunePlan): string {
  const bytes = plan.items.reduce((n, i) => n + (i.bytes ?? 0), 0);
  const lines = [`About to remove ${plan.items.length} orphaned artifact${plan.items.length === 1 ? '' : 's'} (${formatBytes(bytes)}) in namespace "${plan.namespace}":`];
  for (const i of plan.items) lines.push(`  ${pruneLine(i)}`);
  return `${lines.join('\n')}\nProceed? [y/N] `;
}

/** `prune` results: what went (or would go), what was kept and why; json: a document. */
export function formatPrune(result: PruneResult, plan: PrunePlan, format: PruneOutput, age: string): string {
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          apiVersion: CATALOGUE_API_VERSION,
          kind: 'PruneResult',
          namespace: result.namespace,
          dryRun: result.dryRun,
          removed: result.removed,
          kept: result.kept,
          younger: plan.younger,
          bytes: result.bytes,
          complete: !plan.incomplete,
        },
        null,
        2,
      ) + '\n'
    );
  }
  const out: string[] = [];
  const verb = result.dryRun ? 'would remove' : 'removed';
  if (result.removed.length === 0) out.push(`no orphaned artifacts${age} in namespace "${result.namespace}"; nothing ${result.dryRun ? 'would be ' : ''}removed`);
  for (const i of result.removed) out.push(`${verb} ${pruneLine(i)}`);
  for (const i of result.kept) out.push(oneLine(`kept ${i.path}: ${i.reason}`));
  if (plan.younger.length > 0) out.push(`kept ${plan.younger.length} younger orphan${plan.younger.length === 1 ? '' : 's'} (${plan.younger.map((i) => i.id).join(', ')}); --older-than 0 includes them`);
  if (result.removed.length > 0) out.push(`${result.dryRun ? 'would free' : 'freed'} ${formatBytes(result.bytes)} in ${result.removed.length} artifact${result.removed.length === 1 ? '' : 's'}`);
  return out.map((l) => `${l}\n`).join('');
}
