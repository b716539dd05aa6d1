/**
 * `KubeClient` over plain Node `http`/`https`. The kubeconfig (config.ts) fills in auth
 * and TLS per request (ours for tokens, token files, client certificates and basic
 * auth; `@kubernetes/client-node` for exec plugins, auth providers and proxies); URLs, retries, the rate limit (`rate-limit.ts`), watch
 * streaming and error translation are ours, so they behave the same across client-node
 * majors and are testable at the HTTP level.
 */
import http from 'node:http';
import https from 'node:https';
import type { LoadedKubeConfig } from './config.js';
import { loadKubeConfig } from './config.js';
import { ApiError, errorCode, isTransient, type ApiErrorInit, type Idempotency, type Verb } from './errors.js';
import { DEFAULT_RATE_LIMIT, TokenBucket, type RateLimit } from './rate-limit.js';
import type {
  DeleteOptions,
  KubeClient,
  ListOptions,
  ListResult,
  PatchType,
  RequestLogger,
  RequestOptions,
  ResourceType,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from './types.js';
import { RESOURCES } from './types.js';
import type { KubeObject } from '../protocol/types.js';

/** How failed calls are retried. All fields have defaults; tests inject `sleep`/`random`. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** First back-off; doubles per attempt. */
  baseDelayMs: number;
  /** Ceiling of one back-off (and of an honoured `Retry-After`). */
  maxDelayMs: number;
  /** Waits `ms`; rejects when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for jitter. */
  random: () => number;
}

export interface CreateKubeClientOptions {
  /** `--kubeconfig`. */
  kubeconfig?: string;
  /** `--kube-context`. */
  context?: string;
  /** Receives every request (for `--verbose`). */
  logger?: RequestLogger;
  /** `User-Agent` header; default `snapshotctl`. */
  userAgent?: string;
  /** Environment for kubeconfig resolution; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Overrides of the retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Limit for the answer to one try, ms (a watch's ends with the response head); default 30 000. */
  requestTimeoutMs?: number;
  /** Requests per second for everything this client sends; default 8 a second, 16 at once. `false`: no limit. */
  rateLimit?: RateLimit | false;
  /** Injectable for tests: the rate limiter's clock. */
  clock?: () => number;
}

/** Our defaults: 200 ms doubling to 5 s, five attempts (about 3 s of back-off in all). */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  sleep: abortableSleep,
  random: Math.random,
};

/**
 * Builds the client from the kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`,
 * in-cluster) and `--kube-context`. Throws `UsageError`/`ClusterError` from `loadKubeConfig`.
 */
export async function createKubeClient(opts: CreateKubeClientOptions = {}): Promise<KubeClient> {
  const loaded = await loadKubeConfig({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    env: opts.env ?? process.env,
  });
  return createKubeClientFromConfig(loaded, opts);
}

/** Builds the client from an already loaded kubeconfig (tests, the dev cluster). */
export function createKubeClientFromConfig(loaded: LoadedKubeConfig, opts: CreateKubeClientOptions = {}): KubeClient {
  return new HttpKubeClient(loaded, opts);
}

/**
 * The REST path of a resource, a named object or its subresource:
 * `/api/v1/namespaces/ml/pods/w`, `/apis/batch/v1/namespaces/ml/jobs`, `/api/v1/nodes/n1`.
 */
export function resourcePath(res: ResourceType, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  // A namespaced resource without a namespace is the all-namespaces collection.
  if (res.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${res.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

/** The `Content-Type` of each patch flavour. */
export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal | undefined): Error {
  const err = new Error('the operation was aborted');
  err.name = 'AbortError';
  (err as Error & { cause?: unknown }).cause = signal?.reason;
  return err;
}

interface CallSpec {
  verb: Verb;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  res: ResourceType;
  namespace: string | undefined;
  /** The object named in errors; also in the URL unless `collection`. */
  name?: string | undefined;
  /** POST goes to the collection even though errors name the object being created. */
  collection?: boolean;
  subresource?: string | undefined;
  query: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal | undefined;
  /** Tries in all; default the retry policy's. */
  attempts?: number | undefined;
  /** The body is text (pods/log), returned as it is. */
  text?: boolean;
  /** Limit for the answer to one try, ms; default the client's. */
  timeoutMs?: number | undefined;
}

interface Opened {
  req: http.ClientRequest;
  res: http.IncomingMessage;
  url: string;
  started: number;
}

class HttpKubeClient implements KubeClient {
  readonly contextNamespace: string;
  readonly contextName: string;
  readonly server: string;
  private readonly loaded: LoadedKubeConfig;
  private readonly base: URL;
  private readonly logger: RequestLogger | undefined;
  private readonly userAgent: string;
  private readonly retry: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly agent: http.Agent | undefined;
  private readonly limiter: TokenBucket | undefined;

  constructor(loaded: LoadedKubeConfig, opts: CreateKubeClientOptions) {
    this.loaded = loaded;
    this.contextNamespace = loaded.namespace;
    this.contextName = loaded.contextName;
    this.server = loaded.server;
    this.base = new URL(loaded.server);
    this.logger = opts.logger;
    this.userAgent = opts.userAgent ?? 'snapshotctl';
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    // The retry policy's sleep, so tests that make back-off instant make this instant too.
    this.limiter = opts.rateLimit === false ? undefined : new TokenBucket(opts.rateLimit ?? DEFAULT_RATE_LIMIT, this.retry.sleep, opts.clock);
    // One keep-alive agent for all calls; client-node's own agent is used only through a
    // proxy. Per-request TLS options (ca, cert, key) still reach the agent's connections.
    this.agent = loaded.proxyUrl
      ? undefined
      : this.base.protocol === 'http:'
        ? new http.Agent({ keepAlive: true })
        : new https.Agent({ keepAlive: true });
  }

  async get<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    return (await this.call({ verb: 'get', method: 'GET', res, namespace, name, query: {}, ...perCall(opts) }, 'read')) as T;
  }

  async list<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    opts: ListOptions = {},
  ): Promise<ListResult<T>> {
    const body = await this.call(
      {
        verb: 'list',
        method: 'GET',
        res,
        namespace,
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
        ...perCall(opts),
      },
      'read',
    );
    const items = isRecord(body) && Array.isArray(body.items) ? (body.items as T[]) : [];
    const meta = isRecord(body) && isRecord(body.metadata) ? body.metadata : {};
    // Lists omit apiVersion/kind on items; fill them so callers can print them as is.
    const apiVersion = res.group ? `${res.group}/${res.version}` : res.version;
    for (const it of items) {
      it.apiVersion ??= apiVersion;
      it.kind ??= res.kind;
    }
    return { items, resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '' };
  }

  async create<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    body: KubeObject,
    opts: WriteOptions = {},
  ): Promise<T> {
    return (await this.call(
      {
        verb: 'create',
        method: 'POST',
        res,
        namespace,
        name: body.metadata?.name,
        collection: true,
        query: { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: 'snapshotctl' },
        body,
        contentType: 'application/json',
        ...perCall(opts),
      },
      'write',
    )) as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<T> {
    return (await this.call(
      {
        verb: 'patch',
        method: 'PATCH',
        res,
        namespace,
        name,
        subresource: opts.subresource,
        query: { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: 'snapshotctl' },
        body,
        contentType: PATCH_CONTENT_TYPES[type],
        ...perCall(opts),
      },
      'write',
    )) as T;
  }

  async delete(res: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.uid || opts.resourceVersion) {
      body.preconditions = { ...(opts.uid ? { uid: opts.uid } : {}), ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}) };
    }
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.dryRun) body.dryRun = ['All'];
    await this.call(
      { verb: 'delete', method: 'DELETE', res, namespace, name, query: {}, body, contentType: 'application/json', ...perCall(opts) },
      'write',
    );
  }

  async log(namespace: string, pod: string, opts: RequestOptions & { container?: string } = {}): Promise<string> {
    const body = await this.call(
      { verb: 'get', method: 'GET', res: RESOURCES.pods, namespace, name: pod, subresource: 'log', query: { container: opts.container, limitBytes: String(LOG_LIMIT_BYTES) }, text: true, ...perCall(opts) },
      'read',
    );
    return typeof body === 'string' ? body : '';
  }

  async *watch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    if (signal.aborted) return;
    const spec: CallSpec = {
      verb: 'watch',
      method: 'GET',
      res,
      namespace,
      query: {
        watch: 'true',
        allowWatchBookmarks: 'true',
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        resourceVersion: opts.resourceVersion,
        timeoutSeconds: opts.timeoutSeconds !== undefined ? String(opts.timeoutSeconds) : undefined,
      },
      ...perCall(opts),
      signal,
    };
    let opened: Opened;
    try {
      opened = await this.withRetries(spec, 'read');
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const { req, res: msg } = opened;
    msg.setEncoding('utf8'); // decodes multi-byte characters split across chunks
    let buf = '';
    try {
      for await (const chunk of msg as AsyncIterable<string>) {
        buf += chunk;
        // A chunk may hold several events or part of one; emit only whole lines.
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) yield parseWatchEvent<T>(line);
        }
      }
      if (buf.trim()) yield parseWatchEvent<T>(buf.trim());
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError) throw err;
      throw this.transportError(spec, err);
    } finally {
      msg.destroy();
      req.destroy();
    }
  }

  /** A non-streaming call: retries, then the parsed JSON body or an `ApiError`. */
  private async call(spec: CallSpec, idem: Idempotency): Promise<unknown> {
    const { req, res } = await this.withRetries(spec, idem);
    // The limit covers the body too: a server may send the head and then nothing.
    const limitMs = spec.timeoutMs ?? this.requestTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(noAnswerError(limitMs));
    }, limitMs);
    const text = await readBody(res)
      .catch((err: unknown) => {
        if (spec.signal?.aborted) throw err;
        throw this.transportError(spec, timedOut ? noAnswerError(limitMs) : err);
      })
      .finally(() => clearTimeout(timer));
    if (spec.text) return text ?? '';
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ApiError({ ...this.who(spec), status: res.statusCode ?? 0, message: `the API server sent invalid JSON: ${text.slice(0, 200)}` });
    }
  }

  /**
   * Sends the request until it gets a successful response head or retries run out.
   * Error responses are read, closed and turned into `ApiError`.
   */
  private async withRetries(spec: CallSpec, idem: Idempotency): Promise<Opened> {
    const maxAttempts = Math.max(1, spec.attempts ?? this.retry.maxAttempts);
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined;
      let failure: ApiError;
      try {
        const opened = await this.open(spec);
        const status = opened.res.statusCode ?? 0;
        if (status < 400) return opened;
        failure = await this.statusError(spec, opened);
        if (!isTransient(failure, idem) || attempt >= maxAttempts) throw failure;
        retryAfterMs = parseRetryAfter(opened.res.headers['retry-after']);
      } catch (err) {
        if (spec.signal?.aborted) throw err;
        if (err instanceof ApiError) throw err;
        failure = this.transportError(spec, err);
        if (!isTransient(failure, idem) || attempt >= maxAttempts) throw failure;
      }
      const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      // Half fixed, half jitter, so many clients hitting one throttled server spread out.
      const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, this.retry.maxDelayMs * 6) : Math.round(backoff / 2 + (this.retry.random() * backoff) / 2);
      await this.retry.sleep(delay, spec.signal).catch((err: unknown) => {
        // Aborted while backing off: keep what the server last said, for the caller.
        if (err instanceof Error) (err as Error & { lastFailure?: ApiError }).lastFailure = failure;
        throw err;
      });
    }
  }

  /** One HTTP exchange up to the response head; the body is left to the caller. */
  private async open(spec: CallSpec): Promise<Opened> {
    const path = resourcePath(spec.res, spec.namespace, spec.collection ? undefined : spec.name, spec.subresource);
    const url = new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
    for (const [k, v] of Object.entries(spec.query)) if (v !== undefined) url.searchParams.set(k, v);
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    // Every try takes a token, so no loop above (nor the retries here) can storm the server.
    await this.limiter?.take(spec.signal);
    const options: https.RequestOptions = {
      method: spec.method,
      headers: {
        Accept: 'application/json',
        'User-Agent': this.userAgent,
        ...(payload ? { 'Content-Type': spec.contentType ?? 'application/json', 'Content-Length': String(payload.length) } : {}),
      },
    };
    // Fills Authorization (token, exec plugin, token file), basic auth and TLS material.
    await this.loaded.applyToHTTPSOptions(options);
    if (this.agent) options.agent = this.agent;
    if (spec.signal) options.signal = spec.signal;
    const started = Date.now();
    const log = (status: number): void => {
      this.logger?.({
        method: spec.method,
        url: url.toString(),
        status,
        ms: Date.now() - started,
        ...(spec.body !== undefined ? { body: spec.body } : {}),
      });
    };
    const transport = url.protocol === 'http:' ? http : https;
    const limitMs = spec.timeoutMs ?? this.requestTimeoutMs;
    return new Promise<Opened>((resolve, reject) => {
      const req = transport.request(url, options, (res) => {
        clearTimeout(timer); // a watch may stay quiet for minutes; `call` bounds a body itself
        log(res.statusCode ?? 0);
        resolve({ req, res, url: url.toString(), started });
      });
      // A deadline, not an idle timeout: a server that trickles bytes must not hold us.
      const timer = setTimeout(() => req.destroy(noAnswerError(limitMs)), limitMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => {
        log(0);
        reject(err);
      });
      req.end(payload);
    });
  }

  private async statusError(spec: CallSpec, opened: Opened): Promise<ApiError> {
    const status = opened.res.statusCode ?? 0;
    let text = '';
    try {
      text = await readBody(opened.res);
    } catch {
      // The status alone still says enough.
    } finally {
      opened.req.destroy();
    }
    let reason: string | undefined;
    let message = text.trim().slice(0, 500) || http.STATUS_CODES[status] || `HTTP ${status}`;
    let details: unknown;
    try {
      const s = JSON.parse(text) as unknown;
      if (isRecord(s)) {
        if (typeof s.reason === 'string') reason = s.reason;
        if (typeof s.message === 'string') message = s.message;
        details = s.details;
      }
    } catch {
      // Not a Status (a proxy's HTML page, say): keep the raw text.
    }
    const retryAfterMs = parseRetryAfter(opened.res.headers['retry-after']);
    return new ApiError({ ...this.who(spec), status, reason, message, details, retryAfterMs });
  }

  private transportError(spec: CallSpec, err: unknown): ApiError {
    const code = errorCode(err) ?? (err instanceof Error && /aborted|hang up/i.test(err.message) ? 'ECONNRESET' : undefined);
    const message = err instanceof Error ? err.message : String(err);
    return new ApiError({ ...this.who(spec), status: 0, reason: code, code, message });
  }

  private who(spec: CallSpec): Pick<ApiErrorInit, 'verb' | 'resource' | 'namespace' | 'name' | 'server' | 'context'> {
    return {
      verb: spec.verb,
      resource: spec.res,
      namespace: spec.namespace,
      name: spec.name,
      server: this.loaded.server,
      context: this.loaded.contextName,
    };
  }
}

/** The per-call options of a request, as a `CallSpec` carries them. */
function perCall(opts: RequestOptions): Pick<CallSpec, 'signal' | 'attempts' | 'timeoutMs'> {
  return { signal: opts.signal, attempts: opts.attempts, timeoutMs: opts.timeoutMs };
}

/** The error a request that got no answer in time is destroyed with. */
function noAnswerError(ms: number): Error {
  const err = new Error(`no response within ${ms} ms`) as Error & { code: string };
  err.code = 'ETIMEDOUT';
  return err;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

function parseWatchEvent<T>(line: string): WatchEvent<T> {
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch {
    throw new Error(`malformed watch event: ${line.slice(0, 200)}`);
  }
  if (!isRecord(ev) || typeof ev.type !== 'string' || !EVENT_TYPES.has(ev.type) || !isRecord(ev.object)) {
    throw new Error(`malformed watch event: ${line.slice(0, 200)}`);
  }
  return { type: ev.type as WatchEventType, object: ev.object as T };
}

/** The whole body; an abort (the request carries the signal) makes the iteration throw. */
/** The most of a pod's log one read takes (the API server cuts it there). */
const LOG_LIMIT_BYTES = 8 * 1024 * 1024;

async function readBody(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res as AsyncIterable<string>) text += chunk;
  return text;
}

/** `Retry-After` in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
