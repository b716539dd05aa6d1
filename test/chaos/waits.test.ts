/**
 * Waits and look-ups under API faults that never go away (issue 14 defects 5, 6, 7, 9
 * and 10), through the built binary against the dev cluster or a TCP server that
 * never answers. Request counts are taken at the server, from the CLI's own user.
 *
 * Each case fails on the code before the fix:
 * - watch 410 forever: one checkpoint sent thousands of requests (the storm).
 * - watch 500 forever: success became a timeout and the completed Job was deleted.
 * - API server killed mid-wait: silence for the whole --timeout, then exit 4 blaming the agent.
 * - a server that accepts and never answers: list/describe/delete ran for minutes.
 * - Ctrl-C in list/describe/delete: exit 3 "The operation was aborted (ABORT_ERR)";
 *   a second Ctrl-C during cleanup named nothing it left.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DevCluster } from '../../src/dev/cluster.js';
import { writeKubeconfig } from '../../src/kube/testing/scripted-server.js';
import { kvLines, leftovers, PLACEHOLDER_MANIFEST, runCli, setAgentFaults, sleep, useCluster, waitFor, WORKER_MANIFEST, type CliRun } from '../e2e/harness.js';

const JOB = 'vllm-worker-checkpoint';

/** A kubeconfig for user "cli", so the CLI's requests can be told from the agents'. */
async function cliKubeconfig(c: DevCluster): Promise<string> {
  const token = c.api.addToken('cli', [{ verbs: ['*'], resources: ['*'] }]);
  const path = join(c.dir, 'kubeconfig-cli');
  await c.api.writeKubeconfig(path, { token, namespace: 'default' });
  return path;
}

/** Time of the CLI's first request (discovery's DaemonSet list), epoch ms. */
function firstRequest(c: DevCluster): number {
  const e = c.api.requestLog.entries({ user: 'cli' })[0];
  expect(e, 'the CLI reached the API server').toBeDefined();
  return e!.time;
}

function checkpoint(timeout: string, id: string): string[] {
  return ['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', id, '--timeout', timeout];
}

/** Run the CLI; `signals` are sent in turn, each once its condition holds. */
async function runWithSignals(args: string[], opts: { kubeconfig: string; timeoutMs?: number }, signals: Array<() => boolean>): Promise<CliRun> {
  let child: ChildProcess | undefined;
  let running = true;
  const sender = (async () => {
    for (const when of signals) {
      while (running && !(child && when())) await sleep(20);
      if (!running) return;
      child!.kill('SIGINT');
    }
  })();
  try {
    return await runCli(args, { kubeconfig: opts.kubeconfig, timeoutMs: opts.timeoutMs ?? 30_000, onSpawn: (p) => (child = p) });
  } finally {
    running = false;
    await sender;
  }
}

describe('waits under faults that never go away', () => {
  const cluster = useCluster();

  it('watch answers 410 Gone forever, agent silent: a bounded handful of requests, exit 4 at --timeout, the Job deleted (defect 5)', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { silent: true });
    const gone = c.api.faults.add({ verb: 'watch', resource: 'jobs', effect: { kind: 'status', code: 410 } });
    const r = await runCli([...checkpoint('5s', 'storm-1')], { kubeconfig, timeoutMs: 30_000 });
    const context = `exit ${String(r.code)} after ${r.ms} ms\n${r.stderr}`;

    expect(r.code, context).toBe(4);
    expect(r.stderr, context).toMatch(/^error: timed out after 5s waiting for jobs\.batch "vllm-worker-checkpoint" in namespace "default"$/m);
    expect(gone.hits, 'the 410 reached the CLI').toBeGreaterThan(0);
    // Before the fix: thousands (6,231 in 10 s). Now a few list/watch rounds with back-off,
    // then get polling every second, cleanup included.
    const all = c.api.requestLog.count({ user: 'cli' });
    const jobReads = c.api.requestLog.entries({ user: 'cli', resource: 'jobs' }).filter((e) => e.verb === 'list' || e.verb === 'watch').length;
    expect(all, context).toBeLessThanOrEqual(30);
    expect(jobReads, context).toBeLessThanOrEqual(10);
    expect(r.stderr).toMatch(/watch on jobs keeps failing \(410 Gone\); polling every 1s/);
    expect(Date.now() - firstRequest(c), context).toBeLessThanOrEqual(5000 + 3000);
    expect(leftovers(c)).toEqual([]);
  });

  it('watch answers 410 Gone forever, agent normal: the verdict is still found (exit 0)', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { delayMs: 1500 });
    c.api.faults.add({ verb: 'watch', resource: 'jobs', effect: { kind: 'status', code: 410 } });
    const r = await runCli(checkpoint('20s', 'storm-2'), { kubeconfig });
    expect(r.code, r.stderr).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    expect(c.api.requestLog.count({ user: 'cli' })).toBeLessThanOrEqual(30);
  });

  it('watch answers 500 forever, agent normal: success within --timeout, the completed Job kept (defect 7)', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { delayMs: 1500 });
    const broken = c.api.faults.add({ verb: 'watch', resource: 'jobs', effect: { kind: 'status', code: 500 } });
    const r = await runCli(checkpoint('8s', 'broken-1'), { kubeconfig });
    const context = `exit ${String(r.code)} after ${r.ms} ms\n${r.stderr}`;

    expect(r.code, context).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    expect(broken.hits).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toMatch(/watch on jobs keeps failing \(500 InternalError\); polling every 1s/);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(c.api.store.get('jobs', 'default', JOB)?.metadata.annotations?.['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
    expect(c.api.requestLog.count({ user: 'cli', verb: 'delete' })).toBe(0);
    // Found soon after the verdict, not at the timeout.
    expect(Date.now() - firstRequest(c), context).toBeLessThan(8000);
  });

  it('watch answers 500 forever, agent silent: --timeout 4s ends within 2.5 s of it, the Job deleted (defect 7)', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { silent: true });
    c.api.faults.add({ verb: 'watch', resource: 'jobs', effect: { kind: 'status', code: 500 } });
    const r = await runCli(checkpoint('4s', 'broken-2'), { kubeconfig });
    const context = `exit ${String(r.code)} after ${r.ms} ms\n${r.stderr}`;

    expect(r.code, context).toBe(4);
    expect(r.stderr).toMatch(/deleted job\.batch\/vllm-worker-checkpoint in namespace "default" \(created by this run\)/);
    // Before the fix: 40 s for --timeout 8s (cleanup waited 30 s on the broken watch).
    expect(Date.now() - firstRequest(c), context).toBeLessThanOrEqual(4000 + 2500);
    expect(leftovers(c)).toEqual([]);
  });

  it('the API server killed mid-wait: exit 3 within seconds naming it, and the Job left with its kubectl delete (defect 6)', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { silent: true });
    let killedAt = 0;
    let child: ChildProcess | undefined;
    const killer = (async () => {
      await waitFor('the CLI to watch the Job', () => c.api.faults.openWatches({ resource: 'jobs' }) > 0, 20_000);
      killedAt = Date.now();
      await c.api.close();
    })();
    const r = await runCli(checkpoint('60s', 'gone-1'), { kubeconfig, timeoutMs: 40_000, onSpawn: (p) => (child = p) });
    await killer;
    const context = `exit ${String(r.code)} after ${r.ms} ms\n${r.stderr}`;
    expect(child).toBeDefined();

    expect(r.code, context).toBe(3);
    expect(r.stderr, context).toMatch(
      /^error: the API server at https?:\/\/127\.0\.0\.1:\d+ stopped answering while waiting for jobs\.batch "vllm-worker-checkpoint" in namespace "default" \(connection (refused|reset), \d+ tries in a row\)$/m,
    );
    expect(r.stderr).not.toMatch(/snapshot agent gave no verdict/);
    expect(r.stderr, context).toMatch(
      /could not delete job\.batch\/vllm-worker-checkpoint in namespace "default": .*; delete it with: kubectl delete job vllm-worker-checkpoint -n default --cascade=foreground/,
    );
    // Told within seconds of the kill, not at the 60 s timeout.
    expect(Date.now() - killedAt, context).toBeLessThanOrEqual(12_000);
  });
});

describe('a second Ctrl-C during cleanup names what it leaves (defect 10)', () => {
  const cluster = useCluster();

  it('checkpoint: the Job and its kubectl delete', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    setAgentFaults(c, { silent: true });
    const slowDelete = c.api.faults.add({ verb: 'delete', resource: 'jobs', effect: { kind: 'delay', ms: 5000 } });
    const r = await runWithSignals(checkpoint('60s', 'twice-1'), { kubeconfig }, [
      () => c.api.faults.openWatches({ resource: 'jobs' }) > 0,
      () => slowDelete.hits > 0,
    ]);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('received SIGINT: stopping and cleaning up (press Ctrl-C again to exit at once)\n');
    expect(r.stderr).toContain(
      'received SIGINT again: exiting without finishing cleanup\nleft behind: job.batch/vllm-worker-checkpoint in namespace "default"; delete it with: kubectl delete job vllm-worker-checkpoint -n default --cascade=foreground\n',
    );
  });

  it('describe: the reader pod and its kubectl delete', async () => {
    const c = cluster();
    const kubeconfig = await cliKubeconfig(c);
    const made = await runCli(checkpoint('30s', 'twice-2'), { kubeconfig });
    expect(made.code, made.stderr).toBe(0);
    const slowDelete = c.api.faults.add({ verb: 'delete', resource: 'pods', effect: { kind: 'delay', ms: 5000 } });
    const r = await runWithSignals(['describe', 'twice-2'], { kubeconfig }, [() => slowDelete.hits > 0, () => slowDelete.hits > 0]);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(
      /received SIGINT again: exiting without finishing cleanup\nleft behind: pod\/(snapshotctl-reader-\w+) in namespace "default"; delete it with: kubectl delete pod \1 -n default\n/,
    );
  });
});

/** A TCP server on 127.0.0.1 that accepts connections and never answers. */
class SilentServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** When each connection was accepted. */
  readonly accepted: number[] = [];
  url = '';
  constructor() {
    this.server = createServer((s) => {
      this.accepted.push(Date.now());
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((ok) => this.server.close(ok));
  }
}

const LOOKUPS: Array<[string, string[], string]> = [
  ['list', ['list'], 'listing checkpoints in namespace "default"'],
  ['describe', ['describe', 'ck-1'], 'looking for checkpoint "ck-1" in namespace "default"'],
  ['delete', ['delete', 'ck-1', '--yes'], 'looking up checkpoints in namespace "default"'],
];

describe('a server that accepts connections and never answers (defects 9 and 10)', () => {
  let silent: SilentServer;
  let kubeconfig: string;
  beforeEach(async () => {
    silent = new SilentServer();
    await silent.start();
    kubeconfig = writeKubeconfig({ server: silent.url, namespace: 'default' });
  });
  afterEach(async () => {
    await silent.close();
  });

  const EVERY: Array<[string, string[], string]> = [
    ...LOOKUPS,
    ['checkpoint', ['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'ck-1'], 'looking for the snapshot agent in namespace "default"'],
    ['restore', ['restore', '--manifest', PLACEHOLDER_MANIFEST, '--checkpoint-id', 'ck-1'], 'looking for the snapshot agent in namespace "default"'],
  ];

  it.each(EVERY)('%s --timeout 3s: exit 4 within 2 s of the timeout, naming the server', async (_name, args, what) => {
    const r = await runCli([...args, '--timeout', '3s'], { kubeconfig, timeoutMs: 20_000 });
    const exited = Date.now();
    const context = `exit ${String(r.code)} after ${r.ms} ms\n${r.stderr}`;
    expect(r.code, context).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr, context).toContain(`error: timed out after 3s while ${what}\n`);
    expect(r.stderr, context).toContain(`hint: the API server at ${silent.url} did not answer in time`);
    expect(silent.accepted.length, 'the CLI connected').toBeGreaterThan(0);
    // Before the fix describe --timeout 5s still ran after 60 s.
    expect(exited - silent.accepted[0]!, context).toBeLessThanOrEqual(3000 + 2000);
  });

  it.each(LOOKUPS)('%s: Ctrl-C during the look-ups exits 130 with the interrupted message', async (_name, args, what) => {
    const r = await runWithSignals(args, { kubeconfig }, [() => silent.accepted.length > 0]);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('received SIGINT: stopping and cleaning up');
    expect(r.stderr).toContain(`error: interrupted while ${what}; nothing was changed\n`);
    expect(r.stderr).not.toMatch(/ABORT_ERR/);
  });
});
