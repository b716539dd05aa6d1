/**
 * The agent's trust boundary (issue 13 item 5): it runs as root on a node, so nothing a
 * pod, its labels or the checkpoint storage say may make it touch a Job that is not the
 * pod's, follow a link out of its base path, quote a file's bytes, or hand one
 * namespace's checkpoint to another.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ANNOTATION_ARTIFACT_VERSION,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_STATUS,
  EVENT_CHECKPOINT_FAILED,
  EVENT_RESTORE_FAILED,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_JOB_NAME,
} from '../protocol/constants.js';
import type { Job, KubeObject, Pod } from '../protocol/types.js';
import { RESOURCES } from '../kube/types.js';
import { startAgent, type AgentDecision, type RunningAgent, type StartAgentOptions } from './agent.js';
import { createSimEngine } from './sim-engine.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

const NS = 'ml';
const NODE = 'node-a';

async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function running(ready: boolean): Pod['status'] {
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ name: 'worker', containerID: 'containerd://abc123', ready }],
  };
}

let kube: FakeKubeClient;
let work: string;
let root: string;
let signals: Array<{ ns: string; pod: string; sig: string }>;
let logs: string[];
let agent: RunningAgent | undefined;
/** Every decision the agent reported (StartAgentOptions.onDecision). */
let decisions: AgentDecision[];

beforeEach(async () => {
  kube = new FakeKubeClient();
  work = await mkdtemp(join(tmpdir(), 'agent-trust-'));
  root = join(work, 'checkpoints');
  await mkdir(root);
  signals = [];
  logs = [];
  decisions = [];
  agent = undefined;
});

afterEach(async () => {
  await agent?.stop();
  await rm(work, { recursive: true, force: true });
});

function start(extra: Partial<StartAgentOptions> = {}): RunningAgent {
  agent = startAgent({
    client: kube,
    nodeName: NODE,
    storageRoot: root,
    engine: createSimEngine(),
    identity: 'agent-a',
    log: (level, m) => logs.push(`${level} ${m}`),
    signalContainer: (ns, pod, sig) => {
      signals.push({ ns, pod, sig });
    },
    lookupPid: () => 4242,
    timing: { leaseRenewMs: 50, resyncMs: 20, watchBackoffMs: 20, restoreReadyTimeoutMs: 2000 },
    onDecision: (d) => decisions.push(d),
    ...extra,
  });
  return agent;
}

/** Wait until the agent has looked at `pod` twice more and found nothing to do (see agent.test.ts). */
async function idleOn(pod: string, looks = 2): Promise<void> {
  const from = decisions.length;
  await waitFor(() => decisions.slice(from).filter((d) => d.pod === pod && d.decision === 'idle').length >= looks, `the agent to look at ${pod} and find nothing to do`);
}

interface CheckpointOpts {
  ns?: string;
  podAnnotations?: Record<string, string>;
}

/** A checkpoint Job and the pod its controller would make (owned by it, with its ID). */
async function createCheckpoint(id: string, opts: CheckpointOpts = {}) {
  const ns = opts.ns ?? NS;
  const jobName = `worker-${id.replace(/[^a-z0-9-]/g, '').slice(0, 30)}-checkpoint`;
  const job = await kube.create<Job>(RESOURCES.jobs, ns, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { [LABEL_CHECKPOINT_ID]: id } },
    spec: { backoffLimit: 0, template: { spec: { containers: [] } } },
  });
  const podName = `${jobName}-x1`;
  const pod = await kube.create<Pod>(RESOURCES.pods, ns, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName,
      labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: id, [LABEL_JOB_NAME]: jobName },
      annotations: opts.podAnnotations ?? {},
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '', controller: true }],
    },
    spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
    status: running(true),
  });
  return { job, jobName, pod, podName, ns };
}

async function createRestorePod(name: string, id: string, opts: { ns?: string; ready?: boolean; annotations?: Record<string, string> } = {}): Promise<Pod> {
  return kube.create<Pod>(RESOURCES.pods, opts.ns ?? NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { [LABEL_IS_RESTORE_TARGET]: 'true', [LABEL_CHECKPOINT_ID]: id }, annotations: opts.annotations ?? {} },
    spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
    status: running(opts.ready ?? true),
  });
}

function jobStatus(jobName: string, ns = NS): string | undefined {
  return kube.peek<Job>(RESOURCES.jobs, ns, jobName)?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS];
}

function restoreStatus(name: string, ns = NS): string | undefined {
  return kube.peek<Pod>(RESOURCES.pods, ns, name)?.metadata.annotations?.[ANNOTATION_RESTORE_STATUS];
}

type Ev = KubeObject & Record<string, any>;
function events(name?: string): Ev[] {
  return kube.all<Ev>(RESOURCES.events).filter((e) => name === undefined || e['involvedObject'].name === name);
}

async function checkpointFirst(id: string, ns = NS): Promise<void> {
  const { jobName } = await createCheckpoint(id, { ns });
  await waitFor(() => jobStatus(jobName, ns) === 'completed', `checkpoint ${id}`);
  signals.length = 0;
}

describe('(d) checkpoint IDs and artifact versions are validated before they become paths', () => {
  it.each([
    ['a space', 'bad id'],
    ['64 characters', 'a'.repeat(64)],
    ['a leading dot', '.hidden'],
    ['a newline', 'ok\nno'],
  ])('a restore pod whose ID has %s is refused at once, not waited for', async (_why, id) => {
    await createRestorePod('restore-bad', id);
    start();
    await waitFor(() => restoreStatus('restore-bad') === 'failed', 'failed');
    await waitFor(() => events('restore-bad').some((e) => e['reason'] === EVENT_RESTORE_FAILED), 'event');
    expect(events('restore-bad')[0]!['message']).toMatch(/refused: checkpoint ID .* (is|contains)/);
    expect(await readdir(root)).toEqual([]);
  });

  it('a checkpoint pod whose artifact-version annotation is a path is refused; nothing is written', async () => {
    const { jobName } = await createCheckpoint('ver-1', { podAnnotations: { [ANNOTATION_ARTIFACT_VERSION]: '../../escape' } });
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).length > 0, 'event');
    expect(events(jobName).at(-1)!['message']).toContain('artifact version');
    expect(await readdir(root)).toEqual([]);
    await expect(stat(join(work, 'escape'))).rejects.toThrow();
  });

  it.each([
    ['a path', '../1'],
    ['a version this agent does not know', '2'],
  ])('a restore pod whose artifact-version annotation is %s is refused', async (_why, version) => {
    start();
    await checkpointFirst('ver-2');
    await createRestorePod('restore-v', 'ver-2', { annotations: { [ANNOTATION_ARTIFACT_VERSION]: version } });
    await waitFor(() => restoreStatus('restore-v') === 'failed', 'failed');
    await waitFor(() => events('restore-v').length > 0, 'event');
    expect(events('restore-v').at(-1)!['message']).toMatch(/refused: artifact version/);
  });

  it('the artifact-version annotation "1" (what the CLI sends) is accepted', async () => {
    start();
    await checkpointFirst('ver-3');
    await createRestorePod('restore-ok', 'ver-3', { annotations: { [ANNOTATION_ARTIFACT_VERSION]: '1' } });
    await waitFor(() => restoreStatus('restore-ok') === 'completed', 'completed');
  });
});

describe('(c) file contents never reach events', () => {
  it('a manifest.yaml that is not YAML fails the restore with the file and the problem, not its bytes', async () => {
    start();
    await checkpointFirst('garbled');
    const secret = 'PRIVATE-KEY-MATERIAL-zz9';
    await writeFile(join(root, 'garbled', 'versions', '1', 'manifest.yaml'), `${secret}: [unclosed\n  - {`);
    await createRestorePod('restore-g', 'garbled');
    await waitFor(() => restoreStatus('restore-g') === 'failed', 'failed');
    await waitFor(() => events('restore-g').some((e) => e['reason'] === EVENT_RESTORE_FAILED), 'event');
    const text = events('restore-g').map((e) => e['message'] as string).join('\n') + logs.join('\n');
    expect(text).toContain('manifest.yaml is not valid YAML');
    expect(text).not.toContain(secret.slice(0, 7));
  });
});

/** Every entry under `dir` with its type, mode, size and content hash (or link target). */
async function snapshotTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    for (const name of (await readdir(d)).sort()) {
      const path = join(d, name);
      const st = await lstat(path);
      const what = st.isSymbolicLink()
        ? `link ${await readlink(path)}`
        : st.isDirectory()
          ? 'dir'
          : `file ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
      out.push(`${rel}${name} ${(st.mode & 0o7777).toString(8)} ${st.isDirectory() ? '' : st.size} ${what}`);
      if (st.isDirectory()) await walk(path, `${rel}${name}/`);
    }
  }
  await walk(dir, '');
  return out;
}

/** A directory outside the base path that the agent must leave byte for byte as it was. */
async function makeSentinel(): Promise<{ dir: string; before: string[] }> {
  const dir = join(work, 'outside');
  await mkdir(join(dir, 'versions', '1'), { recursive: true });
  await writeFile(join(dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(dir, 'versions', '1', 'precious.db'), 'do not delete me\n');
  await writeFile(join(dir, 'versions', '1', 'manifest.yaml'), 'checkpointId: victim\nnamespace: ml\n');
  await writeFile(join(dir, 'versions', '1', 'sim-state.json'), JSON.stringify({ simulated: true, checkpointId: 'victim' }));
  return { dir, before: await snapshotTree(dir) };
}

describe('(b) nothing outside the base path is read, written or deleted', () => {
  it.each([
    ['the checkpoint directory', (id: string) => join(root, id), (s: string) => s],
    ['its versions directory', (id: string) => join(root, id, 'versions'), (s: string) => join(s, 'versions')],
    ['the version directory itself', (id: string) => join(root, id, 'versions', '1'), (s: string) => join(s, 'versions', '1')],
  ])('checkpoint: %s a link out of the base path is refused, the Job failed, the outside untouched', async (_what, linkAt, target) => {
    const sentinel = await makeSentinel();
    const id = 'victim';
    await mkdir(join(linkAt(id), '..'), { recursive: true });
    await symlink(target(sentinel.dir), linkAt(id));
    const { jobName, podName } = await createCheckpoint(id);
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    const failed = events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!;
    expect(failed['message']).toContain(`refused: ${linkAt(id)} is a symbolic link`);
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGKILL' }]);
    expect(await snapshotTree(sentinel.dir)).toEqual(sentinel.before);
    // The link itself is left for a person to look at.
    expect((await lstat(linkAt(id))).isSymbolicLink()).toBe(true);
  });

  it('checkpoint: a file where the checkpoint directory should be is refused', async () => {
    await writeFile(join(root, 'afile'), 'x');
    const { jobName } = await createCheckpoint('afile');
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toContain('is not a directory');
    expect(await readFile(join(root, 'afile'), 'utf8')).toBe('x');
  });

  it('checkpoint: an artifact already published under the ID is refused and left as it is (links and all)', async () => {
    const sentinel = await makeSentinel();
    const old = join(root, 'again', 'versions', '1');
    await mkdir(join(old, 'nested'), { recursive: true });
    await writeFile(join(old, 'manifest.yaml'), 'checkpointId: again\nnamespace: ml\npod: first-worker\ncreatedAt: "2026-12-01T10:00:00Z"\n');
    await symlink(sentinel.dir, join(old, 'evil'));
    await symlink(join(sentinel.dir, 'passwd'), join(old, 'nested', 'evil-file'));
    const { jobName } = await createCheckpoint('again');
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toMatch(
      /checkpoint ID again \(version 1\) already has an artifact \(from pod ml\/first-worker, written 2026-12-01T10:00:00Z\), and an artifact is written once/,
    );
    expect((await readdir(old)).sort()).toEqual(['evil', 'manifest.yaml', 'nested']);
    expect(await snapshotTree(sentinel.dir)).toEqual(sentinel.before);
    expect(await readdir(join(root, 'again', 'versions'))).toEqual(['1']);
  });

  it('checkpoint Jobs of six pods with one ID at once (a CLI that does not look first): one completes, the others fail naming why, one artifact', async () => {
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const jobName = `racer-${i}-checkpoint`;
      const job = await kube.create<Job>(RESOURCES.jobs, NS, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: jobName, labels: { [LABEL_CHECKPOINT_ID]: 'contested' } },
        spec: { backoffLimit: 0, template: { spec: { containers: [] } } },
      });
      await kube.create<Pod>(RESOURCES.pods, NS, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${jobName}-x1`,
          labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: 'contested', [LABEL_JOB_NAME]: jobName },
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '', controller: true }],
        },
        spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
        status: running(true),
      });
      names.push(jobName);
    }
    start();
    await waitFor(() => names.every((n) => jobStatus(n) !== undefined), 'six verdicts');
    expect(names.filter((n) => jobStatus(n) === 'completed')).toHaveLength(1);
    for (const n of names.filter((x) => jobStatus(x) === 'failed')) {
      await waitFor(() => events(n).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), `event of ${n}`);
      expect(events(n).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toMatch(/is being written by job\.batch\/racer-\d-checkpoint|already has an artifact|was published by another checkpoint first/);
    }
    expect(await readdir(join(root, 'contested', 'versions'))).toEqual(['1']);
  });

  it('checkpoint: renewals of its Lease fail for longer than its duration (an API outage): the dump is not published, the Job fails saying why', async () => {
    let clock = Date.parse('2026-12-03T12:00:00Z');
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let dumping = false;
    const sim = createSimEngine();
    const engine = {
      ...sim,
      async checkpoint(ctx: Parameters<typeof sim.checkpoint>[0]) {
        dumping = true;
        await gate;
        return sim.checkpoint(ctx);
      },
    };
    const { jobName } = await createCheckpoint('outage');
    start({ engine, now: () => clock, timing: { leaseDurationMs: 3000, leaseRenewMs: 20, resyncMs: 20, watchBackoffMs: 20, restoreReadyTimeoutMs: 2000 } });
    await waitFor(() => dumping, 'the dump to start');
    kube.failNext('patch', 'leases', 503, 100_000);
    clock += 5000;
    await new Promise((r) => setTimeout(r, 80));
    open();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toMatch(/lost lease .*while checkpointing; the dump was not published/);
    expect(await readdir(join(root, 'outage', 'versions')).catch(() => [])).toEqual([]);
  });

  it('checkpoint: a version directory without a manifest (a removal cut short) is set aside without following its links', async () => {
    const sentinel = await makeSentinel();
    const old = join(root, 'again', 'versions', '1');
    await mkdir(join(old, 'nested'), { recursive: true });
    await symlink(sentinel.dir, join(old, 'evil'));
    await symlink(join(sentinel.dir, 'passwd'), join(old, 'nested', 'evil-file'));
    const { jobName } = await createCheckpoint('again');
    start();
    await waitFor(() => jobStatus(jobName) === 'completed', 'completed');
    expect(await snapshotTree(sentinel.dir)).toEqual(sentinel.before);
    expect((await readdir(old)).sort()).toEqual(['manifest.yaml', 'sim-state.json']);
    expect(await readdir(join(root, 'again', 'versions'))).toEqual(['1']);
  });

  it('restore: a checkpoint directory linked out of the base path is refused, not restored from', async () => {
    const sentinel = await makeSentinel();
    await symlink(sentinel.dir, join(root, 'victim'));
    await createRestorePod('restore-l', 'victim');
    start();
    await waitFor(() => restoreStatus('restore-l') === 'failed', 'failed');
    await waitFor(() => events('restore-l').some((e) => e['reason'] === EVENT_RESTORE_FAILED), 'event');
    expect(events('restore-l').at(-1)!['message']).toContain(`refused: ${join(root, 'victim')} is a symbolic link`);
    expect(await snapshotTree(sentinel.dir)).toEqual(sentinel.before);
  });

  it('restore: manifest.yaml linked to a root-only file is refused without quoting it', async () => {
    start();
    await checkpointFirst('linked');
    const secret = join(work, 'shadow');
    await writeFile(secret, 'root:$6$SECRETHASH:19000::::::\n', { mode: 0o600 });
    const manifest = join(root, 'linked', 'versions', '1', 'manifest.yaml');
    await rm(manifest);
    await symlink(secret, manifest);
    await createRestorePod('restore-m', 'linked');
    await waitFor(() => restoreStatus('restore-m') === 'failed', 'failed');
    await waitFor(() => events('restore-m').some((e) => e['reason'] === EVENT_RESTORE_FAILED), 'event');
    const text = events('restore-m').map((e) => e['message'] as string).join('\n') + logs.join('\n');
    expect(text).toContain('manifest.yaml is a symbolic link');
    expect(text).not.toContain('SECRETHASH');
  });

  it('a base path that is itself a link (operator configuration) is followed', async () => {
    const real = join(work, 'real-pvc');
    await mkdir(real);
    await symlink(real, join(work, 'pvc-link'));
    const { jobName } = await createCheckpoint('via-link');
    start({ storageRoot: join(work, 'pvc-link') });
    await waitFor(() => jobStatus(jobName) === 'completed', 'completed');
    expect((await stat(join(real, 'via-link', 'versions', '1', 'manifest.yaml'))).isFile()).toBe(true);
  });
});

describe('(a) a checkpoint pod counts only when its Job owns it and it carries the Job\'s ID', () => {
  /** The victim: a Job whose own pod is not Ready yet, so only an impostor could finish it. */
  async function victim() {
    const v = await createCheckpoint('victim-ck');
    kube.update<Pod>(RESOURCES.pods, NS, v.podName, (p) => {
      p.status = running(false);
    });
    return v;
  }

  async function impostor(name: string, meta: (v: Awaited<ReturnType<typeof victim>>) => Partial<Pod['metadata']>, v: Awaited<ReturnType<typeof victim>>) {
    return kube.create<Pod>(RESOURCES.pods, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: 'victim-ck', [LABEL_JOB_NAME]: v.jobName },
        ...meta(v),
      },
      spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'attacker:1' }] },
      status: running(true),
    });
  }

  const owner = (v: { jobName: string; job: Job }, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    name: v.jobName,
    uid: v.job.metadata.uid ?? '',
    controller: true,
    ...extra,
  });

  it.each<[string, (v: Awaited<ReturnType<typeof victim>>) => Partial<Pod['metadata']>, RegExp]>([
    ['a bare pod with the Job\'s name and ID in its labels', () => ({}), /no controller ownerReference/],
    ['an owner reference with the Job\'s name but another UID', (v) => ({ ownerReferences: [owner(v, { uid: 'forged-uid' })] }), /not Job ml\/.* \(UID /],
    ['the Job\'s UID, but not as controller', (v) => ({ ownerReferences: [owner(v, { controller: false })] }), /no controller ownerReference/],
    ['the Job\'s UID on another kind', (v) => ({ ownerReferences: [owner(v, { kind: 'ReplicaSet', apiVersion: 'apps/v1' })] }), /not Job ml\//],
    [
      'owned by the Job, but with another checkpoint ID',
      (v) => ({
        ownerReferences: [owner(v)],
        labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: 'attacker-ck', [LABEL_JOB_NAME]: v.jobName },
      }),
      /checkpoint ID "attacker-ck" is not its Job's \("victim-ck"\)/,
    ],
  ])('%s: refused with a Warning on the pod; the Job is never touched', async (_why, meta, reason) => {
    const v = await victim();
    await impostor('impostor', meta, v);
    const callsBefore = kube.calls.length;
    start();
    await waitFor(() => events('impostor').length > 0, 'refusal event');
    // Looked at again since and left alone: a second refusal or a late write would be in by now.
    await idleOn('impostor');
    const [refused, ...more] = events('impostor');
    expect(more).toEqual([]);
    expect(refused).toMatchObject({ type: 'Warning', reason: 'CheckpointRefused', involvedObject: { kind: 'Pod', name: 'impostor', namespace: NS } });
    expect(refused!['message']).toMatch(reason);
    // The Job: no verdict, no event, no lease, no call that writes.
    expect(kube.peek<Job>(RESOURCES.jobs, NS, v.jobName)?.metadata.annotations ?? {}).toEqual({});
    expect(events(v.jobName)).toEqual([]);
    expect(kube.calls.slice(callsBefore).filter((c) => c.verb !== 'get' && c.verb !== 'list' && c.verb !== 'watch' && c.resource !== 'events')).toEqual([]);
    expect(signals).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('a pod naming a Job that does not exist is refused on the pod', async () => {
    await kube.create<Pod>(RESOURCES.pods, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'orphan', labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: 'x', [LABEL_JOB_NAME]: 'no-such-job' } },
      spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'attacker:1' }] },
      status: running(true),
    });
    start();
    await waitFor(() => events('orphan').length > 0, 'refusal event');
    expect(events('orphan')[0]).toMatchObject({ type: 'Warning', reason: 'CheckpointRefused' });
    expect(events('orphan')[0]!['message']).toContain(`Job ${NS}/no-such-job does not exist`);
  });

  it('the Job\'s own pod still checkpoints once it is Ready, beside a refused impostor', async () => {
    const v = await victim();
    await impostor('impostor', () => ({}), v);
    start();
    await waitFor(() => events('impostor').length > 0, 'refusal event');
    kube.update<Pod>(RESOURCES.pods, NS, v.podName, (p) => {
      p.status = running(true);
    });
    await waitFor(() => jobStatus(v.jobName) === 'completed', 'completed');
    const manifest = await readFile(join(root, 'victim-ck', 'versions', '1', 'manifest.yaml'), 'utf8');
    expect(manifest).toContain(`pod: ${v.podName}`);
  });
});

describe('(e) a checkpoint is restored only into the namespace that made it', () => {
  const A = 'team-a';
  const B = 'team-b';

  it('a restore into another namespace is refused: failed, RestoreFailed naming both namespaces', async () => {
    start();
    await checkpointFirst('shared', A);
    const manifest = await readFile(join(root, 'shared', 'versions', '1', 'manifest.yaml'), 'utf8');
    expect(manifest).toContain(`namespace: ${A}`);
    await createRestorePod('thief', 'shared', { ns: B });
    await waitFor(() => restoreStatus('thief', B) === 'failed', 'failed');
    await waitFor(() => events('thief').some((e) => e['reason'] === EVENT_RESTORE_FAILED), 'event');
    const failed = events('thief').find((e) => e['reason'] === EVENT_RESTORE_FAILED)!;
    expect(failed['message']).toContain(`refused: checkpoint shared was made in namespace ${A}`);
    expect(failed['message']).toContain(`into namespace ${B}`);
    // Refused before it started: never in progress, nothing killed.
    expect(events('thief').map((e) => e['reason'])).toEqual([EVENT_RESTORE_FAILED]);
    expect(signals).toEqual([]);
  });

  it('allowCrossNamespaceRestore lets it through', async () => {
    start({ allowCrossNamespaceRestore: true });
    await checkpointFirst('shared', A);
    await createRestorePod('guest', 'shared', { ns: B });
    await waitFor(() => restoreStatus('guest', B) === 'completed', 'completed');
    expect(events('guest').map((e) => e['type'])).not.toContain('Warning');
  });

  it('the same namespace restores without a warning', async () => {
    start();
    await checkpointFirst('own', A);
    await createRestorePod('home', 'own', { ns: A });
    await waitFor(() => restoreStatus('home', A) === 'completed', 'completed');
    expect(events('home').map((e) => e['type'])).not.toContain('Warning');
  });

  it('an artifact that records no namespace (Dynamo v1.0.x) is restored, with a Warning that it was not checked', async () => {
    const dir = join(root, 'dynamo-ck', 'versions', '1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.yaml'), 'checkpointId: dynamo-ck\ncreatedAt: "2025-01-01T00:00:00Z"\nnodeName: node-a\npod: w\ncontainer: worker\n');
    await writeFile(join(dir, 'sim-state.json'), JSON.stringify({ simulated: true, checkpointId: 'dynamo-ck', namespace: 'x', pod: 'w', container: 'worker' }));
    await createRestorePod('from-dynamo', 'dynamo-ck', { ns: B });
    start();
    await waitFor(() => restoreStatus('from-dynamo', B) === 'completed', 'completed');
    const warning = events('from-dynamo').find((e) => e['type'] === 'Warning');
    expect(warning).toMatchObject({ reason: 'RestoreNamespaceUnverified' });
    expect(warning!['message']).toContain('records no namespace');
  });

  it.each([
    ['a namespace that is not a string', 'checkpointId: odd\nnamespace: [a, b]\n', /records a namespace that is not a string/],
    ['another checkpoint ID', 'checkpointId: someone-else\nnamespace: team-b\n', /manifest\.yaml records another checkpoint ID/],
  ])('a manifest with %s is refused', async (_why, text, reason) => {
    const dir = join(root, 'odd', 'versions', '1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.yaml'), text);
    await createRestorePod('odd-pod', 'odd', { ns: B });
    start();
    await waitFor(() => restoreStatus('odd-pod', B) === 'failed', 'failed');
    await waitFor(() => events('odd-pod').length > 0, 'event');
    expect(events('odd-pod').at(-1)!['message']).toMatch(reason);
  });

  it("a checkpoint from another namespace may not replace a namespace's artifact", async () => {
    start();
    await checkpointFirst('taken', A);
    const before = await readFile(join(root, 'taken', 'versions', '1', 'manifest.yaml'), 'utf8');
    const { jobName } = await createCheckpoint('taken', { ns: B });
    await waitFor(() => jobStatus(jobName, B) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toContain(`made in namespace ${A}`);
    expect(await readFile(join(root, 'taken', 'versions', '1', 'manifest.yaml'), 'utf8')).toBe(before);
  });
});

describe('(e) a checkpoint whose agent stopped in the middle (its pod deleted or killed)', () => {
  /** A Job's Lease held by `holder`, last renewed `agoMs` ago. */
  async function leaseOf(jobName: string, job: Job, holder: string, agoMs: number): Promise<void> {
    const at = new Date(Date.now() - agoMs).toISOString().replace('Z', '000Z');
    await kube.create(RESOURCES.leases, NS, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: jobName, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '' }] },
      spec: { holderIdentity: holder, leaseDurationSeconds: 30, acquireTime: at, renewTime: at, leaseTransitions: 0 },
    } as KubeObject);
  }
  /** The Lease a killed agent leaves: its holder, renewed long ago, never released. */
  const deadLease = (jobName: string, job: Job) => leaseOf(jobName, job, 'agent-dead', 10 * 60_000);

  it('nothing published: its unfinished files are removed, the Job fails naming the agent, the source is not dumped again', async () => {
    const { job, jobName, podName } = await createCheckpoint('cut');
    await deadLease(jobName, job);
    const versions = join(root, 'cut', 'versions');
    const mine = join(versions, `.staging-1-${job.metadata.uid}-aaaaaa`);
    const theirs = join(versions, '.staging-1-0f0f0f0f-other-job-bbbbbb');
    await mkdir(mine, { recursive: true });
    await mkdir(theirs);
    await writeFile(join(mine, 'pages-1.img'), 'half a dump');
    const sentinel = await makeSentinel();
    await symlink(sentinel.dir, join(mine, 'evil'));
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    const failed = events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!;
    expect(failed['message']).toMatch(/^checkpoint cut failed: interrupted: agent agent-dead stopped in the middle of it/);
    expect(failed['message']).toContain(`its unfinished files were removed (${mine})`);
    expect(failed['message']).toContain('delete the Job and run the checkpoint again');
    // No artifact a restore would use; another Job's staging and the link's target untouched.
    expect((await readdir(versions)).sort()).toEqual(['.staging-1-0f0f0f0f-other-job-bbbbbb']);
    expect(await snapshotTree(sentinel.dir)).toEqual(sentinel.before);
    // The half-dumped source is stopped, never dumped again.
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGKILL' }]);
    await waitFor(() => kube.peek(RESOURCES.leases, NS, jobName) === undefined, 'the lease released');
  });

  it('published from this very pod before the agent stopped: only the verdict was missing, and it is written', async () => {
    const { job, jobName, pod, podName } = await createCheckpoint('late');
    await deadLease(jobName, job);
    const dir = join(root, 'late', 'versions', '1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.yaml'), `checkpointId: late\nartifactVersion: "1"\nnamespace: ${NS}\npod: ${podName}\npodUid: ${pod.metadata.uid}\n`);
    start();
    await waitFor(() => jobStatus(jobName) === 'completed', 'completed verdict');
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGUSR1' }]);
    expect(events(jobName).map((e) => e['reason'])).toEqual(['CheckpointSucceeded']);
    expect(events(jobName)[0]!['message']).toContain('agent agent-dead published it and stopped before its verdict');
  });

  it('an artifact of another pod under the ID does not count: the Job fails', async () => {
    const { job, jobName } = await createCheckpoint('other');
    await deadLease(jobName, job);
    const dir = join(root, 'other', 'versions', '1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.yaml'), `checkpointId: other\nartifactVersion: "1"\nnamespace: ${NS}\npod: old\npodUid: 11111111-old\n`);
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => events(jobName).some((e) => e['reason'] === EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName).at(-1)!['message']).toMatch(/interrupted: agent agent-dead/);
  });

  it('a Lease another agent still renews is waited for, not taken', async () => {
    const { job, jobName } = await createCheckpoint('alive');
    await leaseOf(jobName, job, 'agent-b', 0);
    start();
    await waitFor(() => logs.some((l) => l.includes('is held by agent-b; waiting')), 'the wait logged');
    // The attempt that found the Lease held has settled, and the agent looked at the pod again since.
    const from = decisions.length;
    await waitFor(() => decisions.slice(from).filter((d) => d.pod === `${jobName}-x1` && (d.decision === 'idle' || d.decision === 'settled')).length >= 2, 'looks after the wait');
    expect(jobStatus(jobName)).toBeUndefined();
    expect(signals).toEqual([]);
  });
});
