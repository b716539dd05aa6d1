/**
 * Output of the catalogue commands (`hash`, `list`, `describe`, `delete`): the stable
 * JSON/YAML documents scripts parse and the human text. Tables and ages: `table.ts`.
 */
import type { HashOutput, HashResult } from '../commands/hash.js';

/** API version of every machine-readable document the catalogue commands print. */
export const CATALOGUE_API_VERSION = 'snapshotctl/v1';

/** `hash`: the hash alone (one identity) or `hash  source` lines; json: a document. */
export function formatHash(result: HashResult, format: HashOutput): string {
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          apiVersion: CATALOGUE_API_VERSION,
          kind: 'IdentityHashList',
          items: result.items.map((i) => ({ source: i.source, ...(i.service !== undefined ? { service: i.service } : {}), hash: i.hash, canonical: i.canonical, identity: i.identity })),
        },
        null,
        2,
      ) + '\n'
    );
  }
  if (result.items.length === 1) return `${result.items[0]!.hash}\n`;
  return result.items.map((i) => `${i.hash}  ${i.service ?? i.source}\n`).join('');
}
