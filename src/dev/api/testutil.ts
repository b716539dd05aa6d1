/**
 * Helpers for this folder's tests: HTTPS calls that trust the server's certificate and
 * carry the admin token, and polling. Not used by production code.
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { DevApiServer } from './index.js';

/** A JSON response. */
export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** Where `open` sends a request. */
export interface OpenOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * One HTTPS request to the server, trusting its certificate (global `fetch` cannot be
 * given a CA); resolves with the response once its headers arrive.
 */
export function open(api: DevApiServer, path: string, opts: OpenOptions = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // Node frames a DELETE body only when told its length.
    const headers = { ...opts.headers, ...(opts.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}) };
    const req = httpsRequest(`${api.url}${path}`, { method: opts.method ?? 'GET', headers, ca: api.caCert, ...(opts.signal ? { signal: opts.signal } : {}) }, resolve);
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The whole body of a response. */
export async function text(res: IncomingMessage): Promise<string> {
  let out = '';
  for await (const chunk of res) out += (chunk as Buffer).toString('utf8');
  return out;
}

function headersOf(res: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  return h;
}

/** Call the server with the admin token (or `token`; `null`: no Authorization header); JSON in, JSON out. */
export async function call(api: DevApiServer, method: string, path: string, body?: unknown, opts: { token?: string | null; contentType?: string } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = opts.token === undefined ? api.adminToken : opts.token;
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
  const res = await open(api, path, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const raw = await text(res);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Non-JSON body (e.g. /healthz).
  }
  return { status: res.statusCode ?? 0, body: parsed, headers: headersOf(res) };
}

/** Poll until `fn` returns a truthy value (or throw after `timeoutMs`). */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A minimal pod manifest. */
export function podManifest(name: string, extra: Record<string, unknown> = {}): Record<string, any> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', 'infinity'] }], ...extra } };
}

/** Read a watch stream into an array of events until `stop` returns true or the stream ends. */
export async function readWatch(api: DevApiServer, path: string, stop: (events: any[]) => boolean, opts: { token?: string; timeoutMs?: number; onOpen?: () => void } = {}): Promise<{ events: any[]; ended: boolean; status: number; error?: unknown }> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), opts.timeoutMs ?? 5000);
  const events: any[] = [];
  let ended = false;
  let status = 0;
  try {
    const res = await open(api, path, { headers: { Authorization: `Bearer ${opts.token ?? api.adminToken}` }, signal: ctrl.signal });
    status = res.statusCode ?? 0;
    opts.onOpen?.();
    let buf = '';
    let stopped = false;
    for await (const chunk of res) {
      buf += (chunk as Buffer).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
      if (stop(events)) {
        stopped = true;
        res.destroy();
        break;
      }
    }
    // A stream the server cut mid-chunk ends with `aborted` set instead of an error.
    if (!stopped) {
      if (res.aborted || !res.complete) throw Object.assign(new Error('the watch stream was cut'), { code: 'ECONNRESET' });
      ended = true;
    }
    return { events, ended, status };
  } catch (error) {
    return { events, ended, status, error };
  } finally {
    clearTimeout(timer);
  }
}
