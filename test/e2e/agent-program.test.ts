/**
 * `snapshotctl agent` as a separate program, the way a DaemonSet runs it: the built
 * binary against the dev API server alone (no in-process agents), with a token that
 * holds only manifests/agent-rbac.yaml's Role. manifests/ is applied, so the CLI finds
 * storage and Ready agent pods (the DaemonSet's simulated pods) as on a cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { startApiServer, type AuthRule, type DevApiServer, type KubeObject } from '../../src/dev/api/index.js';
import { NEVER_READY_ANNOTATION } from '../../src/dev/api/kubelet.js';
import { applyManifests, MANIFESTS_DIR } from '../../src/dev/cluster.js';
import { createKubeClient } from '../../src/kube/client.js';
import {
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_STATUS,
  EVENT_RESTORE_FAILED,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_RESTORE_TARGET,
} from '../../src/protocol/constants.js';
import { tempDir } from '../../src/testing/temp-dir.js';
import { kvLines, ROOT, runCli, sleep, waitFor, WORKER_MANIFEST } from './harness.js';

const NS = 'default';
const AGENT_USER = 'system:serviceaccount:default:snapshot-agent';

let api: DevApiServer;
let dir: string;
/** Admin kubeconfig (the CLI and the test). */
let adminKc: string;
/** Kubeconfig with the agent's Role only. */
let agentKc: string;
let storage: string;
const agents = new Set<ChildProcess>();

/** The Role of manifests/agent-rbac.yaml as dev-server rules, in namespace `ns`. */
async function agentRules(ns: string): Promise<AuthRule[]> {
  const docs = parseAllDocuments(await readFile(join(MANIFESTS_DIR, 'agent-rbac.yaml'), 'utf8')).map((d) => d.toJS() as KubeObject & { rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> });
  const role = docs.find((d) => d.kind === 'Role');
  return (role?.rules ?? []).map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs, namespaces: [ns] }));
}

beforeEach(async () => {
  dir = tempDir('agent-program-');
  storage = join(dir, 'checkpoints');
  await mkdir(storage);
  const gpu = (name: string) => ({ name, gpus: 1, labels: { 'nvidia.com/gpu.present': 'true' } });
  api = await startApiServer({ nodes: [gpu('node-1'), gpu('node-2')], readyDelayMs: 50, pullDelayMs: 10 });
  adminKc = join(dir, 'admin.kubeconfig');
  agentKc = join(dir, 'agent.kubeconfig');
  await api.writeKubeconfig(adminKc);
  await api.writeKubeconfig(agentKc, { token: api.addToken(AGENT_USER, await agentRules(NS)) });
  await applyManifests(await createKubeClient({ kubeconfig: adminKc, env: {} }), MANIFESTS_DIR, NS);
  // The agent DaemonSet's (simulated) pods Ready on both nodes: the CLI's placement needs them.
  await waitFor('agent DaemonSet pods Ready', () =>
    api.store.list('pods', { namespace: NS, labelSelector: 'app.kubernetes.io/component=snapshot-agent' }).filter((p) => JSON.stringify(p.status).includes('"type":"Ready","status":"True"')).length === 2,
  );
  await writeFile(join(dir, 'config.yaml'), `storage:\n  type: pvc\n  basePath: ${storage}\nrestore:\n  nsRestorePath: /usr/local/bin/nsrestore\n  restoreReadyTimeoutSeconds: 0\n`);
});

afterEach(async () => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  agents.clear();
  await api.close();
});

interface AgentRun {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `http://127.0.0.1:<port>` of the probes, once the agent logged it. */
  health(): Promise<string>;
}

/** Start `bin/snapshotctl.js agent` with the agent's kubeconfig and a free probe port. */
function startAgentProgram(args: string[], env: Record<string, string> = {}): AgentRun {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'KUBECONFIG' && k !== 'NODE_NAME') childEnv[k] = v;
  const child = spawn(process.execPath, [join(ROOT, 'bin/snapshotctl.js'), 'agent', '--kubeconfig', agentKc, '--health-addr', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env: { ...childEnv, CI: 'true', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agents.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stderr: () => stderr,
    exited,
    health: async () => {
      await waitFor('the agent to log its probe address', () => /probes on http:\/\/127\.0\.0\.1:\d+\/healthz/.test(stderr) || child.exitCode !== null, 15_000);
      const m = /probes on (http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(stderr);
      if (!m) throw new Error(`the agent exited without serving probes:\n${stderr}`);
      return m[1]!;
    },
  };
}

/** The sample worker under another name (the Job is named after the pod). */
async function workerNamed(name: string): Promise<string> {
  const pod = parse(await readFile(WORKER_MANIFEST, 'utf8')) as KubeObject;
  pod.metadata.name = name;
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, stringify(pod));
  return path;
}

async function probe(base: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.text()).trim() };
}

/** SIGTERM, then the exit code and how long it took. */
async function terminate(run: AgentRun): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  run.child.kill('SIGTERM');
  const timeout = sleep(10_000).then(() => ({ code: -1, signal: null }));
  const { code } = await Promise.race([run.exited, timeout]);
  return { code, ms: Date.now() - t0 };
}

const job = (name: string) => api.store.get('jobs.batch', NS, name);
const lease = (name: string) => api.store.get('leases.coordination.k8s.io', NS, name);
const agentEvents = (name: string) =>
  api.store.list('events', { namespace: NS }).filter((e) => (e as unknown as { involvedObject?: { name?: string } }).involvedObject?.name === name && (e as unknown as { source?: { component?: string } }).source?.component === 'snapshot-agent');

describe('snapshotctl agent: start-up errors', () => {
  it('a config file with an unknown key exits 2 naming the key, the file and the known keys', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'storage:\n  basePath: /checkpoints\n  pvcName: snapshot-pvc\n');
    const r = await runCli(['agent', '--config', bad, '--node-name', 'node-1'], { kubeconfig: agentKc });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${bad}: the snapshot agent config is not valid (1 problem)`);
    expect(r.stderr).toContain('CFG002 storage.pvcName: unknown key "storage.pvcName"; known keys under storage: type, basePath');
    expect(api.requestLog.count({ user: AGENT_USER })).toBe(0);
  });

  it('without NODE_NAME or --node-name exits 2 saying how to set it', async () => {
    const r = await runCli(['agent', '--config', join(dir, 'config.yaml')], { kubeconfig: agentKc });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: the agent needs its node name: pass --node-name or set NODE_NAME');
    expect(r.stderr).toContain('fieldRef spec.nodeName');
  });

  it('an explicit --config that does not exist exits 2', async () => {
    const r = await runCli(['agent', '--config', join(dir, 'none.yaml'), '--node-name', 'node-1'], { kubeconfig: agentKc });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: --config ${join(dir, 'none.yaml')}: no such file`);
  });
});

describe('snapshotctl agent: serving a node', () => {
  it('probes, a checkpoint on its node, pods on other nodes ignored, SIGTERM exits 0', async () => {
    // A slow first pod list keeps the informers unsynced long enough to see /readyz say so.
    api.faults.add({ verb: 'list', resource: 'pods', times: 2, effect: { kind: 'delay', ms: 1500 } });
    const agent = startAgentProgram(['--config', join(dir, 'config.yaml'), '-n', NS], { NODE_NAME: 'node-1' });
    const base = await agent.health();
    expect(await probe(base, '/healthz')).toEqual({ status: 200, body: 'ok' });
    expect(await probe(base, '/readyz')).toEqual({ status: 503, body: 'not ready: pod informers not synced yet' });
    await waitFor('/readyz 200', async () => (await probe(base, '/readyz')).status === 200, 10_000, 100);
    expect(await probe(base, '/nope')).toMatchObject({ status: 404 });
    expect(agent.stderr()).toContain('not used here: restore.nsRestorePath');
    expect(agent.stderr()).not.toContain('does not exist');

    // A checkpoint pinned to node-2: this agent must leave it alone.
    const other = await runCli(['checkpoint', '--manifest', await workerNamed('w-two'), '--checkpoint-id', 'elsewhere', '--node', 'node-2', '--no-wait'], { kubeconfig: adminKc });
    expect(other.code, other.stderr).toBe(0);
    await waitFor('the node-2 worker Ready', () => JSON.stringify(api.store.list('pods', { namespace: NS, labelSelector: `${LABEL_CHECKPOINT_ID}=elsewhere` })).includes('"type":"Ready","status":"True"'));

    const mine = await runCli(['checkpoint', '--manifest', await workerNamed('w-one'), '--checkpoint-id', 'here', '--node', 'node-1', '--timeout', '20s'], { kubeconfig: adminKc });
    expect(mine.code, mine.stderr + agent.stderr()).toBe(0);
    expect(kvLines(mine.stdout)[0]).toBe('status=completed');
    expect(await readFile(join(storage, 'here', 'versions', '1', 'manifest.yaml'), 'utf8')).toContain('nodeName: node-1');
    expect(agentEvents('w-one-checkpoint').map((e) => (e as unknown as { reason: string }).reason)).toEqual(['CheckpointRequested', 'CheckpointSucceeded']);

    // node-2's Job: no verdict, no lease, no event, no artifact, and no request of the
    // agent naming it. No pause needed: w-two was Ready before w-one's Job was created,
    // and w-one's verdict is in, so the agent is past w-two's events in its stream; and
    // the server never sends it w-two's pod at all, since its pod lists and watches ask
    // for node-1 only (checked next). A pause would only add time, not proof.
    expect(api.requestLog.entries({ user: AGENT_USER }).filter((e) => e.name?.startsWith('w-two') || e.rawQuery.includes('w-two')).map((e) => `${e.verb} ${e.resource}/${e.name}`)).toEqual([]);
    expect(job('w-two-checkpoint')?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS]).toBeUndefined();
    expect(api.requestLog.count({ user: AGENT_USER, resource: 'leases', name: 'w-two-checkpoint' })).toBe(0);
    expect(lease('w-two-checkpoint')).toBeUndefined();
    expect(agentEvents('w-two-checkpoint')).toEqual([]);
    expect(existsSync(join(storage, 'elsewhere'))).toBe(false);

    // Every pod list and watch of the agent asked only for its node.
    const podReads = api.requestLog.entries({ user: AGENT_USER, resource: 'pods' }).filter((e) => e.verb === 'list' || e.verb === 'watch');
    expect(podReads.length).toBeGreaterThan(0);
    expect(podReads.filter((e) => e.query['fieldSelector'] !== 'spec.nodeName=node-1')).toEqual([]);

    const stopped = await terminate(agent);
    expect(stopped.code, agent.stderr()).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(agent.stderr()).toContain('snapshot agent stopped (SIGTERM); exiting');
  });
});

describe('snapshotctl agent: SIGTERM with work in flight', () => {
  it('lets a checkpoint in flight finish within --shutdown-grace, releases its lease, exits 0', async () => {
    const agent = startAgentProgram(['--config', join(dir, 'config.yaml'), '--node-name', 'node-1', '--shutdown-grace', '10s']);
    const base = await agent.health();
    await waitFor('/readyz 200', async () => (await probe(base, '/readyz')).status === 200, 10_000, 100);
    // The CheckpointRequested event takes 1.5 s: the agent holds the lease meanwhile.
    api.faults.add({ verb: 'create', resource: 'events', times: 1, effect: { kind: 'delay', ms: 1500 } });
    const r = await runCli(['checkpoint', '--manifest', await workerNamed('w-drain'), '--checkpoint-id', 'drain', '--node', 'node-1', '--no-wait'], { kubeconfig: adminKc });
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the agent to hold the lease', () => lease('w-drain-checkpoint') !== undefined, 10_000);

    const stopped = await terminate(agent);
    expect(stopped.code, agent.stderr()).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(job('w-drain-checkpoint')?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS]).toBe('completed');
    expect(lease('w-drain-checkpoint')).toBeUndefined();
    // It did wait for the operation: the verdict came after the signal.
    expect(stopped.ms).toBeGreaterThan(500);
    expect(agent.stderr()).toContain('operations in flight have 10 s to finish');
    expect(agent.stderr()).toContain('stopping: no new work; waiting up to 10 s for 1 operation(s) in flight');
  });

  it('fails a restore that outlasts --shutdown-grace with the reason, leaves the placeholder running, exits 0', async () => {
    const agent = startAgentProgram(['--config', join(dir, 'config.yaml'), '--node-name', 'node-1', '--shutdown-grace', '500ms']);
    const r = await runCli(['checkpoint', '--manifest', await workerNamed('w-src'), '--checkpoint-id', 'to-restore', '--node', 'node-1', '--timeout', '20s'], { kubeconfig: adminKc });
    expect(r.code, r.stderr + agent.stderr()).toBe(0);

    // A placeholder that never turns Ready: the restore waits (restoreReadyTimeoutSeconds: 0).
    api.store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'placeholder',
        namespace: NS,
        labels: { [LABEL_IS_RESTORE_TARGET]: 'true', [LABEL_CHECKPOINT_ID]: 'to-restore' },
        annotations: { [NEVER_READY_ANNOTATION]: 'true' },
      },
      spec: { nodeName: 'node-1', containers: [{ name: 'worker', image: 'placeholder:1', command: ['sleep', 'infinity'] }] },
    });
    const status = () => api.store.get('pods', NS, 'placeholder')?.metadata.annotations?.[ANNOTATION_RESTORE_STATUS];
    await waitFor('restore in_progress', () => status() === 'in_progress', 10_000);

    const stopped = await terminate(agent);
    expect(stopped.code, agent.stderr()).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(status()).toBe('failed');
    const failed = agentEvents('placeholder').find((e) => (e as unknown as { reason: string }).reason === EVENT_RESTORE_FAILED) as unknown as { message: string } | undefined;
    expect(failed?.message).toBe('restore of checkpoint to-restore failed: the snapshot agent on node node-1 was stopped (SIGTERM) before this finished; run it again');
    const pod = api.store.get('pods', NS, 'placeholder') as (KubeObject & { status?: { phase?: string } }) | undefined;
    expect(pod?.metadata.deletionTimestamp).toBeUndefined();
    expect(pod?.status?.phase).toBe('Running');
  });
});
