/**
 * Helpers for the real-cluster lane (scripts/test-real.sh): a real kube-apiserver,
 * controller-manager, scheduler and kubelet node with containerd, started by
 * scripts/real-cluster.sh. Each test file gets its own namespace with our agent
 * installed from manifests/ as a DaemonSet (image from scripts/build-images.sh), its own
 * hostPath PersistentVolume pre-bound to the namespace's snapshot-pvc, and drives the
 * BUILT binary against the cluster. Objects are read back with kubectl, never with our
 * own client, so what is checked is what the real server stored.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import * as real from '../../src/real/cluster.js';
import { WORKER_IMAGE } from '../../src/real/cluster.js';
import { ROOT, runCli, waitFor, type CliRun, type RunCliOptions } from '../e2e/harness.js';

export { ROOT, kv, sleep, waitFor } from '../e2e/harness.js';
export { AGENT_IMAGE, CHECKPOINTS_DIR, CONTAINERD_SOCK, STATE_DIR, WORKER_IMAGE } from '../../src/real/cluster.js';

export const KUBECONFIG = process.env['SNAPSHOTCTL_REAL_KUBECONFIG'] ?? '';
/** Images scripts/real-cluster.sh and scripts/build-images.sh import. */
export const TEST_IMAGE = 'localhost/snapshotctl/test-placeholder:3';

export type Kubectl = real.Run;

/** Run kubectl against the real cluster; never rejects on a non-zero exit. */
export function kubectl(args: string[], opts: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {}): Promise<Kubectl> {
  return real.kubectl(opts.kubeconfig ?? KUBECONFIG, args, opts);
}

/** kubectl that must succeed. */
export function kubectlOk(args: string[], opts: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {}): Promise<string> {
  return real.kubectlOk(opts.kubeconfig ?? KUBECONFIG, args, opts);
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

/** Apply objects (as YAML) into `ns`. */
export function apply(ns: string, objects: Array<Record<string, any>>): Promise<void> {
  return real.applyObjects(KUBECONFIG, ns, objects);
}

/**
 * A namespace with our agent running in it as the DaemonSet of
 * manifests/snapshotctl-agent/ (src/real/cluster.ts: installAgent), debug logging on.
 * Resolves once the agent's pod is Ready.
 */
export async function installNamespace(ns: string, opts: Pick<real.InstallOptions, 'agentArgs' | 'extraObjects' | 'editAgent'> = {}): Promise<void> {
  await real.installAgent({ ...opts, kubeconfig: KUBECONFIG, namespace: ns, agentArgs: ['--log-level=debug', ...(opts.agentArgs ?? [])], partOf: 'snapshotctl-real-tests' });
}

/**
 * A manifests/samples/ Pod for this node, written to `dir/<name>.yaml`: the image
 * imported here (no registry), a 128 MiB state (SNAPSHOTCTL_REAL_CRIU_MB to change it),
 * four warm-up rounds, then `edit`.
 */
export function sampleManifest(dir: string, file: string, name: string, edit: (pod: Record<string, any>) => void = () => {}): string {
  const pod = parse(readFileSync(join(ROOT, 'manifests/samples', file), 'utf8')) as Record<string, any>;
  pod['metadata'].name = name;
  const c = pod['spec'].containers[0];
  c.image = WORKER_IMAGE;
  c.imagePullPolicy = 'Never';
  pod['spec'].terminationGracePeriodSeconds = 2;
  for (const e of c.env ?? []) {
    if (e.name === 'CPU_WORKER_MB') e.value = process.env['SNAPSHOTCTL_REAL_CRIU_MB'] ?? '128';
    if (e.name === 'CPU_WORKER_ROUNDS') e.value = '4';
  }
  edit(pod);
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify(pod));
  return path;
}

/** Remove the namespace, its PV and its storage directory. */
export async function removeNamespace(ns: string): Promise<void> {
  // For debugging a failure: SNAPSHOTCTL_REAL_KEEP=1 leaves the namespace as it was.
  if (process.env['SNAPSHOTCTL_REAL_KEEP'] === '1') return;
  await real.removeAgentNamespace(KUBECONFIG, ns);
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
  const pod = workerPod(name);
  edit(pod);
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, stringify(pod));
  return path;
}

/** The worker Pod of `writeWorker`, as an object. */
export function workerPod(name: string): Record<string, any> {
  return {
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
            // A reaping init, as a placeholder needs (docs/agent.md, "CRIU on a real node").
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
  return real.manifestObjects(join(ROOT, 'manifests', file));
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
  const cluster: Record<string, string> = { server: real.apiServer(KUBECONFIG), ...(caData ? { 'certificate-authority-data': caData } : ca ? { 'certificate-authority': ca } : {}) };
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
  return { server: real.apiServer(KUBECONFIG), ca: field('certificate-authority'), cert: field('client-certificate'), key: field('client-key') };
}

/**
 * What a failed CLI run said, for an assertion's message: exit code, stdout, stderr, the
 * namespace's events when asked (`true`: reason and message of each, or a function of
 * the test's own), and the agent's log.
 */
export async function explainRun(ns: string, run: { code: number | null; stdout: string; stderr: string }, events?: true | (() => Promise<string>)): Promise<string> {
  const shown =
    events === true
      ? (await kubectl(['get', 'events', '-n', ns, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}'])).stdout
      : events
        ? await events()
        : undefined;
  return `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}\n${shown !== undefined ? `events:\n${shown}\n` : ''}agent log:\n${await agentLog(ns)}`;
}
