/** Output of `hash`: the hash alone, `hash  source` lines, or a JSON document. */
import type { HashOutput, HashResult } from '../commands/hash.js';
import { DOCUMENT_API_VERSION } from './api-version.js';
import { oneLine } from './terminal-text.js';

/** `hash`: the hash alone (one identity) or `hash  source` lines; json: a document. */
export function formatHash(result: HashResult, format: HashOutput): string {
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          apiVersion: DOCUMENT_API_VERSION,
          kind: 'IdentityHashList',
          items: result.items.map((i) => ({ source: i.source, ...(i.service !== undefined ? { service: i.service } : {}), hash: i.hash, canonical: i.canonical, identity: i.identity })),
        },
        null,
        2,
      ) + '\n'
    );
  }
  if (result.items.length === 1) return `${result.items[0]!.hash}\n`;
  return result.items.map((i) => `${i.hash}  ${oneLine(i.service ?? i.source)}\n`).join('');
}
