/**
 * Command tests through the real commander program with a fake client: exact stdout,
 * stderr and exit code, and which API calls were (not) made.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { ApiError } from '../kube/errors.js';
import { RESOURCES } from '../kube/types.js';
import type { Job, KubeObject, Pod } from '../protocol/index.js';
import { runCli, seedAgent, seedCheckpoint, type CliRunOptions } from './testing/run-cli.js';

const WORKER = `apiVersion: v1
kind: Pod
metadata:
  name: worker
  labels: {app: llm}
spec:
  containers:
    - name: main
      image: registry.example.com/vllm-placeholder:1.0.0
      command: [python3, -m, worker]
      args: [--model, llama]
      readinessProbe:
        exec: {command: [cat, /tmp/ready-for-checkpoint]}
`;

/** The real program on fakes, with the sample worker manifest readable as worker.yaml. */
function run(args: string[], o: CliRunOptions = {}) {
  return runCli(args, { ...o, files: { 'worker.yaml': WORKER, ...(o.files ?? {}) } });
}

/** A cluster with the agent DaemonSet and Ready agent pods on the given nodes. */
const clusterWithAgentOnly = (): FakeKubeClient => clusterWithAgent();

function clusterWithAgent(nodes: string[] = ['node-1'], ns = 'default'): FakeKubeClient {
  const client = new FakeKubeClient(ns);
  seedAgent(client, ns, nodes);
  return client;
}

/** Simulates the agent: answers a new checkpoint Job or restore pod with `verdict`. */
function agentAnswers(client: FakeKubeClient, verdict: 'completed' | 'failed' | 'silent'): void {
  client.onWrite = (verb, res, obj) => {
    if (verdict === 'silent') return;
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name ?? '';
    if (res.plural === 'jobs' && verb === 'create') {
      client.update(RESOURCES.jobs, ns, name, (j) => {
        j.metadata!.annotations = { ...(j.metadata!.annotations ?? {}), 'nvidia.com/snapshot-checkpoint-status': verdict };
      });
    }
    const isTarget = obj.metadata?.labels?.['nvidia.com/snapshot-is-restore-target'] === 'true';
    if (res.plural === 'pods' && isTarget && !obj.metadata?.annotations?.['nvidia.com/snapshot-restore-status']) {
      client.update(RESOURCES.pods, ns, name, (p) => {
        p.metadata!.annotations = { ...(p.metadata!.annotations ?? {}), 'nvidia.com/snapshot-restore-status': verdict };
      });
    }
  };
}

const OFFLINE = ['--pvc', 'snapshot-pvc', '--base-path', '/checkpoints'];

describe('checkpoint --dry-run without a cluster', () => {
  it('prints a v1 List holding exactly the Job of docs/protocol.md §4 and sends nothing', async () => {
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--dry-run', '-o', 'json', ...OFFLINE, '--checkpoint-id', 'ck-1']);
    expect(r.code).toBe(0);
    expect(r.kubeCalls).toBe(0);
    const list = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: Job[] };
    expect(list.apiVersion).toBe('v1');
    expect(list.kind).toBe('List');
    expect(list.items).toEqual([
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'worker-checkpoint', namespace: 'default', labels: { 'nvidia.com/snapshot-checkpoint-id': 'ck-1' } },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: {
              labels: { app: 'llm', 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': 'ck-1' },
              annotations: { 'nvidia.com/snapshot-artifact-version': '1' },
            },
            spec: {
              containers: [
                {
                  name: 'main',
                  image: 'registry.example.com/vllm-placeholder:1.0.0',
                  command: ['cuda-checkpoint'],
                  args: ['--launch-job', 'python3', '-m', 'worker', '--model', 'llama'],
                  readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] } },
                },
              ],
              restartPolicy: 'Never',
              securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
            },
          },
        },
      },
    ]);
  });

  it('defaults to YAML and takes the manifest from stdin', async () => {
    const r = await run(['checkpoint', '--manifest', '-', '--dry-run', ...OFFLINE, '--checkpoint-id', 'ck-1'], { stdin: WORKER });
    expect(r.code).toBe(0);
    const list = parseYaml(r.stdout) as { items: Job[] };
    expect(list.items[0]?.metadata.name).toBe('worker-checkpoint');
  });

  it('generates manual-snapshot-<nanoseconds> when no ID is given', async () => {
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--dry-run', '-o', 'json', ...OFFLINE]);
    const list = JSON.parse(r.stdout) as { items: Job[] };
    expect(list.items[0]?.metadata.labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': 'manual-snapshot-1743712345678901234' });
  });
});

describe('restore --manifest --dry-run without a cluster', () => {
  it('prints the exact restore Pod of docs/protocol.md §5', async () => {
    const r = await run(['restore', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--dry-run', '-o', 'json', ...OFFLINE]);
    expect(r.code).toBe(0);
    expect(r.kubeCalls).toBe(0);
    const list = JSON.parse(r.stdout) as { items: Pod[] };
    expect(list.items).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'worker',
          namespace: 'default',
          labels: { app: 'llm', 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': 'ck-1' },
          annotations: { 'nvidia.com/snapshot-artifact-version': '1' },
        },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'registry.example.com/vllm-placeholder:1.0.0',
              command: ['sleep', 'infinity'],
              readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] } },
              volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }],
              startupProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] }, failureThreshold: 2147483647, successThreshold: 1 },
            },
          ],
          securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
          volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
          restartPolicy: 'Never',
        },
      },
    ]);
  });
});

describe('v1.0.x command lines', () => {
  const cases: Array<[string, string[]]> = [
    ['-flag value', ['checkpoint', '-manifest', 'worker.yaml', '-namespace', 'ml', '-checkpoint-id', 'ck-1', '-timeout', '1h30m']],
    ['--flag=value', ['checkpoint', '--manifest=worker.yaml', '--namespace=ml', '--checkpoint-id=ck-1', '--timeout=1h30m']],
    ['--flag value', ['checkpoint', '--manifest', 'worker.yaml', '--namespace', 'ml', '--checkpoint-id', 'ck-1', '--timeout', '1h30m']],
    ['-bool=true', ['checkpoint', '-manifest=worker.yaml', '-namespace=ml', '-checkpoint-id=ck-1', '-disable-cuda-checkpoint-job-file=false']],
    ['--kube-context', ['checkpoint', '--manifest', 'worker.yaml', '--kube-context', 'prod', '-n', 'ml', '--checkpoint-id', 'ck-1']],
  ];
  it.each(cases)('%s works unchanged', async (_label, args) => {
    const r = await run([...args, '--dry-run', '-o', 'json', ...OFFLINE]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const job = (JSON.parse(r.stdout) as { items: Job[] }).items[0]!;
    expect(job.metadata.namespace).toBe('ml');
    expect(job.spec.template.spec.containers[0]?.command).toEqual(['cuda-checkpoint']);
  });

  it('-disable-cuda-checkpoint-job-file leaves the command alone', async () => {
    const r = await run(['checkpoint', '-manifest', 'worker.yaml', '-disable-cuda-checkpoint-job-file', '-checkpoint-id', 'x', '--dry-run', '-o', 'json', ...OFFLINE]);
    const job = (JSON.parse(r.stdout) as { items: Job[] }).items[0]!;
    expect(job.spec.template.spec.containers[0]?.command).toEqual(['python3', '-m', 'worker']);
    expect(job.spec.template.spec.containers[0]?.args).toEqual(['--model', 'llama']);
  });
});

describe('bad input exits 2, names the problem and sends nothing', () => {
  const TWO = WORKER.replace('      readinessProbe:', '    - name: sidecar\n      image: envoy\n      readinessProbe:');
  const DEPLOYMENT = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {}\n';
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['no manifest', ['checkpoint'], {}, /checkpoint needs --manifest/],
    ['two containers', ['checkpoint', '--manifest', 'm.yaml'], { 'm.yaml': TWO }, /SNAP001 spec\.containers: spec\.containers has 2 entries/],
    ['a Deployment', ['checkpoint', '--manifest', 'm.yaml'], { 'm.yaml': DEPLOYMENT }, /SNAP002 kind: kind is "Deployment"; snapshotctl takes a Pod manifest/],
    ['an unreadable file', ['checkpoint', '--manifest', 'missing.yaml'], {}, /cannot read manifest "missing.yaml": no such file/],
    ['an ID with /', ['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'a/b'], {}, /^error: the checkpoint ID \(--checkpoint-id\) cannot be used \(2 problems\)\n {2}SNAP006 --checkpoint-id: checkpoint ID "a\/b" contains a path separator[\s\S]*\nhint: a checkpoint ID is at most 63 characters of \[A-Za-z0-9._-\]/],
    ['a 64-character ID', ['restore', '--manifest', 'worker.yaml', '--checkpoint-id', 'a'.repeat(64)], {}, /^error: the checkpoint ID \(--checkpoint-id\) cannot be used \(1 problem\)\n.*is 64 characters long; at most 63/],
    ['a bad ID and a bad manifest', ['checkpoint', '--manifest', 'm.yaml', '--checkpoint-id', 'a/b'], { 'm.yaml': `${WORKER}  restartPolicy: 7\n` }, /(^|\n)error: manifest m\.yaml is not a usable worker Pod, and the checkpoint ID \(--checkpoint-id\) cannot be used \(\d+ problems\)\n/],
    // A manifest that does not parse still leaves the ID to be judged: both problems in one run.
    ...(['checkpoint', 'restore'] as const).map((verb): [string, string[], Record<string, string>, RegExp] => [
      `${verb}: a manifest that is not YAML and a bad ID`,
      [verb, '--manifest', 'bad.yaml', '--checkpoint-id', 'BAD!'],
      { 'bad.yaml': 'kind: Pod\nspec: [unclosed\n' },
      /^error: manifest bad\.yaml is not a usable worker Pod, and the checkpoint ID \(--checkpoint-id\) cannot be used \(2 problems\)\n {2}SNAP007 not valid YAML: .*\n {2}SNAP006 --checkpoint-id: checkpoint ID "BAD!" is not a label value.*\nhint: .*a checkpoint ID is at most 63 characters/,
    ]),
    ['a Deployment and a bad ID', ['checkpoint', '--manifest', 'm.yaml', '--checkpoint-id', 'BAD!'], { 'm.yaml': DEPLOYMENT }, /^error: manifest m\.yaml is not a usable worker Pod, and the checkpoint ID \(--checkpoint-id\) cannot be used \(2 problems\)\n {2}SNAP002 kind: .*\n {2}SNAP006 --checkpoint-id: /],
    ['--manifest and --pod', ['restore', '--manifest', 'worker.yaml', '--pod', 'p', '--checkpoint-id', 'x'], {}, /--manifest and --pod cannot be used together/],
    ['restore without ID', ['restore', '--pod', 'p'], {}, /restore needs --checkpoint-id/],
    ['bad --timeout', ['checkpoint', '--manifest', 'worker.yaml', '--timeout', '10 minutes'], {}, /--timeout "10 minutes" is not a duration/],
    ['bad -o', ['checkpoint', '--manifest', 'worker.yaml', '-o', 'table'], {}, /--output "table" is not supported/],
    ['unknown flag', ['checkpoint', '--manifestt', 'worker.yaml'], {}, /unknown option '--manifestt'/],
    ['-n other than the manifest\'s namespace', ['checkpoint', '--manifest', 'm.yaml', '-n', 'b'], { 'm.yaml': WORKER.replace('  name: worker\n', '  name: worker\n  namespace: a\n') }, /^error: the namespace from the provided object "a" does not match the namespace "b"\. You must pass '--namespace=a' to perform this operation\.\nhint: m\.yaml sets metadata\.namespace: a; pass -n a \(or leave -n out\), or change metadata\.namespace to b\n$/],
    ['restore -n other than the manifest\'s namespace', ['restore', '--manifest', 'm.yaml', '--checkpoint-id', 'x', '--namespace=b', '--dry-run=server'], { 'm.yaml': WORKER.replace('  name: worker\n', '  name: worker\n  namespace: a\n') }, /^error: the namespace from the provided object "a" does not match the namespace "b"\./],
    ['a field name typo', ['checkpoint', '--manifest', 'm.yaml'], { 'm.yaml': WORKER.replace('command:', 'comand:') }, /\n {2}SNAP011 spec\.containers\[0\]\.comand: unknown field "spec\.containers\[0\]\.comand" \(kubectl's strict field validation refuses it\); did you mean "spec\.containers\[0\]\.command"\?\n/],
  ];
  it.each(cases)('%s', async (_label, args, files, message) => {
    const client = clusterWithAgent();
    const r = await run(args, { client, files: { 'worker.yaml': WORKER, ...files } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(r.kubeCalls).toBe(0);
    expect(client.calls).toEqual([]);
  });
});

describe('checkpoint against a cluster', () => {
  it('-n equal to the manifest\'s namespace is fine', async () => {
    const client = clusterWithAgent(['node-1'], 'a');
    agentAnswers(client, 'completed');
    const r = await run(['checkpoint', '--manifest', 'm.yaml', '-n', 'a', '--checkpoint-id', 'ck-1'], { client, files: { 'm.yaml': WORKER.replace('  name: worker\n', '  name: worker\n  namespace: a\n') } });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^status=completed\nnamespace=a\n/);
  });

  it('creates the Job on agent nodes, waits for the verdict and prints v1.0.x lines', async () => {
    const client = clusterWithAgent(['node-2', 'node-1']);
    agentAnswers(client, 'completed');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'status=completed',
        'namespace=default',
        'name=worker',
        'checkpoint_job=worker-checkpoint',
        'checkpoint_id=ck-1',
        'checkpoint_location=/checkpoints/ck-1/versions/1',
        '',
      ].join('\n'),
    );
    const create = client.writes().find((c) => c.verb === 'create')!;
    const job = create.body as Job;
    expect(job.spec.template.spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1', 'node-2'] }] }],
        },
      },
    });
    // The Job stays after success: it is the record of the checkpoint.
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeDefined();
  });

  it('--no-agent-affinity sends the v1.0.x Job unchanged', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'completed');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--no-agent-affinity'], { client });
    expect(r.code).toBe(0);
    const job = client.writes().find((c) => c.verb === 'create')!.body as Job;
    expect(job.spec.template.spec.affinity).toBeUndefined();
  });

  it('leaves placement to the scheduler, with a warning, when RBAC hides the agent pods', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'completed');
    client.failWith = (call) =>
      call.verb === 'list' && call.resource === 'pods'
        ? new ApiError({ verb: 'list', resource: RESOURCES.pods, namespace: 'default', status: 403, reason: 'Forbidden', message: 'pods is forbidden' })
        : undefined;
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: not allowed to list pods in namespace "default", so the agent's nodes are unknown/);
    const job = client.writes().find((c) => c.verb === 'create')!.body as Job;
    expect(job.spec.template.spec.affinity).toBeUndefined();
  });

  it('-o json adds phase, timing and events', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'completed');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '-o', 'json'], { client });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      kind: 'checkpoint',
      status: 'completed',
      phase: 'Completed',
      namespace: 'default',
      name: 'worker',
      checkpointJob: 'worker-checkpoint',
      checkpointId: 'ck-1',
      checkpointLocation: '/checkpoints/ck-1/versions/1',
      startedAt: '2026-11-23T12:00:00.000Z',
      durationSeconds: 0,
      events: [],
    });
  });

  it('agent verdict failed: exit 1, result on stdout, reason on stderr, Job deleted in the foreground', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'failed');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^status=failed\nnamespace=default\nname=worker\ncheckpoint_job=worker-checkpoint\ncheckpoint_id=ck-1\ncheckpoint_location=\/checkpoints\/ck-1\/versions\/1\nreason=.*marked the checkpoint failed/);
    expect(r.stderr).toMatch(/error: checkpoint of default\/worker failed: the snapshot agent marked the checkpoint failed/);
    expect(r.stderr).toMatch(/deleted job\.batch\/worker-checkpoint in namespace "default" \(created by this run\)/);
    // Not the dev cluster: the agent's log is its pods' log.
    expect(r.stderr).toContain("and the agent's log with `kubectl logs -n default -l app.kubernetes.io/component=snapshot-agent --tail 100`\n");
    const del = client.writes().find((c) => c.verb === 'delete')!;
    expect(del).toMatchObject({ resource: 'jobs', name: 'worker-checkpoint', options: { propagationPolicy: 'Foreground' } });
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeUndefined();
  });

  it('--keep-on-failure keeps the Job', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'failed');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--keep-on-failure'], { client });
    expect(r.code).toBe(1);
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeDefined();
  });

  it('timeout: exit 4 and the Job is deleted', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'silent');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--timeout', '300ms'], { client });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^status=failed\n/);
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeUndefined();
  });

  it('interrupt: exit 130 and the Job is deleted', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'silent');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client, signal: controller.signal });
    expect(r.code).toBe(130);
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeUndefined();
  });

  it('Ctrl-C during the look-ups stops before anything is created', async () => {
    const client = clusterWithAgent();
    const controller = new AbortController();
    controller.abort();
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client, signal: controller.signal });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted before anything was created; nothing to clean up/);
    expect(client.writes()).toEqual([]);
  });

  it('--timeout also bounds the look-ups: an API server that keeps failing cannot hold the run', async () => {
    const client = clusterWithAgent();
    // Like the real client retrying 503s with Retry-After: it only gives up when its signal aborts.
    client.list = (_res, _ns, opts) =>
      new Promise((_resolve, reject) => opts?.signal?.addEventListener('abort', () => reject(new Error('503 Service Unavailable, retrying')), { once: true }));
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--timeout', '300ms'], { client });
    // Still a cluster error (exit 3), but within --timeout, with the last answer.
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/error: gave up after 300ms \(--timeout\) while looking for the snapshot agent in namespace "default": the last error was .*503 Service Unavailable, retrying/);
    expect(client.writes()).toEqual([]);
  });

  it('an existing Job is an error naming it; nothing is deleted', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.jobs, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'worker-checkpoint', namespace: 'default' } });
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/job\.batch "worker-checkpoint" already exists in namespace "default"/);
    expect(client.writes().filter((c) => c.verb === 'delete')).toEqual([]);
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeDefined();
  });

  it('a Job left by a killed run: the message says what it is and offers --resume or deletion', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.jobs, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'worker-checkpoint', namespace: 'default', labels: { 'nvidia.com/snapshot-checkpoint-id': 'ck-0' } },
    });
    const r = await run(['checkpoint', '--manifest', 'worker.yaml'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/already exists in namespace "default" \(checkpoint ID "ck-0", still waiting for a verdict, created \d/);
    expect(r.stderr).toContain('hint: wait for it: `snapshotctl checkpoint --manifest worker.yaml -n default --resume`, or delete it and start again: `kubectl delete job worker-checkpoint -n default --cascade=foreground`');
  });

  it('--resume waits on the existing Job without creating anything and reports its checkpoint ID', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.jobs, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'worker-checkpoint', namespace: 'default', labels: { 'nvidia.com/snapshot-checkpoint-id': 'ck-0' } },
    });
    setTimeout(
      () =>
        client.update(RESOURCES.jobs, 'default', 'worker-checkpoint', (j) => {
          j.metadata!.annotations = { 'nvidia.com/snapshot-checkpoint-status': 'completed' };
        }),
      100,
    );
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--resume'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('checkpoint_id=ck-0\ncheckpoint_location=/checkpoints/ck-0/versions/1\n');
    expect(client.writes()).toEqual([]);
  });

  it('--resume never deletes the Job it did not create, even when the verdict is failed', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.jobs, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'worker-checkpoint', namespace: 'default', labels: { 'nvidia.com/snapshot-checkpoint-id': 'ck-0' }, annotations: { 'nvidia.com/snapshot-checkpoint-status': 'failed' } },
    });
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--resume'], { client });
    expect(r.code).toBe(1);
    expect(client.writes()).toEqual([]);
  });

  it('--resume with nothing to resume: exit 3', async () => {
    const client = clusterWithAgent();
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--resume'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no job\.batch "worker-checkpoint" in namespace "default" to resume/);
  });

  it('no agent DaemonSet: exit 3 before anything is created', async () => {
    const client = new FakeKubeClient('ml');
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no snapshot agent DaemonSet in namespace "ml" \(looked for labels app\.kubernetes\.io\/component=snapshot-agent or app\.kubernetes\.io\/name=snapshot\)/);
    expect(client.writes()).toEqual([]);
  });

  it('no Ready agent pod: exit 3 before anything is created', async () => {
    const client = clusterWithAgent([]);
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no snapshot agent pod is Running and Ready/);
    expect(client.writes()).toEqual([]);
  });

  it('--node must name a node with a Ready agent', async () => {
    const client = clusterWithAgent(['node-1']);
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--node', 'node-9'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no Ready snapshot agent runs on node "node-9" \(ready on: node-1\)/);
    expect(client.writes()).toEqual([]);
  });

  it('--dry-run=server sends the Job with dryRun and prints what the server returned', async () => {
    const client = clusterWithAgent();
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--dry-run=server', '-o', 'name'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('job.batch/worker-checkpoint\n');
    expect(r.stderr).toContain('server-side dry run: sending job.batch/worker-checkpoint to namespace "default" with dryRun=All (the API server validates and admits it; nothing is persisted)\n');
    expect(r.stderr).not.toMatch(/creating/);
    expect(client.writes()).toMatchObject([{ verb: 'create', dryRun: true }]);
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeUndefined();
  });

  it('--no-wait creates and returns at once', async () => {
    const client = clusterWithAgent();
    const r = await run(['checkpoint', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1', '--no-wait'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('status=created');
    expect(client.peek(RESOURCES.jobs, 'default', 'worker-checkpoint')).toBeDefined();
  });
});

const PLACEHOLDER: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'placeholder',
    namespace: 'default',
    labels: { 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': 'old' },
    annotations: {
      'nvidia.com/snapshot-restore-status': 'completed',
      'nvidia.com/snapshot-restore-container-id': 'abc',
      'nvidia.com/snapshot-artifact-version': '1',
    },
  },
  spec: {
    nodeName: 'node-1',
    securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
    containers: [{ name: 'main', image: 'placeholder', command: ['sleep', 'infinity'], volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }] }],
    volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
  },
  status: { phase: 'Running' },
};

describe('restore', () => {
  const clusterWithAgent = (): FakeKubeClient => {
    const c = clusterWithAgentOnly();
    seedCheckpoint(c, 'ck-1', { pod: 'ck-1-source', verdict: 'completed', minutesAgo: 5 });
    seedCheckpoint(c, 'ck-2', { pod: 'ck-2-source', verdict: 'completed', minutesAgo: 5 });
    return c;
  };
  it('--manifest creates the pod, waits and prints v1.0.x lines', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'completed');
    const r = await run(['restore', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ['status=completed', 'namespace=default', 'name=worker', 'restore_pod=worker', 'checkpoint_id=ck-1', 'checkpoint_location=/checkpoints/ck-1/versions/1', ''].join('\n'),
    );
  });

  it('--manifest failure deletes the pod it created', async () => {
    const client = clusterWithAgent();
    agentAnswers(client, 'failed');
    const r = await run(['restore', '--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'], { client });
    expect(r.code).toBe(1);
    expect(client.peek(RESOURCES.pods, 'default', 'worker')).toBeUndefined();
    expect(r.stderr).toMatch(/deleted pod\/worker/);
  });

  it('--pod removes a stale completed status and does not report success until the agent answers again', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.pods, PLACEHOLDER);
    const r1 = run(['restore', '--pod', 'placeholder', '--checkpoint-id', 'ck-2', '--timeout', '400ms'], { client });
    const r = await r1;
    // The agent never answered: the stale `completed` must not count.
    expect(r.code).toBe(4);
    const patch = client.writes().find((c) => c.verb === 'patch')!;
    expect(patch.body).toEqual({
      metadata: {
        resourceVersion: expect.any(String),
        labels: { 'nvidia.com/snapshot-checkpoint-id': 'ck-2' },
        annotations: { 'nvidia.com/snapshot-restore-status': null, 'nvidia.com/snapshot-restore-container-id': null },
      },
    });
    // Never deletes a pod it did not create.
    expect(client.writes().filter((c) => c.verb === 'delete')).toEqual([]);
    expect(client.peek(RESOURCES.pods, 'default', 'placeholder')).toBeDefined();
  });

  it('--pod succeeds when the agent answers', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.pods, PLACEHOLDER);
    agentAnswers(client, 'completed');
    const r = await run(['restore', '--pod', 'placeholder', '--checkpoint-id', 'ck-2'], { client });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^status=completed\nnamespace=default\nname=placeholder\nrestore_pod=placeholder\ncheckpoint_id=ck-2\n/);
  });

  it('--pod reports every unmet precondition at once and patches nothing', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.pods, {
      ...PLACEHOLDER,
      spec: { nodeName: 'node-1', containers: [{ name: 'main', image: 'x' }] },
    });
    const r = await run(['restore', '--pod', 'placeholder', '--checkpoint-id', 'ck-2'], { client });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no volume "checkpoint-storage"/);
    expect(r.stderr).toMatch(/does not mount "checkpoint-storage"/);
    expect(r.stderr).toMatch(/seccompProfile must be/);
    expect(client.writes()).toEqual([]);
  });

  it('--pod --dry-run prints the pod after the patch and sends no write', async () => {
    const client = clusterWithAgent();
    client.seed(RESOURCES.pods, PLACEHOLDER);
    const r = await run(['restore', '--pod', 'placeholder', '--checkpoint-id', 'ck-2', '--dry-run', '-o', 'json', '--verbose'], { client });
    expect(r.code).toBe(0);
    const pod = (JSON.parse(r.stdout) as { items: Pod[] }).items[0]!;
    expect(pod.metadata.annotations).toEqual({ 'nvidia.com/snapshot-artifact-version': '1' });
    expect(pod.metadata.labels?.['nvidia.com/snapshot-checkpoint-id']).toBe('ck-2');
    expect(r.stderr).toMatch(/patch \(application\/merge-patch\+json\): \{"metadata":/);
    expect(client.writes()).toEqual([]);
  });

  it('--pod on a missing pod: exit 3', async () => {
    const client = clusterWithAgent();
    const r = await run(['restore', '--pod', 'nope', '--checkpoint-id', 'ck-2'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/pod "nope" not found in namespace "default"/);
  });
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
  it.each(['checkpoint', 'restore'])('%s --help ends with examples', async (cmd) => {
    const r = await run([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n[\s\S]*snapshotctl \w+ --manifest worker\.yaml/);
  });
});
