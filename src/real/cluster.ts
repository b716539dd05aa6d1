/**
 * The real single-node Kubernetes of `scripts/real-cluster.sh` (a real kube-apiserver,
 * controller-manager, scheduler and kubelet with containerd, on 127.0.0.1), as
 * `snapshotctl demo --cluster real` and the real-cluster tests use it: the scripts run
 * as child processes, objects go through `kubectl` (the same client a user would use,
 * so what is checked is what the real server stored), and our agent is installed from
 * `manifests/snapshotctl-agent/` the way a user installs it, with the changes this
 * loopback-only node needs said out loud (`AGENT_NODE_CHANGES`).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

/** This package's root (works from `src/` under vitest and from `dist/`). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const STATE_DIR = process.env['SNAPSHOTCTL_REAL_DIR'] ?? '/var/tmp/snapshotctl-real-cluster';
/** The node's containerd socket, which our agent's DaemonSet mounts. */
export const CONTAINERD_SOCK = join(STATE_DIR, 'containerd/containerd.sock');
/** Where the per-namespace checkpoint PersistentVolumes live on the host. */
export const CHECKPOINTS_DIR = join(STATE_DIR, 'checkpoints');
/** The agent's image as scripts/build-images.sh tags it. */
export const AGENT_IMAGE = process.env['SNAPSHOTCTL_AGENT_IMAGE'] ?? 'localhost/snapshotctl/snapshot-agent:0.1.0';
/** The CPU sample worker's image (scripts/build-images.sh). */
export const WORKER_IMAGE = process.env['SNAPSHOTCTL_WORKER_IMAGE'] ?? 'ghcr.io/snapshotctl/cpu-worker-placeholder:dev';
/** Label on the PVs made here, so that a leftover one can be found. */
export const PV_LABEL = 'app.kubernetes.io/part-of';

/** What installAgent changes in manifests/snapshotctl-agent/daemonset.yaml, and why. */
export const AGENT_NODE_CHANGES =
  'containerd socket of this node, host network (pods on this loopback-only node cannot reach the API server), health port unique to the namespace';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** kubectl against the cluster of `kubeconfig`; never rejects on a non-zero exit. */
export function kubectl(kubeconfig: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, ...args],
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20, ...(opts.signal ? { signal: opts.signal } : {}) },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr: err && code === 1 && !stderr ? String(err.message) : stderr });
      },
    );
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(kubeconfig: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await kubectl(kubeconfig, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/**
 * One of our scripts (`scripts/<name>`) with bash; its stderr lines go to `onLine` as
 * they come, its stdout is the result. Aborting `signal` stops it (SIGTERM, so that its
 * own traps clean up).
 */
export function runScript(name: string, args: string[], opts: { onLine?: (line: string) => void; signal?: AbortSignal; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(PACKAGE_ROOT, 'scripts', name), ...args], {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr += t;
      const lines = (partial + t).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine?.(line);
    });
    const stop = () => child.kill('SIGTERM');
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', stop);
      if (partial) opts.onLine?.(partial);
      resolve({ code: code ?? (sig ? 128 + 15 : 1), stdout, stderr });
    });
  });
}

/** The API server's URL in a kubeconfig. */
export function apiServer(kubeconfig: string): string {
  const m = /server:\s*(\S+)/.exec(readFileSync(kubeconfig, 'utf8'));
  if (!m?.[1]) throw new Error(`no server in ${kubeconfig}`);
  return m[1];
}

/** A port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Every object of every document of a YAML file. */
export async function manifestObjects(path: string): Promise<Array<Record<string, any>>> {
  return parseAllDocuments(await readFile(path, 'utf8'))
    .map((d) => d.toJS() as Record<string, any> | null)
    .filter((d): d is Record<string, any> => d !== null);
}

/** Apply objects (as YAML) into `ns` with kubectl. */
export async function applyObjects(kubeconfig: string, ns: string, objects: Array<Record<string, any>>, signal?: AbortSignal): Promise<void> {
  await kubectlOk(kubeconfig, ['apply', '-n', ns, '-f', '-'], { stdin: objects.map((o) => stringify(o)).join('---\n'), ...(signal ? { signal } : {}) });
}

export interface InstallOptions {
  kubeconfig: string;
  namespace: string;
  /** Extra agent arguments, e.g. `--engine=criu`. */
  agentArgs?: string[];
  /** Label value of the namespace's PV (who made it). */
  partOf?: string;
  /** More objects to apply with the agent's (e.g. a ConfigMap its pod mounts). */
  extraObjects?: Array<Record<string, any>>;
  /** Last change to the agent's pod spec before it is applied (tests). */
  editAgent?: (podSpec: Record<string, any>) => void;
  signal?: AbortSignal;
}

/**
 * A namespace with our agent in it, as a user installs it: manifests/agent-rbac.yaml,
 * pvc.yaml and snapshotctl-agent/ (config and DaemonSet, with AGENT_NODE_CHANGES), and a
 * hostPath PersistentVolume pre-bound to the namespace's snapshot-pvc under
 * CHECKPOINTS_DIR/<namespace>. Resolves once the agent's pod is Ready; returns the
 * objects applied (`Kind/name`).
 */
export async function installAgent(opts: InstallOptions): Promise<string[]> {
  const { kubeconfig, namespace: ns } = opts;
  const sig = opts.signal ? { signal: opts.signal } : {};
  await kubectlOk(kubeconfig, ['create', 'namespace', ns], sig);
  const pvDir = join(CHECKPOINTS_DIR, ns);
  mkdirSync(pvDir, { recursive: true, mode: 0o700 });
  await kubectlOk(kubeconfig, ['apply', '-f', '-'], {
    ...sig,
    stdin: stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName(ns), labels: { [PV_LABEL]: opts.partOf ?? 'snapshotctl-real-cluster' } },
      spec: {
        capacity: { storage: '200Gi' },
        accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadOnlyMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        claimRef: { namespace: ns, name: 'snapshot-pvc' },
        hostPath: { path: pvDir, type: 'Directory' },
      },
    }),
  });
  const manifests = join(PACKAGE_ROOT, 'manifests');
  const objects = [
    ...(await manifestObjects(join(manifests, 'agent-rbac.yaml'))),
    ...(await manifestObjects(join(manifests, 'pvc.yaml'))),
    ...(await manifestObjects(join(manifests, 'snapshotctl-agent/config.yaml'))),
    ...(await manifestObjects(join(manifests, 'snapshotctl-agent/daemonset.yaml'))),
  ];
  const server = new URL(apiServer(kubeconfig));
  for (const o of objects) {
    if (o['kind'] !== 'DaemonSet') continue;
    const spec = o['spec'].template.spec;
    const agent = spec.containers[0];
    agent.image = AGENT_IMAGE;
    agent.imagePullPolicy = 'Never';
    agent.args = agent.args.map((a: string) => (a.startsWith('--containerd-address=') ? `--containerd-address=${CONTAINERD_SOCK}` : a));
    agent.args.push(...(opts.agentArgs ?? []));
    // Pods on this loopback-only node have no route to the API server (it listens on
    // 127.0.0.1 and there is no kube-proxy for the service IP), so here the agent shares
    // the node's network and is pointed at the server directly, with its health port
    // unique to the namespace.
    spec.hostNetwork = true;
    agent.env.push({ name: 'KUBERNETES_SERVICE_HOST', value: server.hostname }, { name: 'KUBERNETES_SERVICE_PORT', value: server.port || '443' });
    const health = await freePort();
    agent.args.push(`--health-addr=127.0.0.1:${health}`);
    for (const probe of [agent.livenessProbe, agent.readinessProbe]) {
      probe.exec.command = probe.exec.command.map((a: string) => a.replace('127.0.0.1:8080', `127.0.0.1:${health}`));
    }
    for (const v of spec.volumes) if (v.name === 'containerd') v.hostPath.path = CONTAINERD_SOCK;
    for (const m of agent.volumeMounts) if (m.name === 'containerd') m.mountPath = CONTAINERD_SOCK;
    opts.editAgent?.(spec);
  }
  objects.unshift(...(opts.extraObjects ?? []));
  await applyObjects(kubeconfig, ns, objects, opts.signal);
  await kubectlOk(kubeconfig, ['rollout', 'status', 'daemonset/snapshot-agent', '-n', ns, '--timeout=120s'], { ...sig, timeoutMs: 130_000 });
  return [`PersistentVolume/${pvName(ns)}`, ...objects.map((o) => `${String(o['kind'])}/${String(o['metadata']?.name ?? '')}`)];
}

/** The PersistentVolume installAgent makes for `ns`. */
export function pvName(ns: string): string {
  return `checkpoints-${ns}`;
}

/**
 * Remove what installAgent made: the namespace (and everything in it), its PV and its
 * storage directory. Resolves to what could not be removed (empty when all went).
 */
export async function removeAgentNamespace(kubeconfig: string, ns: string): Promise<string[]> {
  const left: string[] = [];
  const gone = await kubectl(kubeconfig, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
  if (gone.code !== 0) left.push(`namespace ${ns} (${gone.stderr.trim()})`);
  const pv = await kubectl(kubeconfig, ['delete', 'pv', pvName(ns), '--ignore-not-found', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
  if (pv.code !== 0) left.push(`persistentvolume ${pvName(ns)} (${pv.stderr.trim()})`);
  try {
    rmSync(join(CHECKPOINTS_DIR, ns), { recursive: true, force: true });
  } catch (err) {
    left.push(`${join(CHECKPOINTS_DIR, ns)} (${err instanceof Error ? err.message : String(err)})`);
  }
  return left;
}
