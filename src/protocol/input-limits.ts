/** Bounds on what snapshotctl reads (no imports: the CLI's file reader loads it at start-up). */

/**
 * Largest input read, in bytes. The API server takes about this much for one object
 * (its request limit is 3 MiB; etcd's default value limit, 1.5 MiB, is lower still),
 * so a larger manifest could never be sent anyway.
 */
export const MAX_INPUT_BYTES = 3 * 1024 * 1024;
/** Deepest nesting accepted; a Kubernetes object is a dozen levels deep at most. */
export const MAX_NESTING_DEPTH = 100;
