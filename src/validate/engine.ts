/** Judging one file's text: every document, every applicable rule, with source positions. */
import type { Finding } from '../errors.js';
import { RULES } from '../protocol/manifest.js';
import { parseDocuments, type SourceDocument } from './documents.js';
import { runRules } from './rules.js';
import type { Purpose, RuleContext } from './types.js';
import { rec, show } from './util.js';

/** A finding with the place it concerns. */
export interface LocatedFinding extends Finding {
  file: string;
  /** 0-based document index in the file. */
  document: number;
  /** 1-based, pointing at the field or its nearest existing parent. */
  line: number;
  column: number;
}

/** A document that was not judged (directory walks skip other kinds). */
export interface SkipNote {
  file: string;
  document: number;
  line: number;
  message: string;
}

export interface FileReport {
  file: string;
  /** Documents judged. */
  documents: number;
  findings: LocatedFinding[];
  skipped: SkipNote[];
}

export interface JudgeOptions {
  /** Named on the command line (or stdin): every document is judged, other kinds are SNAP002. */
  explicit: boolean;
  purposes: readonly Purpose[];
  /** Everything but the purpose. */
  context: Omit<RuleContext, 'purpose'>;
}

/**
 * Is this document a Pod worth judging in a directory walk? A Pod, or an object without
 * a kind that has a spec (§3 treats an empty kind as Pod); anything else is someone
 * else's manifest (Deployments, kustomization.yaml, Helm values).
 */
function looksLikePod(value: unknown): boolean {
  const obj = rec(value);
  if (!obj) return false;
  const kind = obj['kind'];
  if (kind === 'Pod') return true;
  return (kind === undefined || kind === null || kind === '') && rec(obj['spec']) !== undefined;
}

/** Findings of all purposes, each (rule, path, message) once. */
function judgeObject(obj: Record<string, unknown>, opts: JudgeOptions): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const purpose of opts.purposes) {
    for (const f of runRules(obj, { ...opts.context, purpose })) {
      const key = `${f.rule}\0${f.path}\0${f.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

function documentError(file: string, doc: SourceDocument, message: string): LocatedFinding {
  const at = doc.error?.position ?? doc.position;
  return { rule: RULES.document, severity: 'error', path: '', message, file, document: doc.index, line: at.line, column: at.column };
}

/** Judge one file's text. Never throws: unreadable input becomes SNAP007 findings. */
export function judgeText(text: string, file: string, opts: JudgeOptions): FileReport {
  const report: FileReport = { file, documents: 0, findings: [], skipped: [] };
  const docs = parseDocuments(text);
  if (docs.length === 0) {
    if (opts.explicit) report.findings.push({ rule: RULES.document, severity: 'error', path: '', message: 'the file holds no document; give a Pod manifest', file, document: 0, line: 1, column: 1 });
    else report.skipped.push({ file, document: 0, line: 1, message: 'no documents' });
    return report;
  }
  for (const doc of docs) {
    if (doc.error) {
      report.documents += 1;
      report.findings.push(documentError(file, doc, `not valid YAML or JSON: ${doc.error.message}`));
      continue;
    }
    if (!opts.explicit && !looksLikePod(doc.value)) {
      const kind = rec(doc.value)?.['kind'];
      report.skipped.push({
        file,
        document: doc.index,
        line: doc.position.line,
        message: kind !== undefined ? `skipped kind ${show(kind)}: not a Pod (name the file to have it judged)` : 'skipped: not a Pod manifest',
      });
      continue;
    }
    report.documents += 1;
    const obj = rec(doc.value);
    if (!obj) {
      report.findings.push(documentError(file, doc, `the document is ${Array.isArray(doc.value) ? 'a list' : show(doc.value)}, not an object; give a Pod manifest`));
      continue;
    }
    for (const f of judgeObject(obj, opts)) {
      const at = f.path.startsWith('--') ? doc.position : doc.locate(f.path);
      report.findings.push({ ...f, file, document: doc.index, line: at.line, column: at.column });
    }
  }
  return report;
}
