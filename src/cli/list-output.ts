/**
 * Output of `list`: the stable JSON/YAML document scripts parse (apiVersion snapshotctl/v1,
 * kind CheckpointList) and the table. The entry fields and cells are shared with
 * `describe`, `delete` and `prune`. Tables and ages: `table.ts`.
 */
import { stringify } from 'yaml';
import { CHECKPOINT_NAME_TYPE, type CheckpointEntry } from '../commands/catalogue.js';
import type { ListOutput, ListResult } from '../commands/list.js';
import { DOCUMENT_API_VERSION } from './api-version.js';
import { formatAge, formatTable } from './table.js';
import { oneLine } from './terminal-text.js';

/** `list -o json|yaml`: `{ apiVersion: snapshotctl/v1, kind: CheckpointList, items }`. */
export function checkpointListDocument(result: ListResult): Record<string, unknown> {
  return { apiVersion: DOCUMENT_API_VERSION, kind: 'CheckpointList', items: result.items.map(entryObject) };
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

/** A value the cluster may not have: `<none>` for null. */
export const none = (v: string | null): string => v ?? '<none>';

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
