/**
 * Splitting a YAML/JSON stream into documents, keeping source positions so findings
 * can point at a line (text output, SARIF regions).
 */
import { LineCounter, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { documentValue, parseYamlDocuments, yamlErrorMessage } from '../protocol/yaml-input.js';
import { parsePath } from './util.js';

export interface Position {
  line: number;
  column: number;
}

export interface SourceDocument {
  /** 0-based position in the stream, counting empty documents too. */
  index: number;
  /** The document's value; undefined when it did not parse. */
  value: unknown;
  /** Parse problem, when there is one. */
  error?: { message: string; position: Position };
  /** Where the document starts. */
  position: Position;
  /** Line and column of a field path, or of its nearest existing parent. */
  locate(path: string): Position;
}

/** Parse every document; never throws. Empty documents (a trailing `---`) are dropped. */
export function parseDocuments(text: string): SourceDocument[] {
  const lines = new LineCounter();
  let docs: Array<Document.Parsed>;
  try {
    docs = parseYamlDocuments(text, lines);
  } catch (err) {
    const at = { line: 1, column: 1 };
    return [{ index: 0, value: undefined, error: { message: (err as Error).message, position: at }, position: at, locate: () => at }];
  }
  const pos = (offset: number | undefined): Position => {
    const p = lines.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };
  const out: SourceDocument[] = [];
  docs.forEach((doc, index) => {
    const contents = doc.contents;
    const empty = contents === null || (isScalar(contents) && contents.value === null);
    if (doc.errors.length === 0 && empty) return;
    const start = pos(contents?.range?.[0] ?? doc.range?.[0]);
    const locate = (path: string): Position => {
      const steps = parsePath(path);
      return steps ? pos(findOffset(contents, steps) ?? contents?.range?.[0]) : start;
    };
    const first = doc.errors[0];
    if (first) {
      out.push({ index, value: undefined, error: { message: yamlErrorMessage(first), position: pos(first.pos[0]) }, position: start, locate });
      return;
    }
    let value: unknown;
    try {
      value = documentValue(doc);
    } catch (err) {
      out.push({ index, value: undefined, error: { message: (err as Error).message.split('\n')[0] ?? 'cannot read', position: start }, position: start, locate });
      return;
    }
    out.push({ index, value, position: start, locate });
  });
  return out;
}

/** Offset of the key (or item) a path names, stopping at the deepest one that exists. */
function findOffset(root: Node | null, steps: Array<string | number>): number | undefined {
  let node: unknown = root;
  let found: number | undefined;
  for (const step of steps) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) return found;
      found = (pair.key as Node).range?.[0] ?? found;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step] as Node | undefined;
      if (!item) return found;
      found = item.range?.[0] ?? found;
      node = item;
    } else {
      return found;
    }
  }
  return found;
}
