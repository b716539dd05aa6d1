/**
 * The agent's probe endpoints for the kubelet: `GET /healthz` (liveness: the process
 * is up and its event loop is not stalled) and `GET /readyz` (readiness: whatever the
 * caller's check says, e.g. informers synced and the API reachable). 200 or 503 with a
 * one-line text body saying why; anything else is 404 (405 for other methods).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A probe outcome; `detail` is the body's line. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  live(): ProbeResult;
  ready(): Promise<ProbeResult>;
}

export interface HealthServer {
  /** `host:port` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

/** Parse `--health-addr`: `host:port`, `:port` (all interfaces) or `[v6]:port`. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]), port };
}

/** Start serving; rejects when the address cannot be bound (in use, not local). */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
    };
    if (path !== '/healthz' && path !== '/readyz') return send(404, 'not found: try /healthz or /readyz');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    if (path === '/healthz') {
      const r = opts.live();
      return send(r.ok ? 200 : 503, r.detail);
    }
    opts.ready().then(
      (r) => send(r.ok ? 200 : 503, r.detail),
      (err: unknown) => send(503, `readiness check failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    address: `${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Watches the event loop: a timer that should fire every `intervalMs`; `stalledMs()`
 * is how long past due it is. A handler that runs at all proves the loop turns, but a
 * loop busy for seconds between turns is not healthy either.
 */
export function watchEventLoop(intervalMs = 500, now: () => number = Date.now): { stalledMs(): number; stop(): void } {
  let last = now();
  const timer = setInterval(() => (last = now()), intervalMs);
  timer.unref();
  return {
    stalledMs: () => Math.max(0, now() - last - intervalMs),
    stop: () => clearInterval(timer),
  };
}
