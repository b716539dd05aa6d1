/**
 * Printing a `validate` result: text for people (grouped per file, colour only when
 * asked), JSON for scripts, SARIF 2.1.0 for code-scanning UIs that annotate pull
 * requests. Pure: strings in, strings out.
 */
import { Chalk } from 'chalk';
import type { ValidateFormat, ValidateResult } from '../commands/validate.js';
import { RULE_REGISTRY, type LocatedFinding } from '../validate/index.js';
import { oneLine } from './terminal-text.js';

export interface ValidateOutputOptions {
  /** ANSI colour (the caller decides: a TTY, no NO_COLOR/CI, no --no-color). */
  color?: boolean;
  /** Tool version for SARIF. */
  version?: string;
}

/** Version of the `-o json` shape; bumped only on incompatible changes. */
export const VALIDATE_JSON_VERSION = 1;

export function formatValidateResult(result: ValidateResult, format: ValidateFormat, opts: ValidateOutputOptions = {}): string {
  if (format === 'json') return `${JSON.stringify({ version: VALIDATE_JSON_VERSION, ...result }, null, 2)}\n`;
  if (format === 'sarif') return `${JSON.stringify(toSarif(result, opts.version ?? '0.0.0'), null, 2)}\n`;
  return formatText(result, opts.color === true);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One block per file; findings sorted by position; a summary line last. File names and messages are escaped. */
export function formatText(result: ValidateResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const lines: string[] = [];
  for (const report of result.files) {
    const file = { ...report, file: oneLine(report.file) };
    const findings = [...file.findings].sort((a, b) => a.line - b.line || a.column - b.column);
    if (findings.length === 0 && file.skipped.length === 0) {
      lines.push(`${c.bold(file.file)}: ${c.green('ok')}${file.documents > 1 ? ` (${file.documents} documents)` : ''}`);
      continue;
    }
    lines.push(c.bold(file.file));
    const width = Math.max(0, ...findings.map((f) => `${f.line}:${f.column}`.length));
    for (const f of findings) {
      const sev = f.severity === 'error' ? c.red('error  ') : c.yellow('warning');
      lines.push(`  ${`${f.line}:${f.column}`.padEnd(width)}  ${sev}  ${c.bold(f.rule)}  ${oneLine(f.message)}`);
    }
    for (const s of file.skipped) lines.push(c.dim(`  ${`${s.line}:1`.padEnd(width)}  note     ${oneLine(s.message)}`));
  }
  const s = result.summary;
  const verdict = s.errors > 0 ? c.red('failed') : s.warnings > 0 && result.strict ? c.yellow('failed (--strict)') : c.green('passed');
  lines.push(
    `${lines.length > 0 ? '\n' : ''}${verdict}: ${plural(s.files, 'file')}, ${plural(s.documents, 'document')}, ${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function artifactUri(file: string): string {
  if (file === '-') return 'stdin';
  const slashed = file.replace(/\\/g, '/').replace(/^\.\//, '');
  return slashed.startsWith('/') ? `file://${encodeURI(slashed)}` : encodeURI(slashed);
}

/** SARIF 2.1.0: one run, every rule as metadata, every finding with its file and region. */
export function toSarif(result: ValidateResult, version: string): Record<string, unknown> {
  const index = new Map(RULE_REGISTRY.map((r, i) => [r.id, i]));
  const sarifResult = (f: LocatedFinding) => ({
    ruleId: f.rule,
    ruleIndex: index.get(f.rule) ?? -1,
    level: f.severity,
    message: { text: f.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: artifactUri(f.file) },
          region: { startLine: f.line, startColumn: f.column },
        },
        ...(f.path ? { logicalLocations: [{ fullyQualifiedName: f.path, kind: 'member' }] } : {}),
      },
    ],
    properties: { document: f.document },
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'snapshotctl',
            version,
            rules: RULE_REGISTRY.map((r) => ({
              id: r.id,
              name: r.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')).replace(/^./, (ch) => ch.toUpperCase()),
              shortDescription: { text: r.title },
              help: { text: r.fix },
              defaultConfiguration: { level: r.severity },
              properties: { purposes: [...r.purposes], lintOnly: r.lintOnly === true },
            })),
          },
        },
        results: result.files.flatMap((f) => f.findings.map(sarifResult)),
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: result.files.flatMap((f) =>
              f.skipped.map((s) => ({
                level: 'note',
                message: { text: s.message },
                locations: [{ physicalLocation: { artifactLocation: { uri: artifactUri(s.file) }, region: { startLine: s.line } } }],
              })),
            ),
          },
        ],
      },
    ],
  };
}
