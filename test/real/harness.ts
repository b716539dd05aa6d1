/**
 * Helpers for the real-cluster lane (scripts/test-real.sh): a real kube-apiserver,
 * controller-manager, scheduler and kubelet node with containerd, started by
 * scripts/real-cluster.sh. Each test file gets its own namespace with our agent
 * installed from manifests/ as a DaemonSet (image from scripts/build-images.sh), its own
 * hostPath PersistentVolume pre-bound to the namespace's snapshot-pvc, and drives the
 * BUILT binary against the cluster. Objects are read back with kubectl, never with our
 * own client, so what is checked is what the real server stored.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT, runCli, waitFor, type CliRun, type RunCliOptions } from '../e2e/harness.js';

export { ROOT, kv, sleep, waitFor } from '../e2e/harness.js';

export const KUBECONFIG = process.env['SNAPSHOTCTL_REAL_KUBECONFIG'] ?? '';
export const STATE_DIR = process.env['SNAPSHOTCTL_REAL_DIR'] ?? '/var/tmp/snapshotctl-real-cluster';
/** The node's containerd socket, which our agent's DaemonSet mounts. */
export const CONTAINERD_SOCK = join(STATE_DIR, 'containerd/containerd.sock');
/** Images scripts/real-cluster.sh and scripts/build-images.sh import. */
export const TEST_IMAGE = 'localhost/snapshotctl/test-placeholder:3';
export const AGENT_IMAGE = process.env['SNAPSHOTCTL_AGENT_IMAGE'] ?? 'localhost/snapshotctl/snapshot-agent:0.1.0';
/** The CPU sample worker's image (scripts/build-images.sh; SNAPSHOTCTL_WORKER_IMAGE as there). */
export const WORKER_IMAGE = process.env['SNAPSHOTCTL_WORKER_IMAGE'] ?? 'ghcr.io/snapshotctl/cpu-worker-placeholder:dev';
/** Where the node's checkpoint PVs live on the host. */
export const CHECKPOINTS_DIR = join(STATE_DIR, 'checkpoints');

export interface Kubectl {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run kubectl against the real cluster; never rejects on a non-zero exit. */
export function kubectl(args: string[], opts: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {}): Promise<Kubectl> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', opts.kubeconfig ?? KUBECONFIG, ...args],
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(args: string[], opts: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `kubectl get -o json` of one object, or undefined when it does not exist. */
export async function getJson<T = Record<string, any>>(ns: string, kind: string, name: string): Promise<T | undefined> {
  const r = await kubectl(['get', kind, name, '-n', ns, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${kind} ${name}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as T;
}

/** Names of `kind` objects in `ns` (DaemonSet pods excluded for pods). */
export async function names(ns: string, kind: string): Promise<string[]> {
  const list = JSON.parse(await kubectlOk(['get', kind, '-n', ns, '-o', 'json'])) as { items: Array<{ metadata: { name: string; ownerReferences?: Array<{ kind: string }> } }> };
  return list.items.filter((o) => !(o.metadata.ownerReferences ?? []).some((r) => r.kind === 'DaemonSet')).map((o) => o.metadata.name).sort();
}

/** Run the built CLI against the real cluster. */
export function cli(args: string[], opts: RunCliOptions = {}): Promise<CliRun> {
  return runCli(args, { kubeconfig: KUBECONFIG, timeoutMs: 120_000, ...opts });
}

/** Every object of every document in a manifest file. */
async function docs(path: string): Promise<Array<Record<string, any>>> {
  return parseAllDocuments(await readFile(path, 'utf8'))
    .map((d) => d.toJS() as Record<string, any> | null)
    .filter((d): d is Record<string, any> => d !== null);
}

/** Apply objects (as YAML) into `ns`. */
export async function apply(ns: string, objects: Array<Record<string, any>>): Promise<void> {
  await kubectlOk(['apply', '-n', ns, '-f', '-'], { stdin: objects.map((o) => stringify(o)).join('---\n') });
}

/**
 * A namespace with our agent running in it as the DaemonSet of
 * manifests/snapshotctl-agent/ (pointed at this node's containerd socket and the locally
 * imported image), the RBAC and PVC of manifests/, and a PV for the PVC. Resolves once
 * the agent's pod is Ready.
 */
export async function installNamespace(ns: string, opts: { agentArgs?: string[] } = {}): Promise<void> {
  await kubectlOk(['create', 'namespace', ns]);
  const pvDir = join(CHECKPOINTS_DIR, ns);
  mkdirSync(pvDir, { recursive: true, mode: 0o700 });
  await kubectlOk(['apply', '-f', '-'], {
    stdin: stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `checkpoints-${ns}`, labels: { 'app.kubernetes.io/part-of': 'snapshotctl-real-tests' } },
      spec: {
        capacity: { storage: '200Gi' },
        accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadOnlyMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        claimRef: { namespace: ns, name: 'snapshot-pvc' },
        hostPath: { path: pvDir, type: 'Directory' },
      },
    }),
  });
  const objects = [
    ...(await docs(join(ROOT, 'manifests/agent-rbac.yaml'))),
    ...(await docs(join(ROOT, 'manifests/pvc.yaml'))),
    ...(await docs(join(ROOT, 'manifests/snapshotctl-agent/config.yaml'))),
    ...(await docs(join(ROOT, 'manifests/snapshotctl-agent/daemonset.yaml'))),
  ];
  for (const o of objects) {
    if (o['kind'] !== 'DaemonSet') continue;
    const spec = o['spec'].template.spec;
    const agent = spec.containers[0];
    agent.image = AGENT_IMAGE;
    agent.imagePullPolicy = 'Never';
    agent.args = agent.args.map((a: string) => (a.startsWith('--containerd-address=') ? `--containerd-address=${CONTAINERD_SOCK}` : a));
    agent.args.push('--log-level=debug', ...(opts.agentArgs ?? []));
    // Pods on this loopback-only node have no route to the API server (it listens on
    // 127.0.0.1 and there is no kube-proxy for the service IP), so here the agent shares
    // the node's network and is pointed at the server directly, with its health port
    // unique to the namespace.
    spec.hostNetwork = true;
    const server = new URL(apiServer());
    agent.env.push({ name: 'KUBERNETES_SERVICE_HOST', value: server.hostname }, { name: 'KUBERNETES_SERVICE_PORT', value: server.port || '443' });
    const health = await freePort();
    agent.args.push(`--health-addr=127.0.0.1:${health}`);
    for (const probe of [agent.livenessProbe, agent.readinessProbe]) {
      probe.exec.command = probe.exec.command.map((a: string) => a.replace('127.0.0.1:8080', `127.0.0.1:${health}`));
    }
    for (const v of spec.volumes) if (v.name === 'containerd') v.hostPath.path = CONTAINERD_SOCK;
    for (const m of agent.volumeMounts) if (m.name === 'containerd') m.mountPath = CONTAINERD_SOCK;
  }
  await apply(ns, objects);
  await kubectlOk(['rollout', 'status', 'daemonset/snapshot-agent', '-n', ns, '--timeout=120s'], { timeoutMs: 130_000 });
}

/** The API server's URL from the kubeconfig. */
function apiServer(): string {
  const m = /server:\s*(\S+)/.exec(readFileSync(KUBECONFIG, 'utf8'));
  if (!m?.[1]) throw new Error(`no server in ${KUBECONFIG}`);
  return m[1];
}

/** A port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Remove the namespace, its PV and its storage directory. */
export async function removeNamespace(ns: string): Promise<void> {
  // For debugging a failure: SNAPSHOTCTL_REAL_KEEP=1 leaves the namespace as it was.
  if (process.env['SNAPSHOTCTL_REAL_KEEP'] === '1') return;
  await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
  await kubectl(['delete', 'pv', `checkpoints-${ns}`, '--wait=true', '--timeout=60s']);
  rmSync(join(CHECKPOINTS_DIR, ns), { recursive: true, force: true });
}

/** The agent's log (its DaemonSet pod), for failure messages. */
export async function agentLog(ns: string): Promise<string> {
  return (await kubectl(['logs', '-n', ns, 'daemonset/snapshot-agent', '--tail=200'])).stdout;
}

/**
 * A worker Pod manifest for the real node: a shell worker in the test image that
 * warms up, writes its ready file, and exits 0 on SIGUSR1 (the agent's signal after a
 * checkpoint), written to `dir/<name>.yaml`.
 */
export async function writeWorker(dir: string, name: string, edit: (pod: Record<string, any>) => void = () => {}): Promise<string> {
  const pod: Record<string, any> = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'real-worker' }, annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: 'worker',
          image: TEST_IMAGE,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', 'trap "echo got SIGUSR1; exit 0" USR1; echo warm-up 1; : > /tmp/ready-for-checkpoint; while :; do sleep 1; done'],
          env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/ready-for-checkpoint' }],
          readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] }, periodSeconds: 1 },
        },
      ],
    },
  };
  edit(pod);
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, stringify(pod));
  return path;
}

/** A placeholder pod for restore in place (protocol §6), created and waited for until Running. */
export async function createPlaceholder(ns: string, name: string): Promise<void> {
  await apply(ns, [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: 'real-worker' } },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 2,
        securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
        containers: [
          {
            name: 'worker',
            image: TEST_IMAGE,
            imagePullPolicy: 'Never',
            // A reaping init, as a placeholder needs (real-node.md §4).
            command: ['/bin/pause'],
            env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/ready-for-checkpoint' }],
            startupProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] }, periodSeconds: 1, failureThreshold: 2147483647 },
            readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] }, periodSeconds: 1 },
            volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }],
          },
        ],
        volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
      },
    },
  ]);
  await kubectlOk(['wait', '-n', ns, `pod/${name}`, '--for=condition=Initialized', '--timeout=60s']);
  for (let i = 0; i < 120; i++) {
    const pod = await getJson(ns, 'pod', name);
    if (pod?.['status']?.phase === 'Running') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`placeholder ${ns}/${name} did not start`);
}

/** Every object of a manifest file in manifests/ (e.g. `rbac-cli.yaml`). */
export function manifestDocs(file: string): Promise<Array<Record<string, any>>> {
  return docs(join(ROOT, 'manifests', file));
}

/**
 * A kubeconfig at `path` that authenticates as ServiceAccount `ns/sa` with the token
 * of the Secret Kubernetes (before 1.24) creates for it, and trusts the cluster CA of
 * the admin kubeconfig: what a CI job holding only that token would have.
 */
export async function writeServiceAccountKubeconfig(ns: string, sa: string, path: string): Promise<void> {
  const token = await serviceAccountToken(ns, sa);
  const admin = readFileSync(KUBECONFIG, 'utf8');
  const ca = /certificate-authority:\s*(\S+)/.exec(admin)?.[1];
  const caData = /certificate-authority-data:\s*(\S+)/.exec(admin)?.[1];
  const cluster: Record<string, string> = { server: apiServer(), ...(caData ? { 'certificate-authority-data': caData } : ca ? { 'certificate-authority': ca } : {}) };
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'real', cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: 'real', user: sa, namespace: ns } }],
      'current-context': sa,
    }),
    { mode: 0o600 },
  );
}

/** The token of the Secret Kubernetes (before 1.24) creates for ServiceAccount `ns/sa`. */
export async function serviceAccountToken(ns: string, sa: string): Promise<string> {
  let secret = '';
  await waitFor(`the token Secret of serviceaccount ${ns}/${sa}`, async () => {
    const got = await getJson(ns, 'serviceaccount', sa);
    secret = got?.['secrets']?.[0]?.name ?? '';
    return secret !== '';
  }, 30_000, 200);
  const data = (await getJson(ns, 'secret', secret))?.['data'] as Record<string, string> | undefined;
  const token = Buffer.from(data?.['token'] ?? '', 'base64').toString('utf8');
  if (token === '') throw new Error(`secret ${ns}/${secret} has no token`);
  return token;
}

/** Where the admin kubeconfig points and how it authenticates (file paths or inline data). */
export function adminCredentials(): { server: string; ca: Buffer; cert: Buffer; key: Buffer } {
  const text = readFileSync(KUBECONFIG, 'utf8');
  const field = (name: string): Buffer => {
    const data = new RegExp(`${name}-data:\\s*(\\S+)`).exec(text)?.[1];
    if (data) return Buffer.from(data, 'base64');
    const file = new RegExp(`${name}:\\s*(\\S+)`).exec(text)?.[1];
    if (!file) throw new Error(`no ${name} in ${KUBECONFIG}`);
    return readFileSync(file);
  };
  return { server: apiServer(), ca: field('certificate-authority'), cert: field('client-certificate'), key: field('client-key') };
}
