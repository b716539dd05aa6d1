/** Output of `prune`: the confirmation question, what went (or would go) and what was kept, or a JSON document. */
import type { PruneItem, PruneOutput, PrunePlan, PruneResult } from '../commands/prune.js';
import { DOCUMENT_API_VERSION } from './api-version.js';
import { formatBytes } from './list-output.js';
import { oneLine } from './terminal-text.js';

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
          apiVersion: DOCUMENT_API_VERSION,
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
