/**
 * Helpers for this folder's tests: a fetch wrapper with the admin token, and polling.
 * Not used by production code.
 */
import type { DevApiServer } from './index.js';

/** A JSON response. */
export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** Call the server with the admin token (or `token`); JSON in, JSON out. */
export async function call(api: DevApiServer, method: string, path: string, body?: unknown, opts: { token?: string | null; contentType?: string } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = opts.token === undefined ? api.adminToken : opts.token;
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${api.url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Non-JSON body (e.g. /healthz).
  }
  return { status: res.status, body: parsed, headers: res.headers };
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
    const res = await fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${opts.token ?? api.adminToken}` }, signal: ctrl.signal });
    status = res.status;
    opts.onOpen?.();
    const reader = res.body!.getReader();
    let buf = '';
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
      if (stop(events)) {
        await reader.cancel();
        break;
      }
    }
    return { events, ended, status };
  } catch (error) {
    return { events, ended, status, error };
  } finally {
    clearTimeout(timer);
  }
}
