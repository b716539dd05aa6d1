/**
 * Fault injection and the request log, for tests (ours and other teams' e2e tests).
 *
 * Usage:
 * ```ts
 * const api = await startApiServer();
 * // Next 2 creates of jobs in "default" answer 503 with `Retry-After: 1`.
 * api.faults.add({ verb: 'create', resource: 'jobs', namespace: 'default', times: 2,
 *                  effect: { kind: 'status', code: 503, retryAfterSeconds: 1 } });
 * // Every pod GET is 300 ms slower; half of pod lists fail with 500.
 * api.faults.add({ verb: 'get', resource: 'pods', effect: { kind: 'delay', ms: 300 } });
 * api.faults.add({ verb: 'list', resource: 'pods', probability: 0.5, effect: { kind: 'status', code: 500 } });
 * // A watch on pods answers with an ERROR event carrying 410 Gone (like an expired RV).
 * api.faults.add({ verb: 'watch', resource: 'pods', times: 1, effect: { kind: 'status', code: 410 } });
 * // New pod watches are cut after 3 events (or 500 ms); open ones are cut now.
 * api.faults.add({ verb: 'watch', resource: 'pods', effect: { kind: 'dropWatch', afterEvents: 3 } });
 * api.faults.dropWatches({ resource: 'pods' });
 * // Only user "cli" meets it: every watch on jobs answers 500 (the agents' own token is spared).
 * api.faults.add({ verb: 'watch', resource: 'jobs', user: 'cli', effect: { kind: 'status', code: 500 } });
 * // The next delete of job "x" gets its TCP connection reset.
 * api.faults.add({ verb: 'delete', resource: 'jobs', name: 'x', times: 1, effect: { kind: 'reset' } });
 * api.faults.clear();
 * // Count what a client did:
 * api.requestLog.count({ verb: 'create', resource: 'jobs' });
 * api.requestLog.clear();
 * ```
 * Verbs are the authorizer's: get, list, watch, create, update, patch, delete,
 * deletecollection. `resource` is the plural (`pods`, `jobs`, `dynamocheckpoints`);
 * `subresource` (`status`) must match exactly when given and otherwise matches any.
 * Discovery and OpenAPI requests (no resource) are never matched by resource rules.
 */

/** Verbs a fault can match. */
export type FaultVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** What a fault (or a request-log filter) matches; absent fields match anything. */
export interface FaultMatch {
  verb?: FaultVerb | FaultVerb[];
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** The authenticated user: a fault for one client (the CLI) that the agents, on another token, never meet. */
  user?: string;
}

/** The effect of a fault. */
export type FaultEffect =
  /** Answer with this code and a Status body (429/503 get `Retry-After`). For `watch`, 410 is sent as an ERROR event. */
  | { kind: 'status'; code: number; retryAfterSeconds?: number; message?: string }
  /** Hold the response this long before serving it normally. */
  | { kind: 'delay'; ms: number }
  /** Destroy the TCP connection without answering. */
  | { kind: 'reset' }
  /** For watches: serve the watch, then cut it after `afterMs` and/or `afterEvents` (default: at once). `mode: 'end'` ends the stream cleanly instead of destroying the socket. */
  | { kind: 'dropWatch'; afterMs?: number; afterEvents?: number; mode?: 'destroy' | 'end' };

/** A fault rule: match + effect + how often. */
export interface FaultRule extends FaultMatch {
  effect: FaultEffect;
  /** Fire this many times, then stop (default: forever). */
  times?: number;
  /** Fire with this probability (0..1, default 1). */
  probability?: number;
}

/** A registered fault. */
export interface Fault {
  readonly id: number;
  readonly rule: FaultRule;
  /** How many times it fired. */
  hits: number;
  /** Unregister it. */
  remove(): void;
}

/** The request facts faults and the log match on. */
export interface RequestFacts {
  verb: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  user?: string;
}

interface OpenWatch {
  facts: RequestFacts;
  drop: (mode: 'destroy' | 'end') => void;
}

function matches(m: FaultMatch, f: RequestFacts): boolean {
  if (m.verb !== undefined) {
    const verbs = Array.isArray(m.verb) ? m.verb : [m.verb];
    if (!verbs.includes(f.verb as FaultVerb)) return false;
  }
  if (m.resource !== undefined && m.resource !== f.resource) return false;
  if (m.subresource !== undefined && m.subresource !== f.subresource) return false;
  if (m.namespace !== undefined && m.namespace !== f.namespace) return false;
  if (m.name !== undefined && m.name !== f.name) return false;
  if (m.user !== undefined && m.user !== f.user) return false;
  return true;
}

/** The fault table; see the file comment for examples. */
export class FaultInjector {
  private readonly rules: Fault[] = [];
  private nextId = 1;
  private readonly watches = new Set<OpenWatch>();

  /** Register a fault. */
  add(rule: FaultRule): Fault {
    const fault: Fault = {
      id: this.nextId++,
      rule,
      hits: 0,
      remove: () => {
        const i = this.rules.indexOf(fault);
        if (i >= 0) this.rules.splice(i, 1);
      },
    };
    this.rules.push(fault);
    return fault;
  }

  /** Shorthand: the next `times` matching requests answer `code`. */
  failNext(match: FaultMatch, code: number, times = 1, retryAfterSeconds?: number): Fault {
    const effect: FaultEffect = { kind: 'status', code };
    if (retryAfterSeconds !== undefined) effect.retryAfterSeconds = retryAfterSeconds;
    return this.add({ ...match, times, effect });
  }

  /** Remove every fault (open watches are left alone). */
  clear(): void {
    this.rules.length = 0;
  }

  /** The registered faults. */
  list(): readonly Fault[] {
    return [...this.rules];
  }

  /**
   * Consume the faults that fire for this request. Delays add up; the first status,
   * reset or dropWatch effect wins.
   */
  take(facts: RequestFacts): { delayMs: number; effect?: Exclude<FaultEffect, { kind: 'delay' }> } {
    let delayMs = 0;
    let effect: Exclude<FaultEffect, { kind: 'delay' }> | undefined;
    for (const f of [...this.rules]) {
      if (!matches(f.rule, facts)) continue;
      if (f.rule.effect.kind !== 'delay' && effect !== undefined) continue;
      if (f.rule.probability !== undefined && Math.random() >= f.rule.probability) continue;
      f.hits++;
      if (f.rule.times !== undefined && f.hits >= f.rule.times) f.remove();
      if (f.rule.effect.kind === 'delay') delayMs += f.rule.effect.ms;
      else effect = f.rule.effect;
    }
    return effect === undefined ? { delayMs } : { delayMs, effect };
  }

  /**
   * Cut open watch streams that match (all when no match is given), now or after
   * `afterMs`. Returns how many were cut (or scheduled).
   */
  dropWatches(match: FaultMatch = {}, opts: { afterMs?: number; mode?: 'destroy' | 'end' } = {}): number {
    const hit = [...this.watches].filter((w) => matches({ ...match, verb: undefined }, w.facts));
    const mode = opts.mode ?? 'destroy';
    for (const w of hit) {
      if (opts.afterMs) setTimeout(() => w.drop(mode), opts.afterMs).unref();
      else w.drop(mode);
    }
    return hit.length;
  }

  /** Number of watch streams open now. */
  openWatches(match: FaultMatch = {}): number {
    return [...this.watches].filter((w) => matches({ ...match, verb: undefined }, w.facts)).length;
  }

  /** Internal: the HTTP layer registers each open watch. */
  registerWatch(facts: RequestFacts, drop: (mode: 'destroy' | 'end') => void): () => void {
    const w: OpenWatch = { facts, drop };
    this.watches.add(w);
    return () => this.watches.delete(w);
  }
}

/** One served request. */
export interface RequestLogEntry {
  /** Epoch ms when the request arrived. */
  time: number;
  method: string;
  path: string;
  /** Raw query string without `?`. */
  rawQuery: string;
  query: Record<string, string>;
  /** Authorizer verb (get, list, watch, create, ...); `''` for discovery and other paths. */
  verb: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** HTTP status sent; 0 when the connection was reset by a fault. */
  status: number;
  /** Authenticated user name, when known. */
  user?: string;
  /** Time to the response head (watches stay open after it). */
  durationMs: number;
  /** Set when a fault changed the response (`status`, `delay`, `reset`, `dropWatch`). */
  fault?: string;
}

/** A filter for the log: every given field must be equal. */
export type RequestLogFilter = Partial<Pick<RequestLogEntry, 'method' | 'path' | 'verb' | 'resource' | 'subresource' | 'namespace' | 'name' | 'status' | 'user'>>;

/** Every request the server answered, oldest first. */
export class RequestLog {
  private readonly items: RequestLogEntry[] = [];
  /** Keep at most this many entries (oldest dropped). */
  limit = 10_000;

  /** Internal: record an entry. */
  record(e: RequestLogEntry): void {
    this.items.push(e);
    if (this.items.length > this.limit) this.items.shift();
  }

  /** Entries matching the filter (copies). */
  entries(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.items.filter((e) => Object.entries(filter).every(([k, v]) => v === undefined || (e as unknown as Record<string, unknown>)[k] === v)).map((e) => ({ ...e, query: { ...e.query } }));
  }

  /** How many entries match. */
  count(filter: RequestLogFilter = {}): number {
    return this.entries(filter).length;
  }

  /** Forget everything. */
  clear(): void {
    this.items.length = 0;
  }
}
