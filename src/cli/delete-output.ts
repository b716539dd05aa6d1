/** Output of `delete`: the confirmation question, and one line per ID or a JSON document. */
import type { DeleteOutput, DeletePlan, DeleteResult } from '../commands/delete.js';
import { DOCUMENT_API_VERSION } from './api-version.js';
import { formatBytes } from './list-output.js';
import { oneLine } from './terminal-text.js';

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
    return JSON.stringify({ apiVersion: DOCUMENT_API_VERSION, kind: 'CheckpointDeleteResult', items: result.items }, null, 2) + '\n';
  }
  return result.items
    .map((i) =>
      i.status === 'deleted'
        ? `${oneLine(`checkpoint "${i.id}" deleted${i.deleted.length > 0 ? ` (${i.deleted.join(', ')})` : ''}`)}\n`
        : `${oneLine(`checkpoint "${i.id}" ${i.status === 'not_found' ? 'not found' : i.status === 'refused' ? 'not deleted' : 'failed'}: ${i.reason ?? ''}`)}\n`,
    )
    .join('');
}
