/**
 * How snapshotctl reads YAML and JSON it is given (manifests, identity files, the
 * artifact's manifest.yaml, the project config, the kubeconfig): one set of options,
 * so that every reader agrees with kubectl on what a document means.
 *
 * - Merge keys (`<<: *anchor`) are applied, as kubectl's YAML decoder does; without
 *   them a container's limits and env from an anchor would be sent as a literal `"<<"`
 *   key, which the API server drops. Only a plain `<<` merges; a quoted `"<<"` (JSON)
 *   stays a key, as in kubectl.
 * - Alias expansion is capped (a "billion laughs" document fails instead of filling memory).
 * - Errors are plain messages (the pretty form copies the source into the message).
 * - Input is bounded before it is parsed: at most MAX_INPUT_BYTES, nested at most
 *   MAX_NESTING_DEPTH levels (70 MB of YAML ran V8 out of memory; 10,000 nested `[`
 *   overflowed the stack).
 */
import { Composer, Parser, type CST, type Document, type LineCounter, type YAMLError } from 'yaml';
import { MAX_INPUT_BYTES, MAX_NESTING_DEPTH } from './input-limits.js';

export { MAX_INPUT_BYTES, MAX_NESTING_DEPTH };

/** Most alias expansions one document may make before it is refused. */
export const MAX_ALIAS_COUNT = 100;
/** Input refused for its size or depth; `phrase` follows the input's name (`is larger than ...`). */
export class YamlLimitError extends Error {
  override readonly name = 'YamlLimitError';
  readonly phrase: string;
  constructor(phrase: string) {
    super(`the input ${phrase}`);
    this.phrase = phrase;
  }
}

/**
 * The phrase for input over MAX_INPUT_BYTES, after the input's name:
 * `is larger than 3 MiB (3145728 bytes), the most snapshotctl reads: ...`.
 */
export function tooLargePhrase(): string {
  return `is larger than ${MAX_INPUT_BYTES / (1024 * 1024)} MiB (${MAX_INPUT_BYTES} bytes), the most snapshotctl reads: about what the API server accepts for one object`;
}

/** A parse error as a sentence; a stack overflow inside yaml becomes the depth limit. */
export function yamlErrorMessage(error: YAMLError): string {
  if (error.code === 'RESOURCE_EXHAUSTION' && /call stack/i.test(error.message)) return `it ${nestedTooDeep()}`;
  return error.message.split('\n')[0] ?? 'syntax error';
}

function nestedTooDeep(): string {
  return `is nested more than ${MAX_NESTING_DEPTH} levels deep; a Kubernetes object is far shallower`;
}

/**
 * Deepest collection nesting of the parsed token tree, counted without recursion.
 * yaml's parser is iterative, but building documents from its tokens recurses once per
 * level: deep input must be refused here, before that. (Near the stack's end V8 can
 * even abort the process instead of throwing, so catching the overflow is not enough.)
 */
function tokenDepth(tokens: CST.Token[]): number {
  let max = 0;
  const stack: Array<[CST.Token, number]> = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, d] = stack.pop()!;
    if (t.type === 'document') {
      if (t.value) stack.push([t.value, d]);
    } else if (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection') {
      if (d + 1 > max) max = d + 1;
      if (max > MAX_NESTING_DEPTH) return max;
      for (const item of t.items) {
        if (item.key) stack.push([item.key, d + 1]);
        if (item.value) stack.push([item.value, d + 1]);
      }
    }
  }
  return max;
}

/** Deepest nesting of a plain value, counted without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > MAX_NESTING_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Options for yaml's parse functions. */
export const YAML_PARSE_OPTIONS = { merge: true, prettyErrors: false } as const;

/**
 * Every document of `text`. Bad YAML does not throw (each document carries its errors);
 * input over MAX_INPUT_BYTES, or nested deeper than MAX_NESTING_DEPTH, throws a
 * YamlLimitError before any document is built.
 */
export function parseYamlDocuments(text: string, lineCounter?: LineCounter): Document.Parsed[] {
  // A UTF-16 unit is at most 3 UTF-8 bytes: shorter text needs no count.
  if (text.length > MAX_INPUT_BYTES / 3) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_INPUT_BYTES) throw new YamlLimitError(tooLargePhrase());
  }
  // parseAllDocuments, in its two steps, with the depth checked between them.
  const tokens = Array.from(new Parser(lineCounter?.addNewLine).parse(text));
  if (tokenDepth(tokens) > MAX_NESTING_DEPTH) throw new YamlLimitError(nestedTooDeep());
  return Array.from(new Composer(YAML_PARSE_OPTIONS).compose(tokens));
}

/**
 * A parsed document's value; throws for an alias to nothing or one that expands too
 * far, and a YamlLimitError for nesting deeper than MAX_NESTING_DEPTH.
 */
export function documentValue(doc: Document.Parsed): unknown {
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof RangeError) throw new YamlLimitError(nestedTooDeep());
    throw err;
  }
  if (depthOf(value) > MAX_NESTING_DEPTH) throw new YamlLimitError(nestedTooDeep());
  return value;
}

/**
 * The value of text that holds one document (yaml's `parse`, with the options above);
 * throws with the first problem: a syntax error, several documents, a bad alias.
 */
export function parseYamlValue(text: string): unknown {
  const docs = parseYamlDocuments(text).filter((d) => d.errors.length > 0 || d.contents !== null);
  const first = docs[0];
  if (!first) return null;
  const error = first.errors[0];
  if (error) throw new Error(yamlErrorMessage(error));
  if (docs.length > 1) throw new Error(`the text holds ${docs.length} documents; one was expected`);
  return documentValue(first);
}
