/**
 * API version of every machine-readable document `list`, `describe`, `delete`, `prune`
 * and `hash` print (apiVersion snapshotctl/v1). Its own file: `hash` prints it without
 * loading the table and YAML code of the others.
 */
export const DOCUMENT_API_VERSION = 'snapshotctl/v1';
