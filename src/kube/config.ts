/**
 * Kubeconfig resolution, kubectl's order: `--kubeconfig`, else `KUBECONFIG` (a list of
 * files, merged, first one wins), else `~/.kube/config`, else the pod's service account.
 * One of the two files allowed to import `@kubernetes/client-node` (the other is
 * `client.ts`); we use it only for parsing and auth, never for HTTP.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
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

/** A resolved kubeconfig: the client-node object plus what messages need. */
export interface LoadedKubeConfig {
  kc: KubeConfig;
  /** The context in effect. */
  contextName: string;
  /** The context's namespace, `default` when it names none. */
  namespace: string;
  /** API server URL, e.g. `https://10.0.0.1:6443`. */
  server: string;
  /** Where it came from, for messages: file paths or `in-cluster`. */
  source: string;
}

/**
 * Loads the kubeconfig the way kubectl does and selects the context.
 * Throws `UsageError` for an unknown `--kube-context` or unreadable `--kubeconfig`,
 * `ClusterError` when there is no configuration at all.
 */
export async function loadKubeConfig(opts: LoadKubeConfigOptions): Promise<LoadedKubeConfig> {
  // Imported lazily: client-node pulls in its whole generated API, which offline
  // commands (validate, hash) should not pay for at start-up.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const sa = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const inCluster = opts.preferInCluster === true && opts.kubeconfig === undefined && hasInCluster(opts.env, sa);
  const { files, looked } = inCluster ? { files: [], looked: [] } : kubeconfigFiles(opts);
  let source: string;
  if (files.length > 0) {
    for (const [i, file] of files.entries()) {
      const one = i === 0 ? kc : new KubeConfig();
      try {
        one.loadFromFile(file);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new UsageError(`cannot read kubeconfig ${file}: ${why}`, 'pass a valid file with --kubeconfig or fix KUBECONFIG');
      }
      // Like kubectl: for clusters, users and contexts the first file to define a name
      // wins; current-context comes from the first file that sets one.
      if (i > 0) mergeInto(kc, one);
    }
    source = files.join(path.delimiter);
  } else {
    const host = opts.env.KUBERNETES_SERVICE_HOST;
    const port = opts.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port || !hasInCluster(opts.env, sa)) {
      throw new ClusterError(
        `no kubeconfig found (looked at ${[...looked, `in-cluster service account ${sa}`].join(', ')})`,
        'pass --kubeconfig or set KUBECONFIG',
      );
    }
    loadInCluster(kc, host, port, sa);
    source = 'in-cluster';
  }

  if (opts.context !== undefined) {
    if (!kc.getContextObject(opts.context)) {
      const names = kc.getContexts().map((c) => c.name);
      throw new UsageError(
        `context "${opts.context}" not found in ${source}`,
        names.length > 0 ? `available contexts: ${names.join(', ')}` : 'the kubeconfig defines no contexts',
      );
    }
    kc.setCurrentContext(opts.context);
  }
  const contextName = kc.getCurrentContext();
  const ctx = contextName ? kc.getContextObject(contextName) : null;
  if (!ctx) {
    const names = kc.getContexts().map((c) => c.name);
    throw new UsageError(
      contextName ? `current context "${contextName}" not found in ${source}` : `no current context set in ${source}`,
      names.length > 0 ? `pick one with --kube-context: ${names.join(', ')}` : 'the kubeconfig defines no contexts',
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new UsageError(`context "${contextName}" names cluster "${ctx.cluster}", which ${source} does not define with a server`);
  }
  return {
    kc,
    contextName,
    namespace: ctx.namespace && ctx.namespace.length > 0 ? ctx.namespace : 'default',
    server: cluster.server.replace(/\/+$/, ''),
    source,
  };
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

/** client-node's loadFromCluster reads process.env; this one reads the injected env. */
function loadInCluster(kc: KubeConfig, host: string, port: string, saDir: string): void {
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const nsFile = path.join(saDir, 'namespace');
  const namespace = fs.existsSync(nsFile) ? fs.readFileSync(nsFile, 'utf8').trim() : undefined;
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server: `${scheme}://${h}:${port}`, caFile: path.join(saDir, 'ca.crt'), skipTLSVerify: false }],
    // tokenFile re-reads the token, which kubelet rotates.
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: path.join(saDir, 'token') } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace }],
    currentContext: 'in-cluster',
  });
}
