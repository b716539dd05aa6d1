/**
 * `dev up|status|down` as the CLI prints them, on fake process deps (no background
 * server is started, no process is signalled): what goes to stdout and stderr, the
 * exit code, and what the verbs ask of the process. The real process and a real
 * cluster: test/e2e/dev-lifecycle.test.ts.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DevDeps, DevState } from '../commands/dev.js';
import type { KubeClient } from '../kube/types.js';
import { MARKER_FILE, ownIdentity, writeMarker } from '../dev/ownership.js';
import { tempDir } from '../testing/temp-dir.js';
import { runDevDown, runDevStatus, runDevUp } from './dev.js';
import type { CliIO } from './main.js';

function captureIO(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    isTTY: false,
    env: {},
    signal: new AbortController().signal,
    readStdin: async () => '',
  };
  return io;
}

/** Deps whose every process call is recorded; `startServer` does what `dev serve` would: write `state`. */
function fakeDeps(o: { state?: DevState; dir?: string; clockStepMs?: number } = {}): DevDeps & { started: string[][]; signals: Array<[number, string]>; clients: Array<Parameters<DevDeps['kube']>[0]> } {
  let clock = 1_000_000;
  const deps = {
    started: [] as string[][],
    signals: [] as Array<[number, string]>,
    clients: [] as Array<Parameters<DevDeps['kube']>[0]>,
    // A client whose every read answers: the cluster is reachable.
    kube: async (opts: Parameters<DevDeps['kube']>[0]) => {
      deps.clients.push(opts);
      return { get: async () => ({ metadata: { name: 'default' } }) } as unknown as KubeClient;
    },
    now: () => (clock += o.clockStepMs ?? 1),
    startServer: (args: string[]) => {
      deps.started.push(args);
      if (o.state && o.dir) writeFileSync(join(o.dir, 'state.json'), JSON.stringify(o.state));
      return { pid: o.state?.pid ?? 4242, onExit: () => {} };
    },
    kill: (pid: number, signal: NodeJS.Signals) => void deps.signals.push([pid, signal]),
    log: () => {},
    tmpdir: tempDir('snapshotctl-devverb-tmp-'),
  };
  return deps;
}

function stateIn(dir: string, rec: Pick<DevState, 'pid' | 'cmdline' | 'startTime'>): DevState {
  return {
    ...rec,
    url: 'https://127.0.0.1:6443',
    kubeconfig: join(dir, 'kubeconfig'),
    nodes: 2,
    gpuNodes: 2,
    engine: 'sim',
    runtime: 'sim',
    engineSimulated: true,
    engineLine: 'engine sim (SIMULATED: follows the protocol exactly but saves no process state)',
    startedAt: new Date(0).toISOString(),
    stateDir: dir,
  };
}

describe('dev verbs as printed', () => {
  it('dev up: starts `dev serve` with the flags it resolved, says where the cluster runs on stderr, and prints the kubeconfig lines on stdout', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'dev');
    const deps = fakeDeps({ dir, state: stateIn(dir, { pid: 4242, cmdline: ['node', 'snapshotctl', 'dev', 'serve'], startTime: '1' }) });
    const io = captureIO();
    expect(await runDevUp({ stateDir: dir }, io, deps)).toBe(0);
    expect(deps.started).toEqual([['dev', 'serve', '--state-dir', dir, '--nodes', '2', '--gpu-nodes', '2', '--port', '0', '--runtime', 'sim']]);
    expect(io.err).toBe('dev cluster started at https://127.0.0.1:6443 (pid 4242, 2 nodes, 2 with an agent)\nengine sim (SIMULATED: follows the protocol exactly but saves no process state)\n');
    expect(io.out).toBe(`kubeconfig=${dir}/kubeconfig\nexport KUBECONFIG=${dir}/kubeconfig\n`);
    expect(existsSync(join(dir, MARKER_FILE))).toBe(true);
  });

  it('dev up --nodes 0: refused with the range before anything starts', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'dev');
    const deps = fakeDeps();
    await expect(runDevUp({ stateDir: dir, nodes: '0' }, captureIO(), deps)).rejects.toThrow('--nodes "0" must be a whole number from 1 to 50');
    expect(deps.started).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('dev status: a state whose process is gone is stopped, named as left behind on stderr, exit 1', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'dev');
    mkdirSync(dir);
    await writeMarker(dir, 'dev-state');
    // A PID no process has (above the kernel's pid_max).
    writeFileSync(join(dir, 'state.json'), JSON.stringify(stateIn(dir, { pid: 2 ** 30, cmdline: ['node'], startTime: '1' })));
    const io = captureIO();
    expect(await runDevStatus({ stateDir: dir }, io, fakeDeps())).toBe(1);
    expect(io.out).toBe('status=stopped\nleftovers=1\n');
    expect(io.err).toBe(`left behind: ${dir} (state of a dev cluster whose process ${2 ** 30} is gone, or is now another program)\n`);
  });

  it('dev status on a running cluster: asks its API through the client factory once, within 2 s', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'dev');
    mkdirSync(dir);
    await writeMarker(dir, 'dev-state');
    // The recorded server is this process, so the cluster counts as running.
    writeFileSync(join(dir, 'state.json'), JSON.stringify(stateIn(dir, ownIdentity())));
    const deps = fakeDeps();
    const io = captureIO();
    expect(await runDevStatus({ stateDir: dir }, io, deps)).toBe(0);
    expect(deps.clients).toEqual([{ kubeconfig: join(dir, 'kubeconfig'), retry: { maxAttempts: 1 }, requestTimeoutMs: 2000 }]);
    expect(io.out).toContain('status=running\n');
    expect(io.out).toContain('reachable=true\n');
  });

  it('dev status -o json: the same answer as one document, exit 0 when nothing is left', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'none');
    const io = captureIO();
    expect(await runDevStatus({ stateDir: dir, output: 'json' }, io, fakeDeps())).toBe(0);
    expect(JSON.parse(io.out)).toEqual({ status: 'stopped', stateDir: dir, reachable: false, leftovers: [] });
    expect(io.err).toBe('');
  });

  it('dev down: SIGTERM to the recorded server, SIGKILL once 10 s pass with it still there; then the directory goes', async () => {
    const dir = join(tempDir('snapshotctl-devverb-'), 'dev');
    mkdirSync(dir);
    await writeMarker(dir, 'dev-state');
    // The recorded server is this process (its command line and start time match), so it is "running"; the fake kill leaves it be.
    const me = ownIdentity();
    writeFileSync(join(dir, 'state.json'), JSON.stringify(stateIn(dir, me)));
    const deps = fakeDeps({ clockStepMs: 6000 });
    const io = captureIO();
    expect(await runDevDown({ stateDir: dir }, io, deps)).toBe(0);
    expect(deps.signals).toEqual([
      [me.pid, 'SIGTERM'],
      [me.pid, 'SIGKILL'],
    ]);
    expect(io.err).toBe(`stopped the dev cluster (pid ${me.pid})\nremoved ${dir}\n`);
    expect(io.out).toBe('status=stopped\n');
    expect(existsSync(dir)).toBe(false);
  });

  it('dev down on a directory the dev cluster did not make: refused, nothing signalled or removed', async () => {
    const dir = tempDir('snapshotctl-devverb-');
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    const deps = fakeDeps();
    await expect(runDevDown({ stateDir: dir }, captureIO(), deps)).rejects.toThrow(`${dir} is not a dev cluster state directory`);
    expect(deps.signals).toEqual([]);
    expect(readdirSync(dir)).toEqual(['precious.txt']);
  });
});
