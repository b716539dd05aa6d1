/** Test helpers for command tests: run the real program on a fake cluster. */
import { FakeKubeClient } from '../../kube/testing/fake-client.js';
import { RESOURCES } from '../../kube/types.js';
import { STORAGE_SCAN_MARKER } from '../../commands/storage-scan.js';
import type { KubeObject } from '../../protocol/index.js';
import { main } from '../main.js';

export interface CliRunOptions {
  files?: Record<string, string>;
  stdin?: string;
  client?: FakeKubeClient;
  stdinIsTTY?: boolean;
  /** The answer to a confirmation prompt. */
  answer?: string;
  now?: number;
  /** Aborts like Ctrl-C. */
  signal?: AbortSignal;
}

export const NOW = Date.parse('2026-11-23T12:00:00Z');

/**
 * Run `snapshotctl args` with fakes; returns exit code, stdout, stderr, the prompts shown
 * and how often a cluster client was asked for (0 proves nothing could be sent).
 */
export async function runCli(args: string[], o: CliRunOptions = {}) {
  let stdout = '';
  let stderr = '';
  let kubeCalls = 0;
  const prompts: string[] = [];
  const code = await main(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
    env: {},
    signal: o.signal ?? new AbortController().signal,
    readStdin: async () => o.stdin ?? '',
    readFile: async (p) => {
      const text = (o.files ?? {})[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    },
    now: () => o.now ?? NOW,
    nowNanos: () => 1743712345678901234n,
    kube: async () => {
      kubeCalls += 1;
      if (!o.client) throw new Error('test: no cluster expected');
      return o.client;
    },
    contextNamespace: async () => o.client?.contextNamespace ?? 'default',
    stdinIsTTY: o.stdinIsTTY ?? false,
    prompt: async (q) => {
      prompts.push(q);
      return o.answer ?? 'n';
    },
  });
  return { code, stdout, stderr, prompts, kubeCalls };
}

/** ISO time `minutes` before NOW. */
export function ago(minutes: number): string {
  return new Date(NOW - minutes * 60_000).toISOString();
}

/** The agent DaemonSet (storage: snapshot-pvc at /checkpoints) and a Ready agent pod per node. */
export function seedAgent(client: FakeKubeClient, ns = 'default', nodes = ['node-1']): void {
  client.seed(RESOURCES.daemonsets, {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'snapshot-agent', namespace: ns, labels: { 'app.kubernetes.io/component': 'snapshot-agent' } },
    spec: {
      selector: { matchLabels: { app: 'snapshot-agent' } },
      template: {
        metadata: { labels: { app: 'snapshot-agent' } },
        spec: {
          containers: [{ name: 'agent', image: 'agent', volumeMounts: [{ name: 'checkpoints', mountPath: '/checkpoints' }] }],
          volumes: [{ name: 'checkpoints', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
        },
      },
    },
  });
  nodes.forEach((node, i) =>
    client.seed(RESOURCES.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `snapshot-agent-${i}`, namespace: ns, labels: { app: 'snapshot-agent' } },
      spec: { nodeName: node, containers: [{ name: 'agent' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    }),
  );
}

/** A checkpoint Job with its pod on `node`; `verdict` goes into the agent's annotation. */
/** `labels`: the worker manifest's, which the CLI puts on the Job's pod template. */
export function seedCheckpoint(client: FakeKubeClient, id: string, o: { ns?: string; pod?: string; verdict?: 'completed' | 'failed'; node?: string; minutesAgo: number; labels?: Record<string, string> }): void {
  const ns = o.ns ?? 'default';
  const job = `${o.pod ?? id}-checkpoint`;
  client.seed(RESOURCES.jobs, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: job,
      namespace: ns,
      creationTimestamp: ago(o.minutesAgo),
      labels: { 'nvidia.com/snapshot-checkpoint-id': id },
      ...(o.verdict ? { annotations: { 'nvidia.com/snapshot-checkpoint-status': o.verdict } } : {}),
    },
    // The worker's labels are on the pod template, as the CLI builds the Job (docs/protocol.md §4).
    spec: { template: { metadata: { labels: { ...(o.labels ?? {}), 'nvidia.com/snapshot-checkpoint-id': id } }, spec: { containers: [{ name: 'main' }] } } },
  });
  client.seed(RESOURCES.pods, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${job}-abcde`,
      namespace: ns,
      creationTimestamp: ago(o.minutesAgo),
      labels: { 'batch.kubernetes.io/job-name': job, 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': id },
    },
    spec: { nodeName: o.node ?? 'node-1', containers: [{ name: 'main' }] },
    status: { phase: o.verdict === 'completed' ? 'Succeeded' : o.verdict === 'failed' ? 'Failed' : 'Running' },
  });
}

/** A restore pod of checkpoint `id`. */
export function seedRestore(client: FakeKubeClient, id: string, name: string, o: { ns?: string; status?: string; phase?: string; minutesAgo: number; node?: string }): KubeObject {
  return client.seed(RESOURCES.pods, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      creationTimestamp: ago(o.minutesAgo),
      labels: { 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': id },
      annotations: { 'nvidia.com/snapshot-artifact-version': '1', ...(o.status ? { 'nvidia.com/snapshot-restore-status': o.status } : {}) },
    },
    spec: { nodeName: o.node ?? 'node-1', containers: [{ name: 'main' }] },
    status: { phase: o.phase ?? 'Running' },
  });
}

/** One artifact version directory for `answerStorageScans` (fields as the scan prints them). */
export interface FakeArtifact {
  id: string;
  version?: string;
  kib?: number;
  minutesAgo?: number;
  ns?: string;
  pod?: string;
  node?: string;
  engine?: string;
  /** false: a directory without manifest.yaml. */
  manifest?: boolean;
}

/** What the storage scan script prints for these directories (its format, see storage-scan.ts). */
export function storageListing(artifacts: FakeArtifact[]): string {
  const lines = artifacts.map((a) => {
    const at = ago(a.minutesAgo ?? 10);
    const m = a.manifest !== false;
    return ['A', a.id, a.version ?? '1', String(a.kib ?? 4), String(Math.floor(Date.parse(at) / 1000)), m ? '1' : '0', m ? (a.ns ?? 'default') : '', m ? (a.pod ?? `${a.id}-checkpoint-abcde`) : '', m ? (a.node ?? 'node-1') : '', m ? at : '', m ? (a.engine ?? 'criu') : '', m ? 'false' : ''].join('\t');
  });
  return [...lines, `END\t${artifacts.length}`, ''].join('\n');
}

/**
 * Answer the storage scan's reader pods as a kubelet running the script would: the
 * listing of `artifacts` (per namespace: `byNamespace`) as the termination message.
 * Keeps any `onWrite` hook set before for other pods.
 */
export function answerStorageScans(client: FakeKubeClient, artifacts: FakeArtifact[] = []): void {
  const previous = client.onWrite;
  client.onWrite = (verb, res, obj) => {
    const command = (obj as { spec?: { containers?: Array<{ command?: string[] }> } }).spec?.containers?.[0]?.command;
    if (verb === 'create' && res.plural === 'pods' && command?.[0] === 'sh' && command[2]?.startsWith(STORAGE_SCAN_MARKER)) {
      const ns = obj.metadata?.namespace ?? 'default';
      const message = storageListing(artifacts.filter((a) => (a.ns ?? 'default') === ns));
      client.update(RESOURCES.pods, ns, obj.metadata?.name ?? '', (p) => {
        p['status'] = { phase: 'Succeeded', containerStatuses: [{ name: 'reader', state: { terminated: { exitCode: 0, message } } }] };
      });
      return;
    }
    previous?.(verb, res, obj);
  };
}
