/**
 * How checkpoint's and restore's results become stdout: `kv` (v1.0.x's key=value
 * lines, docs/protocol.md §10), `json`, `yaml`, `name`, and dry-run listings. The
 * other verbs format theirs in src/cli/<verb>-output.ts (docs/architecture.md).
 */
import { stringify } from 'yaml';
import type { DryRunResult, OperationResult, OutputFormat } from '../commands/context.js';
import { oneLine } from './terminal-text.js';

/** v1.0.x's lines, in its order; `reason` is appended on failure. Values are one line, control characters escaped. */
export function formatKv(result: OperationResult): string {
  const lines = [`status=${result.status}`, `namespace=${result.namespace}`, `name=${result.name}`];
  if (result.kind === 'checkpoint') lines.push(`checkpoint_job=${result.checkpointJob ?? ''}`);
  else lines.push(`restore_pod=${result.restorePod ?? ''}`);
  lines.push(`checkpoint_id=${result.checkpointId}`, `checkpoint_location=${result.checkpointLocation}`);
  if (result.reason !== undefined) lines.push(`reason=${result.reason}`);
  return lines.map(oneLine).join('\n') + '\n';
}

/** The json/yaml object: stable field order, documented in the README. */
export function resultObject(result: OperationResult): Record<string, unknown> {
  const { kind, ...rest } = result;
  return {
    kind,
    status: rest.status,
    phase: rest.phase,
    namespace: rest.namespace,
    name: rest.name,
    ...(rest.checkpointJob !== undefined ? { checkpointJob: rest.checkpointJob } : {}),
    ...(rest.restorePod !== undefined ? { restorePod: rest.restorePod } : {}),
    checkpointId: rest.checkpointId,
    checkpointLocation: rest.checkpointLocation,
    node: rest.node ?? null,
    startedAt: rest.startedAt,
    finishedAt: rest.finishedAt,
    durationSeconds: rest.durationSeconds,
    events: rest.events,
    ...(rest.reason !== undefined ? { reason: rest.reason } : {}),
    ...(rest.deleted !== undefined ? { deleted: rest.deleted } : {}),
    ...(rest.dynamoCheckpoint !== undefined ? { dynamoCheckpoint: rest.dynamoCheckpoint, identityHash: rest.identityHash ?? null, reused: rest.reused === true } : {}),
  };
}

export function formatResult(result: OperationResult, format: OutputFormat): string {
  switch (format) {
    case 'kv':
      return formatKv(result);
    case 'json':
      return JSON.stringify(resultObject(result), null, 2) + '\n';
    case 'yaml':
      return stringify(resultObject(result));
    case 'name':
      if (result.dynamoCheckpoint !== undefined) return `${oneLine(`dynamocheckpoint.nvidia.com/${result.dynamoCheckpoint}`)}\n`;
      return oneLine(result.kind === 'checkpoint' ? `job.batch/${result.checkpointJob}` : `pod/${result.restorePod}`) + '\n';
  }
}

/** A `v1` `List` of the objects, in the order they would be sent. */
export function dryRunList(result: DryRunResult): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', metadata: {}, items: result.objects };
}

/** Dry-run output: JSON for `-o json`, names for `-o name`, YAML otherwise. */
export function formatDryRun(result: DryRunResult, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(dryRunList(result), null, 2) + '\n';
  if (format === 'name') {
    return (
      result.objects
        .map((o) => {
          const kind = String(o['kind'] ?? '').toLowerCase();
          const group = String(o['apiVersion'] ?? '').includes('/') ? `.${String(o['apiVersion']).split('/')[0]}` : '';
          return oneLine(`${kind}${group}/${String((o['metadata'] as { name?: string } | undefined)?.name ?? '')}`);
        })
        .join('\n') + '\n'
    );
  }
  return stringify(dryRunList(result));
}
