/**
 * Output of the catalogue commands (`hash`, `list`, `describe`, `delete`): the stable
 * JSON/YAML documents scripts parse and the human text. Tables and ages: `table.ts`.
 */
import { stringify } from 'yaml';
import type { CheckpointEntry } from '../commands/catalogue.js';
import type { HashOutput, HashResult } from '../commands/hash.js';
import type { ListOutput, ListResult } from '../commands/list.js';
import { formatAge, formatTable } from './table.js';

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
  return result.items.map((i) => `${i.hash}  ${i.service ?? i.source}\n`).join('');
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
      return result.items.map((e) => `${e.id}\n`).join('');
    case 'table':
    case 'wide': {
      if (result.items.length === 0) return '';
      const all = result.namespace === undefined;
      const wide = format === 'wide';
      const headers = [...(all ? ['NAMESPACE'] : []), 'ID', 'SOURCE', 'STATUS', 'NODE', 'AGE', 'RESTORES', ...(wide ? ['JOB', 'POD', 'LOCATION', 'HASH'] : [])];
      const rows = result.items.map((e) => [
        ...(all ? [e.namespace] : []),
        e.id,
        e.source,
        e.status,
        none(e.node),
        formatAge(e.createdAt, now),
        restoresCell(e),
        ...(wide ? [none(e.job), none(e.pod), none(e.location), none(e.identityHash)] : []),
      ]);
      const statusCol = headers.indexOf('STATUS');
      const paint = statusPainter(color);
      return formatTable(headers, rows, paint ? (col, cell) => (col === statusCol ? paint(col, cell) : cell) : undefined);
    }
  }
}
