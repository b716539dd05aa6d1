/** The `process` runtime: real child processes, exec probes, exit codes, signals, cleanup. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { ProcessContainer } from './runtime.js';
import { call, open, waitFor } from './testutil.js';
import type { KubeObject } from './types.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({ nodes: 1, runtime: 'process', probePeriodMs: 50, maxGraceMs: 500 });
});
afterAll(async () => {
  await api.close();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runPod(name: string, script: string, extra: Record<string, unknown> = {}): KubeObject {
  return api.store.create('pods', {
    metadata: { name, namespace: 'default' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'local', command: ['sh', '-c', script], env: [{ name: 'GREETING', value: 'hello' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ...extra }] },
  });
}

const phase = (name: string): string | undefined => api.store.get('pods', 'default', name)?.status?.phase;
const ready = (name: string): boolean => (api.store.get('pods', 'default', name)?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

describe('process runtime', () => {
  it('runs the command in its own directory with the pod env; an exec readiness probe gates Ready', async () => {
    runPod('pr1', 'sleep 0.3; echo "$GREETING $POD_NAME" > out.txt; exec sleep 30', { readinessProbe: { exec: { command: ['test', '-f', 'out.txt'] } } });
    const h = await api.nodes.waitForContainer('default', 'pr1');
    expect(h.runtime).toBe('process');
    expect(h.pid).toBeGreaterThan(0);
    expect(alive(h.pid!)).toBe(true);
    await waitFor(() => phase('pr1') === 'Running');
    expect(ready('pr1')).toBe(false);
    await waitFor(() => ready('pr1'), 5000, 'Ready after the probe passes');
    expect(readFileSync(join(h.workDir!, 'out.txt'), 'utf8')).toBe('hello pr1\n');
    const cs = api.store.get('pods', 'default', 'pr1')!.status.containerStatuses[0];
    expect(cs).toMatchObject({ ready: true, started: true, containerID: h.containerID });
  });

  it('pods/log serves the process output', async () => {
    runPod('plog', 'echo line1; echo line2; exec sleep 30');
    await api.nodes.waitForContainer('default', 'plog');
    const get = async (q = ''): Promise<string> => (await call(api, 'GET', `/api/v1/namespaces/default/pods/plog/log${q}`)).body as string;
    await waitFor(async () => (await get()) === 'line1\nline2\n', 3000, 'log output');
    expect(await get('?tailLines=1')).toBe('line2\n');
  });

  it.each([
    ['exit 0 → Succeeded', 'exit 0', undefined, 'Succeeded', 0],
    ['exit 3 → Failed with the code', 'exit 3', undefined, 'Failed', 3],
    ['SIGUSR1 trapped → exit 0', 'trap "exit 0" USR1; : > trapped; while true; do sleep 0.05; done', 'SIGUSR1', 'Succeeded', 0],
    ['SIGKILL → Failed 137', 'exec sleep 30', 'SIGKILL', 'Failed', 137],
  ] as const)('%s', async (title, script, sig, want, code) => {
    const name = `pe-${title.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}`;
    runPod(name, script);
    const h = await waitFor(() => api.nodes.containerFor('default', name));
    if (sig) {
      await waitFor(() => phase(name) === 'Running');
      // Signal only once the shell has set its trap (it writes `trapped` right after).
      if (script.includes('trapped')) await waitFor(() => existsSync(join(h.workDir!, 'trapped')), 5000, 'trap set');
      expect(h.signal(sig)).toBe(true);
    }
    await waitFor(() => phase(name) === want, 5000, `phase ${want}`);
    const term = api.store.get('pods', 'default', name)!.status.containerStatuses[0].state.terminated;
    expect(term.exitCode).toBe(code);
    expect(term.reason).toBe(code === 0 ? 'Completed' : 'Error');
    expect((await h.exited).exitCode).toBe(code);
  });

  it('deleting the pod kills the process and removes its directory', async () => {
    runPod('pd', 'exec sleep 30');
    const h = await api.nodes.waitForContainer('default', 'pd');
    await waitFor(() => phase('pd') === 'Running');
    api.store.delete('pods', 'default', 'pd');
    await waitFor(() => api.store.get('pods', 'default', 'pd') === undefined, 5000, 'pod removal');
    await waitFor(() => !alive(h.pid!), 2000, 'process exit');
    expect(existsSync(h.workDir!)).toBe(false);
  });

  it('close() leaves no child process behind', async () => {
    const own = await startApiServer({ nodes: 1, runtime: 'process' });
    own.store.create('pods', { metadata: { name: 'leftover', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'local', command: ['sleep', '30'] }] } });
    const h = await own.nodes.waitForContainer('default', 'leftover');
    expect(alive(h.pid!)).toBe(true);
    await own.close();
    await waitFor(() => !alive(h.pid!), 2000, 'process killed by close()');
  });
});

describe('startApiServer / close', () => {
  it('close() stops every socket, timer and watch it started', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const own = await startApiServer({ nodes: 2 });
    own.store.create('pods', { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i', command: ['sleep', '100'], readinessProbe: { exec: { command: ['true'] } } }] } });
    const ctrl = new AbortController();
    await waitFor(() => own.store.get('pods', 'default', 'p')?.status?.phase === 'Running');
    const res = await open(own, '/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=30', { headers: { Authorization: `Bearer ${own.adminToken}` }, signal: ctrl.signal });
    res.on('error', () => {});
    expect(res.statusCode).toBe(200);
    await own.close();
    ctrl.abort();
    await new Promise((r) => setTimeout(r, 50));
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe('process runtime: adopted (restored) processes', () => {
  it('an adopted tree does not outlive its container: when the parent that reaps it ends, the tree is killed', async () => {
    const c = new ProcessContainer({ namespace: 'default', podName: 'adopt', podUid: 'u1', nodeName: 'node-1', spec: { name: 'main', command: ['sleep', '30'] }, env: {} });
    // Stands for a restored worker: its own process group, its parent (CRIU) elsewhere.
    const restored = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const gone = new Promise((r) => restored.once('exit', r));
    let parentEnds!: () => void;
    c.adopt(restored.pid!, new Promise<void>((r) => (parentEnds = r)));
    expect(c.pid).toBe(restored.pid);
    expect(restored.exitCode).toBeNull();
    // CRIU is killed (say, by the agent shutting down) while the worker still runs.
    parentEnds();
    expect(await c.exited).toMatchObject({ exitCode: 0, reason: 'Completed' });
    await expect(Promise.race([gone.then(() => 'killed'), new Promise((r) => setTimeout(() => r('still running'), 5000))])).resolves.toBe('killed');
    c.dispose();
  });
});
