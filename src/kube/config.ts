/**
 * Kubeconfig resolution, kubectl's order: `--kubeconfig`, else `KUBECONFIG` (a list of
 * files, merged, first one wins), else `~/.kube/config`, else the pod's service account.
 * The common kinds of cluster and user (token, token file, client certificate, basic auth,
 * CA, insecure-skip-tls-verify, tls-server-name) are read here without
 * `@kubernetes/client-node`, which costs ~0.4 s to import; a kubeconfig with anything else
 * (exec plugins, auth providers, proxies) is handed to client-node, imported then. The
 * only file allowed to import it; it is used for parsing and auth, never for HTTP.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { ClusterError, UsageError } from '../errors.js';

/** Where the service account of a pod is mounted (in-cluster config). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: one file, used alone. */
  kubeconfig?: string;
  /** `--kube-context`: overrides the file's current-context. */
  context?: string;
  /** Environment to read `KUBECONFIG`, `HOME` and `KUBERNETES_SERVICE_*` from. */
  env: NodeJS.ProcessEnv;
  /** Service-account directory, injectable so tests can fake in-cluster. */
  serviceAccountDir?: string;
  /**
   * Without `kubeconfig`, use the pod's service account whenever it is there, before
   * `KUBECONFIG` and `~/.kube/config` (the snapshot agent, which runs in a pod).
   */
  preferInCluster?: boolean;
}

/** A resolved kubeconfig: where to connect, how to authenticate, and what messages need. */
export interface LoadedKubeConfig {
  /** The context in effect. */
  contextName: string;
  /** The context's namespace, `default` when it names none. */
  namespace: string;
  /** API server URL, e.g. `https://10.0.0.1:6443`. */
  server: string;
  /** Where it came from, for messages: file paths or `in-cluster`. */
  source: string;
  /**
   * Who read it: `built-in` for the common kinds (token, token file, client
   * certificate, basic auth, CA, insecure-skip-tls-verify, tls-server-name), without
   * loading client-node; `client-node` for the rest (exec plugins, auth providers,
   * proxies).
   */
  loader: 'built-in' | 'client-node';
  /** The cluster's `proxy-url`, when it names one (client-node connects then). */
  proxyUrl?: string;
  /** Fills one request's Authorization, basic auth and TLS material. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

/** A kubeconfig file as written (kubectl's field names). */
interface RawKubeconfig {
  'current-context'?: string;
  clusters?: Array<{ name?: string; cluster?: RawCluster }>;
  users?: Array<{ name?: string; user?: RawUser }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string; namespace?: string } }>;
}
type RawCluster = Record<string, unknown> & { server?: string };
type RawUser = Record<string, unknown>;

/** Fields the built-in loader understands; any other makes client-node read the file. */
const BUILT_IN_CLUSTER_KEYS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions', 'disable-compression']);
const BUILT_IN_USER_KEYS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password', 'extensions']);
const PATH_KEYS = ['certificate-authority', 'client-certificate', 'client-key', 'tokenFile'];

/**
 * Loads the kubeconfig the way kubectl does and selects the context.
 * Throws `UsageError` for an unknown `--kube-context` or unreadable `--kubeconfig`,
 * `ClusterError` when there is no configuration at all.
 */
export async function loadKubeConfig(opts: LoadKubeConfigOptions): Promise<LoadedKubeConfig> {
  const sa = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const inCluster = opts.preferInCluster === true && opts.kubeconfig === undefined && hasInCluster(opts.env, sa);
  const { files, looked } = inCluster ? { files: [], looked: [] } : kubeconfigFiles(opts);
  if (files.length === 0) {
    const host = opts.env.KUBERNETES_SERVICE_HOST;
    const port = opts.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port || !hasInCluster(opts.env, sa)) {
      throw new ClusterError(
        `no kubeconfig found (looked at ${[...looked, `in-cluster service account ${sa}`].join(', ')})`,
        'pass --kubeconfig or set KUBECONFIG',
      );
    }
    return inClusterConfig(host, port, sa);
  }
  const merged = mergeFiles(files.map((f) => ({ file: f, raw: readRaw(f) })));
  const source = files.join(path.delimiter);
  const contextName = opts.context ?? merged.current ?? '';
  if (opts.context !== undefined && !merged.contexts.has(opts.context)) {
    const names = [...merged.contexts.keys()];
    throw new UsageError(
      `context "${opts.context}" not found in ${source}`,
      names.length > 0 ? `available contexts: ${names.join(', ')}` : 'the kubeconfig defines no contexts',
    );
  }
  const ctx = contextName ? merged.contexts.get(contextName) : undefined;
  if (!ctx) {
    const names = [...merged.contexts.keys()];
    throw new UsageError(
      contextName ? `current context "${contextName}" not found in ${source}` : `no current context set in ${source}`,
      names.length > 0 ? `pick one with --kube-context: ${names.join(', ')}` : 'the kubeconfig defines no contexts',
    );
  }
  const cluster = ctx.cluster !== undefined ? merged.clusters.get(ctx.cluster) : undefined;
  if (typeof cluster?.server !== 'string' || cluster.server === '') {
    throw new UsageError(`context "${contextName}" names cluster "${ctx.cluster ?? ''}", which ${source} does not define with a server`);
  }
  const user = ctx.user !== undefined ? merged.users.get(ctx.user) : undefined;
  const base = {
    contextName,
    namespace: ctx.namespace && ctx.namespace.length > 0 ? ctx.namespace : 'default',
    server: cluster.server.replace(/\/+$/, ''),
    source,
  };
  const simple = Object.keys(cluster).every((k) => BUILT_IN_CLUSTER_KEYS.has(k)) && Object.keys(user ?? {}).every((k) => BUILT_IN_USER_KEYS.has(k));
  if (simple) return { ...base, loader: 'built-in', applyToHTTPSOptions: builtInAuth(cluster, user ?? {}) };
  return clientNodeConfig(files, contextName, base);
}

/** One file, parsed; relative paths in it made absolute against its directory, as kubectl does. */
function readRaw(file: string): RawKubeconfig {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new UsageError(`cannot read kubeconfig ${file}: ${why}`, 'pass a valid file with --kubeconfig or fix KUBECONFIG');
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError(`cannot read kubeconfig ${file}: not a kubeconfig (a YAML mapping with clusters, users and contexts)`, 'pass a valid file with --kubeconfig or fix KUBECONFIG');
  }
  const raw = doc as RawKubeconfig;
  const dir = path.dirname(file);
  for (const list of [raw.clusters, raw.users]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as Array<{ cluster?: Record<string, unknown>; user?: Record<string, unknown> }>) {
      const fields = entry?.cluster ?? entry?.user;
      if (!fields || typeof fields !== 'object') continue;
      for (const k of PATH_KEYS) {
        const v = fields[k];
        if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) fields[k] = path.join(dir, v);
      }
    }
  }
  return raw;
}

interface Merged {
  current?: string;
  clusters: Map<string, RawCluster>;
  users: Map<string, RawUser>;
  contexts: Map<string, { cluster?: string; user?: string; namespace?: string }>;
}

/** Like kubectl: the first file to define a name wins; current-context from the first file that sets one. */
function mergeFiles(docs: Array<{ file: string; raw: RawKubeconfig }>): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  const add = <T>(into: Map<string, T>, list: unknown, key: string): void => {
    if (!Array.isArray(list)) return;
    for (const e of list as Array<Record<string, unknown>>) {
      const name = e?.['name'];
      const value = e?.[key];
      if (typeof name === 'string' && !into.has(name)) into.set(name, (value && typeof value === 'object' ? value : {}) as T);
    }
  };
  for (const { raw } of docs) {
    if (m.current === undefined && typeof raw['current-context'] === 'string' && raw['current-context'] !== '') m.current = raw['current-context'];
    add(m.clusters, raw.clusters, 'cluster');
    add(m.users, raw.users, 'user');
    add(m.contexts, raw.contexts, 'context');
  }
  return m;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** File contents, or the base64 `-data` field decoded. */
function material(file: string | undefined, data: string | undefined, what: string): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ClusterError(`cannot read the kubeconfig's ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`, 'fix the path in the kubeconfig');
  }
}

/**
 * The built-in auth: TLS material and the token are read at each request, so rotated
 * files (a pod's service-account token, renewed client certificates) are picked up.
 */
function builtInAuth(cluster: RawCluster, user: RawUser): LoadedKubeConfig['applyToHTTPSOptions'] {
  return async (o) => {
    if (cluster['insecure-skip-tls-verify'] === true) o.rejectUnauthorized = false;
    const serverName = str(cluster['tls-server-name']);
    if (serverName) o.servername = serverName;
    const ca = material(str(cluster['certificate-authority']), str(cluster['certificate-authority-data']), 'certificate authority');
    if (ca) o.ca = ca;
    const cert = material(str(user['client-certificate']), str(user['client-certificate-data']), 'client certificate');
    if (cert) o.cert = cert;
    const key = material(str(user['client-key']), str(user['client-key-data']), 'client key');
    if (key) o.key = key;
    const username = str(user['username']);
    if (username) o.auth = `${username}:${str(user['password']) ?? ''}`;
    let token = str(user['token']);
    const tokenFile = str(user['tokenFile']);
    if (token === undefined && tokenFile !== undefined) token = material(tokenFile, undefined, 'token file')?.toString('utf8').trim();
    if (token) o.headers = { ...(o.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}` };
  };
}

/** A pod's service account: the API server from the environment, the token re-read at each request (kubelet rotates it). */
function inClusterConfig(host: string, port: string, saDir: string): LoadedKubeConfig {
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const nsFile = path.join(saDir, 'namespace');
  const namespace = fs.existsSync(nsFile) ? fs.readFileSync(nsFile, 'utf8').trim() : '';
  return {
    contextName: 'in-cluster',
    namespace: namespace || 'default',
    server: `${scheme}://${h}:${port}`,
    source: 'in-cluster',
    loader: 'built-in',
    applyToHTTPSOptions: builtInAuth({ 'certificate-authority': path.join(saDir, 'ca.crt') }, { tokenFile: path.join(saDir, 'token') }),
  };
}

/**
 * client-node for what the built-in loader does not do (exec plugins, auth providers,
 * proxies). Imported here only: it pulls in its whole generated API (~0.4 s).
 */
async function clientNodeConfig(files: string[], contextName: string, base: Omit<LoadedKubeConfig, 'loader' | 'applyToHTTPSOptions' | 'proxyUrl'>): Promise<LoadedKubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  for (const [i, file] of files.entries()) {
    const one = i === 0 ? kc : new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new UsageError(`cannot read kubeconfig ${file}: ${why}`, 'pass a valid file with --kubeconfig or fix KUBECONFIG');
    }
    if (i > 0) mergeInto(kc, one);
  }
  kc.setCurrentContext(contextName);
  const cluster = kc.getCurrentCluster();
  if (cluster && base.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // client-node refuses plain HTTP unless skipTLSVerify is set, but there is no TLS
    // to verify on http://; mark it so auth still applies.
    kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, skipTLSVerify: true } : c));
  }
  const out: LoadedKubeConfig = { ...base, loader: 'client-node', applyToHTTPSOptions: (o) => kc.applyToHTTPSOptions(o) };
  if (cluster?.proxyUrl) out.proxyUrl = cluster.proxyUrl;
  return out;
}

/** In a pod: the API server's address in the environment and a service-account token. */
function hasInCluster(env: NodeJS.ProcessEnv, saDir: string): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && Boolean(env.KUBERNETES_SERVICE_PORT) && fs.existsSync(path.join(saDir, 'token'));
}

/** The files to read, and every place looked at (for the "not found" message). */
function kubeconfigFiles(opts: LoadKubeConfigOptions): { files: string[]; looked: string[] } {
  if (opts.kubeconfig !== undefined) {
    // An explicit path must exist: silently falling back would talk to another cluster.
    if (!fs.existsSync(opts.kubeconfig)) {
      throw new UsageError(`--kubeconfig ${opts.kubeconfig}: no such file`);
    }
    return { files: [opts.kubeconfig], looked: [opts.kubeconfig] };
  }
  const env = opts.env.KUBECONFIG;
  if (env !== undefined && env.length > 0) {
    const listed = env.split(path.delimiter).filter((f) => f.length > 0);
    // kubectl skips missing entries of KUBECONFIG rather than failing.
    return { files: listed.filter((f) => fs.existsSync(f)), looked: [`KUBECONFIG=${env}`] };
  }
  const home = opts.env.HOME ?? opts.env.USERPROFILE ?? os.homedir();
  const def = path.join(home, '.kube', 'config');
  return { files: fs.existsSync(def) ? [def] : [], looked: [def] };
}

function mergeInto(into: KubeConfig, from: KubeConfig): void {
  if (!into.getCurrentContext() && from.getCurrentContext()) into.setCurrentContext(from.getCurrentContext());
  for (const c of from.getClusters()) if (!into.getCluster(c.name)) into.addCluster(c);
  for (const u of from.getUsers()) if (!into.getUser(u.name)) into.addUser(u);
  for (const c of from.getContexts()) if (!into.getContextObject(c.name)) into.addContext(c);
}
