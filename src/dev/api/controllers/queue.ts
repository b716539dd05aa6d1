/**
 * A tiny deduplicating work queue: controllers enqueue keys from store events and the
 * queue runs the reconcile function once per key on the next macrotask, so store
 * writes never re-enter a controller synchronously.
 */
export class WorkQueue {
  private readonly pending = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly reconcile: (key: string) => void) {}

  /** Queue a key (no-op if already queued). */
  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    this.scheduled ??= setImmediate(() => this.drain());
  }

  /** Queue a key after a delay (for deadlines and retries). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    this.timers.add(t);
  }

  private drain(): void {
    this.scheduled = undefined;
    const keys = [...this.pending];
    this.pending.clear();
    for (const k of keys) {
      if (this.stopped) return;
      try {
        this.reconcile(k);
      } catch {
        // Retry later, as controllers requeue on error.
        this.addAfter(k, 200);
      }
    }
  }

  /** Stop for good: drop pending work and timers. */
  stop(): void {
    this.stopped = true;
    this.pending.clear();
    if (this.scheduled) clearImmediate(this.scheduled);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** `ns/name` key. */
export function keyOf(ns: string | undefined, name: string | undefined): string {
  return `${ns ?? ''}/${name ?? ''}`;
}

/** Split a `ns/name` key. */
export function splitKey(key: string): [string | undefined, string] {
  const i = key.indexOf('/');
  const ns = key.slice(0, i);
  return [ns === '' ? undefined : ns, key.slice(i + 1)];
}
