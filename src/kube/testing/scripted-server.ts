/**
 * A scripted API server for HTTP-level tests of the client. A test
 * lists the exact requests it expects, in order, each with its response; anything else
 * is answered `418` (which the client never retries) and recorded as a failure that
 * `assertDone()` reports together with any steps left unconsumed. Listens on 127.0.0.1.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { tempDir } from '../../testing/temp-dir.js';

/** What one request must look like. */
export interface ExpectedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Subset of the query: each key must have this value; `null` means must be absent. */
  query?: Record<string, string | null>;
  /** Subset of the headers (lower-case names), exact strings or patterns. */
  headers?: Record<string, string | RegExp>;
  /** The JSON body, deep-equal, or a predicate over the parsed body. */
  body?: unknown;
}

/** A watch event line, raw text (to split events mid-line), or a pause. */
export type StreamPart = { type: string; object: unknown } | { raw: string } | { pauseMs: number };

/** What the server does with a matching request. */
export type ScriptedResponse =
  | { status?: number; headers?: Record<string, string>; body?: unknown }
  | {
      /** Stream these parts as a chunked 200 response (one write each)... */
      stream: StreamPart[];
      /** ...then end cleanly, drop the socket mid-stream, or stay open until the client goes. */
      then: 'end' | 'destroy' | 'hang';
    }
  /** Drop the connection without answering. */
  | { destroySocket: true };

export interface Step {
  expect: ExpectedRequest;
  respond: ScriptedResponse;
}

/** One request as received. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  rawBody: string;
}

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Appends steps to the script. */
  add(...steps: Step[]): void;
  /** Throws listing unexpected requests and unconsumed steps. */
  assertDone(): void;
  /** Stops listening and drops every open connection (hanging watches included). */
  close(): Promise<void>;
}

/** Starts a server that follows `steps` in order. */
export async function startScriptedServer(steps: Step[] = []): Promise<ScriptedServer> {
  const script = [...steps];
  const requests: RecordedRequest[] = [];
  const problems: string[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: unknown = undefined;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const rec: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        rawBody: raw,
      };
      requests.push(rec);
      const step = script[0];
      const mismatch = step ? matchRequest(step.expect, rec) : 'the script is exhausted';
      if (!step || mismatch) {
        const msg = `request #${requests.length} ${describe(rec)}: ${mismatch}`;
        problems.push(msg);
        res.writeHead(418, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 418, reason: 'UnexpectedRequest', message: msg }));
        return;
      }
      script.shift();
      void respond(step.respond, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('scripted server has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    add: (...more) => script.push(...more),
    assertDone: () => {
      const left = script.map((s) => `  unconsumed: ${s.expect.method} ${s.expect.path}`);
      if (problems.length > 0 || left.length > 0) {
        throw new Error(['scripted server:', ...problems.map((p) => `  ${p}`), ...left].join('\n'));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describe(r: RecordedRequest): string {
  const q = new URLSearchParams(r.query).toString();
  return `${r.method} ${r.path}${q ? `?${q}` : ''}`;
}

/** Why `rec` does not match `exp`, or undefined when it does. */
function matchRequest(exp: ExpectedRequest, rec: RecordedRequest): string | undefined {
  const want = `expected ${exp.method} ${exp.path}`;
  if (exp.method !== rec.method || exp.path !== rec.path) return want;
  for (const [k, v] of Object.entries(exp.query ?? {})) {
    const got = rec.query[k];
    if (v === null ? got !== undefined : got !== v) return `${want} with ${k}=${v === null ? '(absent)' : v}, got ${got ?? '(absent)'}`;
  }
  for (const [k, v] of Object.entries(exp.headers ?? {})) {
    const got = rec.headers[k];
    const s = Array.isArray(got) ? got.join(', ') : (got ?? '');
    if (typeof v === 'string' ? s !== v : !v.test(s)) return `${want} with header ${k}: ${String(v)}, got ${s || '(absent)'}`;
  }
  if ('body' in exp) {
    const ok = typeof exp.body === 'function' ? (exp.body as (b: unknown) => boolean)(rec.body) : isDeepStrictEqual(exp.body, rec.body);
    if (!ok) return `${want} with body ${JSON.stringify(exp.body)}, got ${rec.rawBody || '(none)'}`;
  }
  return undefined;
}

async function respond(r: ScriptedResponse, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if ('destroySocket' in r) {
    req.socket.destroy();
    return;
  }
  if ('stream' in r) {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    for (const part of r.stream) {
      if (res.destroyed) return;
      if ('pauseMs' in part) await new Promise((ok) => setTimeout(ok, part.pauseMs));
      else if ('raw' in part) res.write(part.raw);
      else res.write(`${JSON.stringify(part)}\n`);
    }
    // Let the chunks leave before dropping the socket, so "destroy" means mid-stream.
    await new Promise((ok) => setTimeout(ok, 10));
    if (r.then === 'end') res.end();
    // Half-close instead of destroy: the written chunks surely reach the client (a reset
    // could discard them under load), yet the chunked body is left unterminated, which
    // the client sees as a connection lost mid-stream.
    else if (r.then === 'destroy') req.socket.end();
    return;
  }
  const status = r.status ?? 200;
  const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  res.writeHead(status, { 'Content-Type': 'application/json', ...r.headers });
  res.end(text);
}

/** A Kubernetes `Status` body for error responses. */
export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

export interface KubeconfigSpec {
  server: string;
  token?: string;
  namespace?: string;
  /** Extra contexts (same cluster and user). */
  extraContexts?: string[];
  current?: string;
}

/** Writes a kubeconfig (JSON, which is YAML) into a fresh temp dir; returns its path. */
export function writeKubeconfig(spec: KubeconfigSpec, dir: string = tempDir('snapctl-kc-')): string {
  const ctxs = ['test', ...(spec.extraContexts ?? [])];
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: spec.server } }],
    users: [{ name: 'test', user: spec.token ? { token: spec.token } : {} }],
    contexts: ctxs.map((name) => ({
      name,
      context: { cluster: 'test', user: 'test', ...(name === 'test' && spec.namespace ? { namespace: spec.namespace } : {}) },
    })),
    'current-context': spec.current ?? 'test',
  };
  const file = path.join(dir, `kubeconfig-${ctxs.join('-')}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}
