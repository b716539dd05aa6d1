/**
 * The embedded Kubernetes API server of the dev cluster: an in-memory store served
 * over HTTPS on 127.0.0.1 (a fresh self-signed certificate each start, see tls.ts) to
 * bearer-token holders only, with the built-in controllers (Job, DaemonSet,
 * scheduler, garbage collector/namespace, PVC binder) and simulated nodes. Real clients
 * (`kubectl`, `@kubernetes/client-node`) work against it unchanged.
 *
 * ```ts
 * const api = await startApiServer({ nodes: 2 });
 * await api.writeKubeconfig('/tmp/kc');            // KUBECONFIG for kubectl / client-node
 * api.store.create('pods', { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
 * const h = await api.nodes.waitForContainer('default', 'p');
 * h.signal('SIGUSR1');
 * await api.close();
 * ```
 * Nothing starts at import time.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { ALLOW_ALL, Authenticator, type AuthRule } from './auth.js';
import { EnvironmentError } from '../../errors.js';
import { startDaemonSetController } from './controllers/daemonset.js';
import { startGarbageCollector } from './controllers/gc.js';
import { startJobController } from './controllers/job.js';
import { startPvcController } from './controllers/pvc.js';
import { startScheduler } from './controllers/scheduler.js';
import { FaultInjector, RequestLog } from './faults.js';
import { createHandler } from './http.js';
import { Nodes, type KubeletOptions, type NodeSpec } from './kubelet.js';
import { Store } from './store.js';
import type { ImageToolsRule } from './probe-tools.js';
import { selfSignedCert } from './tls.js';

export type { AuthRule } from './auth.js';
export type { Fault, FaultEffect, FaultMatch, FaultRule, FaultVerb, RequestLogEntry, RequestLogFilter } from './faults.js';
export { FaultInjector, RequestLog } from './faults.js';
export type { NodeSpec, PodMatch } from './kubelet.js';
export type { ImageTool, ImageToolsRule } from './probe-tools.js';
export { DEFAULT_IMAGE_TOOLS } from './probe-tools.js';
export { Nodes, NEVER_READY_ANNOTATION } from './kubelet.js';
export type { ContainerExit, ContainerHandle } from './runtime.js';
export type { DeleteOptions, DeleteResult, ListOptions, ResourceRef, StoreEvent, WriteOptions } from './store.js';
export { Store } from './store.js';
export { ApiError } from './errors.js';
export type { KubeObject } from './types.js';

/** Options of `startApiServer`. */
export interface ApiServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Only loopback is supported. */
  host?: '127.0.0.1';
  /** Number of nodes (`node-1..N`, default 1) or explicit node specs. */
  nodes?: number | NodeSpec[];
  /** Default container runtime of the nodes (default `sim`). */
  runtime?: 'sim' | 'process';
  /**
   * Bearer tokens, checked on every request (a missing or unknown token is a 401, as
   * on a real server with anonymous auth off). `adminToken` fixes the admin token
   * (default random); `tokens` adds restricted tokens.
   */
  auth?: { adminToken?: string; tokens?: Record<string, { user: string; rules: AuthRule[] }> };
  /** Probe success delay of simulated containers (default 200 ms). */
  readyDelayMs?: number;
  /** Delay from binding to Running (default 50 ms). */
  pullDelayMs?: number;
  /** Exec probe period for the process runtime (default 100 ms). */
  probePeriodMs?: number;
  /** Longest graceful-termination wait before SIGKILL (default 2000 ms). */
  maxGraceMs?: number;
  /** Watch history size per resource for resourceVersion resume (default 1000 events each). */
  historyLimit?: number;
  /** Period of BOOKMARK events on watches that ask for them (`allowWatchBookmarks=true`; default 5000 ms). */
  bookmarkIntervalMs?: number;
  /** Directory for process-runtime working directories (default os.tmpdir()). */
  workRoot?: string;
  /** Launcher for process containers' commands (see `KubeletOptions.launcher`). */
  launcher?: KubeletOptions['launcher'];
  /** Start the built-in controllers (default true). */
  controllers?: boolean;
  /**
   * Which tools each image has when `snapshotctl preflight` probes it (probe-tools.ts):
   * first matching pattern wins. Default: `*placeholder*` has all, anything else only `sleep`.
   */
  imageTools?: readonly ImageToolsRule[];
}

/** A running dev API server. */
export interface DevApiServer {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The serving certificate (self-signed, its own CA), PEM: what clients must trust. */
  readonly caCert: string;
  /** Direct object access (get/list/create/update/patch/delete/subscribe), bypassing HTTP and auth. */
  readonly store: Store;
  /** Fault injection (see faults.ts for examples). */
  readonly faults: FaultInjector;
  /** Every HTTP request served. */
  readonly requestLog: RequestLog;
  /** Simulated nodes: container handles and node/pod fault hooks. */
  readonly nodes: Nodes;
  /** Bearer token allowed everything. */
  readonly adminToken: string;
  /** Add a token for user `name` with `rules`; returns the token. */
  addToken(name: string, rules: AuthRule[], token?: string): string;
  /** Write a kubeconfig (cluster `dev`, user with the token, context `dev`, current-context `dev`). */
  writeKubeconfig(path: string, opts?: { token?: string; namespace?: string }): Promise<void>;
  /** The kubeconfig text `writeKubeconfig` writes. */
  kubeconfig(opts?: { token?: string; namespace?: string }): string;
  /** Stop everything this server started (sockets, timers, controllers, processes). */
  close(): Promise<void>;
}

function seedNamespaces(store: Store): void {
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) store.create('namespaces', { metadata: { name } });
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) store.create('serviceaccounts', { metadata: { name: 'default', namespace: ns } });
}

/** Start the server (and its controllers and nodes). */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<DevApiServer> {
  const store = new Store(undefined, opts.historyLimit ?? 1000);
  const auth = new Authenticator();
  const adminToken = opts.auth?.adminToken ?? `admin-${randomBytes(16).toString('hex')}`;
  auth.add(adminToken, { name: 'admin', groups: ['system:masters'], rules: ALLOW_ALL });
  if (opts.auth) for (const [token, u] of Object.entries(opts.auth.tokens ?? {})) auth.add(token, { name: u.user, groups: ['system:authenticated'], rules: u.rules });
  const faults = new FaultInjector();
  const requestLog = new RequestLog();
  seedNamespaces(store);

  const stops: (() => void)[] = [];
  if (opts.controllers !== false) {
    stops.push(startScheduler(store), startJobController(store), startDaemonSetController(store), startGarbageCollector(store), startPvcController(store));
  }
  const nodes = new Nodes(store, opts.nodes ?? 1, {
    runtime: opts.runtime ?? 'sim',
    readyDelayMs: opts.readyDelayMs ?? 200,
    pullDelayMs: opts.pullDelayMs ?? 50,
    probePeriodMs: opts.probePeriodMs ?? 100,
    maxGraceMs: opts.maxGraceMs ?? 2000,
    ...(opts.workRoot ? { workRoot: opts.workRoot } : {}),
    ...(opts.launcher ? { launcher: opts.launcher } : {}),
    ...(opts.imageTools ? { imageTools: opts.imageTools } : {}),
  });
  nodes.start();

  let port = 0;
  let closing = false;
  const sockets = new Set<Duplex>();
  const tls = selfSignedCert();
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, createHandler({ store, auth, faults, requestLog, hostPort: () => `127.0.0.1:${port}`, closing: () => closing, logs: (ns, pod, c) => nodes.logsFor(ns, pod, c), ...(opts.bookmarkIntervalMs !== undefined ? { bookmarkIntervalMs: opts.bookmarkIntervalMs } : {}) }));
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    for (const stop of stops) stop();
    nodes.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new EnvironmentError(
        code === 'EADDRINUSE' ? `port ${opts.port ?? 0} on 127.0.0.1 is already in use (EADDRINUSE)` : `port ${opts.port ?? 0} on 127.0.0.1 may not be used by this user (EACCES)`,
        'pick a free port with --port, or leave --port out (0: any free port)',
      );
    }
    throw err;
  }
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `https://127.0.0.1:${port}`;

  const kubeconfig = (o: { token?: string; namespace?: string } = {}): string =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'dev', cluster: { server: url, 'certificate-authority-data': Buffer.from(tls.certPem).toString('base64') } }],
      users: [{ name: 'dev', user: { token: o.token ?? adminToken } }],
      contexts: [{ name: 'dev', context: { cluster: 'dev', user: 'dev', namespace: o.namespace ?? 'default' } }],
      'current-context': 'dev',
      preferences: {},
    });

  return {
    url,
    port,
    store,
    faults,
    requestLog,
    nodes,
    caCert: tls.certPem,
    adminToken,
    addToken(name, rules, token = `${name}-${randomBytes(12).toString('hex')}`) {
      auth.add(token, { name, groups: ['system:authenticated'], rules });
      return token;
    },
    kubeconfig,
    async writeKubeconfig(path, o = {}) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, kubeconfig(o), { mode: 0o600 });
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const stop of stops) stop();
      nodes.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await closed;
    },
  };
}
