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
 */
import { parseAllDocuments, type Document, type LineCounter } from 'yaml';

/** Most alias expansions one document may make before it is refused. */
export const MAX_ALIAS_COUNT = 100;

/** Options for yaml's parse functions. */
export const YAML_PARSE_OPTIONS = { merge: true, prettyErrors: false } as const;

/** Every document of `text`; never throws for bad YAML (each document carries its errors). */
export function parseYamlDocuments(text: string, lineCounter?: LineCounter): Document.Parsed[] {
  const docs = parseAllDocuments(text, { ...YAML_PARSE_OPTIONS, ...(lineCounter ? { lineCounter } : {}) });
  return Array.isArray(docs) ? docs : [];
}

/** A parsed document's value; throws for an alias to nothing or one that expands too far. */
export function documentValue(doc: Document.Parsed): unknown {
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
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
  if (error) throw error;
  if (docs.length > 1) throw new Error(`the text holds ${docs.length} documents; one was expected`);
  return documentValue(first);
}
