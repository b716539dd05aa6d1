/**
 * `preflight` output: the result object on stdout (`kv`, `json`, `yaml`) and the
 * checklist on stderr (✓ pass, ! warning, ✗ fail, - skipped; colour only when allowed).
 */
import { stringify } from 'yaml';
import type { PreflightCheck, PreflightOutput, PreflightResult } from '../commands/preflight.js';
import { oneLine } from './terminal-text.js';

/** The json/yaml document: `apiVersion`/`kind` like `list`, then the result in its order. */
export function preflightDocument(result: PreflightResult): Record<string, unknown> {
  return { apiVersion: 'snapshotctl/v1', kind: 'PreflightReport', ...result };
}

/** `key=value` lines: the verdict, the facts found, then `check_<id>=<status>` per check. */
export function formatPreflightKv(result: PreflightResult): string {
  const lines = [`status=${result.status}`, `namespace=${result.namespace}`, `manifest=${result.manifest}`, `image=${result.image ?? ''}`];
  if (result.storage) lines.push(`pvc=${result.storage.pvc}`, `base_path=${result.storage.basePath}`);
  if (result.agent) lines.push(`agent_nodes=${(result.agent.nodes ?? []).join(',')}`);
  const denied = result.permissions.filter((p) => !p.allowed).map((p) => `${p.verb}:${p.group ? `${p.resource}.${p.group}` : p.resource}`);
  if (denied.length > 0) lines.push(`denied=${denied.join(',')}`);
  if (result.probe) {
    lines.push(`probe_node=${result.probe.node ?? ''}`);
    if (result.probe.tools) {
      const t = result.probe.tools;
      const missing = [
        ...(t.criu ? [] : ['criu']),
        ...(t['cuda-checkpoint'] ? [] : ['cuda-checkpoint']),
        ...(t['cuda-checkpoint'] && !t['launch-job'] ? ['cuda-checkpoint--launch-job'] : []),
        ...(t.nsrestore ? [] : ['nsrestore']),
        ...(t.sleep ? [] : ['sleep']),
      ];
      lines.push(`missing_tools=${missing.join(',')}`);
    }
  }
  for (const c of result.checks) lines.push(`check_${c.id}=${c.status}`);
  return lines.map(oneLine).join('\n') + '\n';
}

export function formatPreflight(result: PreflightResult, format: PreflightOutput): string {
  switch (format) {
    case 'kv':
      return formatPreflightKv(result);
    case 'json':
      return JSON.stringify(preflightDocument(result), null, 2) + '\n';
    case 'yaml':
      return stringify(preflightDocument(result));
  }
}

/** chalk, when colour is allowed. */
export interface ChecklistColors {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
}

const MARKS: Record<PreflightCheck['status'], string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

/** The checklist; with `onlyProblems` (-q) just the failed and warned checks. */
export function formatChecklist(result: PreflightResult, color?: ChecklistColors, onlyProblems = false): string {
  const paint = (status: PreflightCheck['status'], text: string): string => {
    if (!color) return text;
    return status === 'pass' ? color.green(text) : status === 'fail' ? color.red(text) : status === 'warn' ? color.yellow(text) : color.dim(text);
  };
  const out: string[] = [];
  for (const c of result.checks) {
    if (onlyProblems && (c.status === 'pass' || c.status === 'skip')) continue;
    out.push(`${paint(c.status, MARKS[c.status])} ${oneLine(`${c.title}: ${c.detail}`)}\n`);
    for (const item of c.items ?? []) {
      if (c.status === 'pass' && item.ok) continue;
      const mark = item.ok ? 'pass' : item.warning || c.status === 'warn' ? 'warn' : 'fail';
      out.push(`    ${paint(mark, MARKS[mark])} ${oneLine(item.name)}\n`);
    }
    if (c.fix && c.status !== 'pass' && c.status !== 'skip') out.push(`    fix: ${oneLine(c.fix)}\n`);
  }
  const failed = result.checks.filter((c) => c.status === 'fail').length;
  const warned = result.checks.filter((c) => c.status === 'warn').length;
  const verdict =
    failed > 0
      ? `preflight failed: ${failed} of ${result.checks.length} checks failed${warned > 0 ? `, ${warned} with warnings` : ''}`
      : `preflight passed${warned > 0 ? ` with ${warned} warning${warned === 1 ? '' : 's'}` : ''}`;
  out.push(`${paint(failed > 0 ? 'fail' : warned > 0 ? 'warn' : 'pass', verdict)}\n`);
  return out.join('');
}
