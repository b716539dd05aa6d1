/**
 * The criu engine against real CRIU on a tiny worker: a Node process with a listening
 * TCP socket, a child process, an open log file, its environment and in-memory state.
 * Skipped (loudly, with the reason) only where CRIU cannot run at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckpointContext, ContainerProcess, ContainerRef, NodeRuntime, RestoreContext } from '../engine.js';
import { createCriuEngine, IMAGES_DIR, META_FILE } from './engine.js';
import { locateNoIoUring } from './locate.js';
import { isAlive } from './proc.js';
import { machineSetup } from '../../testing/machine.js';

// Set up once for the run by vitest.config.ts's globalSetup (src/testing/machine.ts).
const { debian: criu, parallel } = machineSetup().criu;
if (!criu.ok) console.warn(`\n!!! SKIPPING the real-CRIU engine tests: ${criu.reason}\n`);
if (!parallel.ok) console.warn(`\n!!! SKIPPING the parallel page restore engine tests: ${parallel.reason}\n`);
/** Node's libuv opens an io_uring CRIU cannot dump; refuse it as the seccomp profile does. */
const noIoUring = locateNoIoUring();
const launcher = noIoUring ? [noIoUring] : [];

/** The worker: state made at start, a TCP server reporting it, a child, exit on SIGUSR1. */
const WORKER = `
const net = require('node:net'), fs = require('node:fs'), cp = require('node:child_process');
const state = require('node:crypto').randomBytes(16).toString('hex');
let served = 0;
const child = cp.spawn('sleep', ['1000'], { stdio: 'ignore' });
const server = net.createServer((c) => { c.on('error', () => {}); c.once('data', () => c.end(JSON.stringify({ state, served: ++served, env: process.env.WORKER_ENV, child: child.pid, pid: process.pid }) + '\\n')); });
server.listen(0, '127.0.0.1', () => { fs.writeFileSync('port', String(server.address().port)); console.log('listening'); });
process.on('SIGUSR1', () => { console.log('exiting'); child.on('exit', () => process.exit(0)); child.kill('SIGKILL'); });
`;

interface Box {
  dir: string;
  workDir: string;
  logPath: string;
  child: ChildProcess;
}

const boxes: Box[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

async function startBox(argv: string[], env: Record<string, string> = {}): Promise<Box> {
  const dir = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-test-'));
  const workDir = join(dir, 'work');
  await mkdir(workDir);
  const logPath = join(dir, 'container.log');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logPath, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { cwd: workDir, detached: true, stdio: ['ignore', fd, fd], env: { PATH: process.env['PATH'] ?? '', UV_USE_IO_URING: '0', ...env } });
  closeSync(fd);
  const box = { dir, workDir, logPath, child };
  boxes.push(box);
  return box;
}

function ask(port: number): Promise<{ state: string; served: number; env: string; child: number; pid: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(port, '127.0.0.1', () => s.write('?\n'));
    s.setEncoding('utf8').on('data', (t: string) => (text += t));
    s.on('end', () => resolve(JSON.parse(text)));
    s.on('error', reject);
  });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ref(podName: string, box: Box): ContainerRef {
  return { namespace: 'ns', podName, podUid: podName, containerName: 'worker', pid: box.child.pid!, signal: async (sig) => void box.child.kill(sig) };
}

/** A runtime over our boxes: inspect by pod name; adopt records the restored process. */
function fakeRuntime(byPod: Record<string, Box>): NodeRuntime & { adopted: Array<{ pod: string; pid: number; exited: Promise<unknown> }> } {
  const adopted: Array<{ pod: string; pid: number; exited: Promise<unknown> }> = [];
  return {
    adopted,
    inspect(r): ContainerProcess | undefined {
      const b = byPod[r.podName];
      return b ? { pid: b.child.pid!, workDir: b.workDir, logPath: b.logPath } : undefined;
    },
    adopt(r, pid, exited) {
      const b = byPod[r.podName];
      b?.child.kill('SIGKILL');
      adopted.push({ pod: r.podName, pid, exited });
    },
  };
}

function ctxBase(artifactDir: string, lines: string[]) {
  return { checkpointId: 'cp1', nodeName: 'node-1', artifactDir, log: (m: string) => lines.push(m), signal: new AbortController().signal, pod: {} as never };
}

afterEach(async () => {
  // Last in, first out: what a test set up last (a restored tree) goes first.
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const b of boxes.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null && b.child.pid) {
      try {
        process.kill(-b.child.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    await rm(b.dir, { recursive: true, force: true });
  }
});

describe.skipIf(!criu.ok)('criu engine (real CRIU)', () => {
  const cmd = criu.ok ? criu.cmd : undefined;

  it('probe runs criu check', async () => {
    expect(await createCriuEngine({ criu: cmd! }).probe()).toEqual({ ok: true });
  });

  it('checkpoints a worker and restores it into a placeholder with its state, socket, child, env and log', async () => {
    const worker = await startBox([...launcher, process.execPath, '-e', WORKER], { WORKER_ENV: 'from-the-pod-spec' });
    await until('the worker to listen', () => existsSync(join(worker.workDir, 'port')));
    const port = Number(await readFile(join(worker.workDir, 'port'), 'utf8'));
    const before = await ask(port);
    expect(before.served).toBe(1);

    const placeholder = await startBox(['sleep', 'infinity']);
    const runtime = fakeRuntime({ src: worker, dst: placeholder });
    const engine = createCriuEngine({ criu: cmd!, runtime });
    const artifact = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-artifact-'));
    cleanups.push(() => rm(artifact, { recursive: true, force: true }));
    const lines: string[] = [];

    // A client connected across the dump (--tcp-established; restored closed).
    const idle = connect(port, '127.0.0.1');
    idle.on('error', () => {});
    await new Promise((r) => idle.once('connect', r));
    cleanups.push(() => void idle.destroy());
    const result = await engine.checkpoint({ ...ctxBase(artifact, lines), container: ref('src', worker) } as CheckpointContext);
    expect(result.details).toMatchObject({ pid: worker.child.pid, processes: 2, leftRunning: true });
    expect(existsSync(join(artifact, IMAGES_DIR, 'pstree.img'))).toBe(true);
    expect(existsSync(join(artifact, IMAGES_DIR, 'dump.log'))).toBe(true);
    // --leave-running: the worker still serves after the dump.
    expect((await ask(port)).served).toBe(2);

    // Restoring while the original holds the PIDs is refused with a clear reason.
    await expect(engine.restore({ ...ctxBase(artifact, lines), placeholder: ref('dst', placeholder), manifest: {} } as RestoreContext)).rejects.toThrow(
      /original PIDs.*in use.*has the checkpointed worker exited/,
    );

    // What the agent does after a checkpoint: SIGUSR1, and the worker exits 0.
    worker.child.kill('SIGUSR1');
    await until('the worker to exit', () => worker.child.exitCode !== null);
    expect(worker.child.exitCode).toBe(0);
    await until('the worker child to go', () => !isAlive(before.child));
    // The source container's directory is gone, as after its pod was deleted.
    await rm(worker.dir, { recursive: true, force: true });

    await engine.restore({ ...ctxBase(artifact, lines), placeholder: ref('dst', placeholder), manifest: {} } as RestoreContext);
    expect(runtime.adopted.map((a) => [a.pod, a.pid])).toEqual([['dst', before.pid]]);
    const after = await ask(port);
    // Same in-memory state; the counter continues from the dump (served=1 then), not from
    // the original's later answers; same env; the child is back with its PID.
    expect(after).toMatchObject({ state: before.state, served: 2, env: 'from-the-pod-spec', child: before.child, pid: before.pid });
    expect(isAlive(before.child)).toBe(true);
    // Its cwd and log are the placeholder's, and the saved working directory came along.
    const { readlinkSync } = await import('node:fs');
    expect(readlinkSync(`/proc/${before.pid}/cwd`)).toBe(placeholder.workDir);
    expect(await readFile(join(placeholder.workDir, 'port'), 'utf8')).toBe(String(port));

    // The restored worker exits on SIGUSR1 like the original; criu (its parent) reaps it.
    process.kill(before.pid, 'SIGUSR1');
    await runtime.adopted[0]!.exited;
    await until('the restored worker to go', () => !isAlive(before.pid) && !existsSync(`/proc/${before.pid}`));
    expect(await readFile(placeholder.logPath, 'utf8')).toContain('exiting');
    expect(lines.join('\n')).toMatch(/dumped pid \d+ in [\d.]+ s/);
  });

  it('a CRIU failure carries the last lines of CRIU’s log', async () => {
    const worker = await startBox(['sleep', 'infinity']);
    const placeholder = await startBox(['sleep', 'infinity']);
    const runtime = fakeRuntime({ src: worker, dst: placeholder });
    const engine = createCriuEngine({ criu: cmd!, runtime });
    const artifact = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-artifact-'));
    cleanups.push(() => rm(artifact, { recursive: true, force: true }));
    await engine.checkpoint({ ...ctxBase(artifact, []), container: ref('src', worker) } as CheckpointContext);
    process.kill(-worker.child.pid!, 'SIGKILL');
    await until('the worker to exit', () => worker.child.exitCode !== null || worker.child.signalCode !== null);
    // A broken image: CRIU itself must say what is wrong.
    const broken = `${artifact}-broken`;
    cleanups.push(() => rm(broken, { recursive: true, force: true }));
    await cp(artifact, broken, { recursive: true });
    await rm(join(broken, IMAGES_DIR, `core-${worker.child.pid!}.img`));
    const err = await engine.restore({ ...ctxBase(broken, []), placeholder: ref('dst', placeholder), manifest: {} } as RestoreContext).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/criu restore failed \(exit 1\).*last lines of .*restore\.log:\n/s);
    expect((err as Error).message).toMatch(/Error \(criu\//);
    expect(runtime.adopted).toEqual([]);
    expect(JSON.parse(await readFile(join(artifact, META_FILE), 'utf8'))).toMatchObject({ engine: 'criu', shellJob: false });
  });
});

/**
 * A worker holding STATE_MIB MiB of random state; with CHILD=1 it starts a child that
 * holds its own. On SIGUSR2 each writes sum-<pid>: the checksum taken at start-up and
 * one taken now, over its whole state. NODE_THREADS_MIN=1 keeps Node to few threads.
 */
const BIG_WORKER = `
const fs = require('node:fs'), cp = require('node:child_process'), crypto = require('node:crypto');
const state = crypto.randomFillSync(Buffer.alloc(Number(process.env.STATE_MIB) * 2 ** 20));
const sum = () => crypto.createHash('sha256').update(state).digest('hex');
const first = sum();
process.on('SIGUSR2', () => fs.writeFileSync('sum-' + process.pid, JSON.stringify({ first, now: sum() })));
if (process.env.CHILD === '1') {
  const c = cp.spawn(process.execPath, process.execArgv, { env: { ...process.env, CHILD: '0' }, stdio: 'ignore' });
  fs.writeFileSync('child', String(c.pid));
}
fs.writeFileSync('ready-' + process.pid, '1');
setInterval(() => {}, 1e9);
`;
const NODE_FEW_THREADS = ['--single-threaded', '--v8-pool-size=0'];

/** Both checksums of every process, asked with SIGUSR2, read from `dir`. */
async function sums(pids: number[], dir: string): Promise<Array<{ first: string; now: string }>> {
  for (const pid of pids) await rm(join(dir, `sum-${pid}`), { force: true });
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  await until('the checksums', () => pids.every((pid) => existsSync(join(dir, `sum-${pid}`))), 20_000);
  return Promise.all(pids.map(async (pid) => JSON.parse(await readFile(join(dir, `sum-${pid}`), 'utf8')) as { first: string; now: string }));
}

/** A pids cgroup of our own (v1 `pids` hierarchy or v2 with the pids controller), or why not. */
async function pidsCgroup(): Promise<{ dir: string } | { reason: string }> {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const name = `snapshotctl-test-${process.pid}-${Date.now()}`;
  try {
    if (existsSync('/sys/fs/cgroup/pids/cgroup.procs')) {
      const dir = join('/sys/fs/cgroup/pids', name);
      await mkdir(dir);
      return { dir };
    }
    if (readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('pids')) {
      writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+pids');
      const dir = join('/sys/fs/cgroup', name);
      await mkdir(dir);
      return { dir };
    }
    return { reason: 'no pids cgroup controller on this machine' };
  } catch (err) {
    return { reason: `cannot make a pids cgroup: ${(err as Error).message}` };
  }
}

describe.skipIf(!parallel.ok)('criu engine with the parallel page restore patch (real CRIU)', () => {
  const cmd = parallel.ok ? parallel.cmd : undefined;

  /** Checkpoint the worker in `worker`, end it, restore it into a fresh placeholder. */
  async function roundTrip(worker: Box, pids: number[], threads: number, beforeRestore?: () => Promise<void>) {
    const placeholder = await startBox(['sleep', 'infinity']);
    const runtime = fakeRuntime({ src: worker, dst: placeholder });
    const engine = createCriuEngine({ criu: cmd!, runtime, env: { ...process.env, SNAPSHOTCTL_CRIU_READ_THREADS: String(threads) } });
    const artifact = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-artifact-'));
    cleanups.push(() => rm(artifact, { recursive: true, force: true }));
    const lines: string[] = [];
    const before = await sums(pids, worker.workDir);
    await engine.checkpoint({ ...ctxBase(artifact, lines), container: ref('src', worker) } as CheckpointContext);
    process.kill(-worker.child.pid!, 'SIGKILL');
    await until('the worker tree to go', () => pids.every((pid) => !existsSync(`/proc/${pid}`)));
    await beforeRestore?.();
    const r = await engine.restore({ ...ctxBase(artifact, lines), placeholder: ref('dst', placeholder), manifest: {} } as RestoreContext);
    cleanups.push(() => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    });
    const after = await sums(pids, placeholder.workDir);
    return { before, after, details: r.details ?? {}, lines };
  }

  it("reads a two-process worker's pages with the threads it is told to use; both come back byte for byte", async () => {
    const worker = await startBox([...launcher, process.execPath, '-e', BIG_WORKER], { STATE_MIB: '96', CHILD: '1' });
    await until('the worker and its child', () => existsSync(join(worker.workDir, 'child')) && existsSync(join(worker.workDir, `ready-${worker.child.pid!}`)));
    const child = Number(await readFile(join(worker.workDir, 'child'), 'utf8'));
    await until('the child', () => existsSync(join(worker.workDir, `ready-${child}`)));
    const { before, after, details, lines } = await roundTrip(worker, [worker.child.pid!, child], 3);
    for (const [i, b] of before.entries()) {
      expect(b.now).toBe(b.first);
      // The restored process recomputes its checksum over memory CRIU's helpers filled.
      expect(after[i]).toEqual(b);
    }
    expect(details).toMatchObject({ pageReadThreads: 3, pageReadHelpersNotStarted: 0 });
    expect(details['pageReadBytes']).toBeGreaterThan(2 * 96 * 2 ** 20);
    expect(lines.join('\n')).toMatch(/bytes of pages read with 3 thread\(s\)/);
  });

  it('a PID limit that leaves no room for every helper: fewer threads, said in the log, the state intact', async () => {
    const cg = await pidsCgroup();
    if ('reason' in cg) {
      console.warn(`\n!!! SKIPPING the PID-limit case of the parallel page restore: ${cg.reason}\n`);
      return;
    }
    cleanups.push(async () => {
      await until('the cgroup to empty', async () => (await readFile(join(cg.dir, 'cgroup.procs'), 'utf8')).trim() === '').catch(() => undefined);
      const { rmdirSync } = await import('node:fs');
      try {
        rmdirSync(cg.dir);
      } catch {
        // Gone already.
      }
    });
    // One Node process with few threads, started inside the cgroup (CRIU puts the
    // restored tree back into it).
    const worker = await startBox(['sh', '-c', 'echo $$ > "$0" && exec "$@"', join(cg.dir, 'cgroup.procs'), ...launcher, process.execPath, ...NODE_FEW_THREADS, '-e', BIG_WORKER], {
      STATE_MIB: '96',
    });
    await until('the worker', () => existsSync(join(worker.workDir, `ready-${worker.child.pid!}`)));
    const tasks = Number((await readFile(join(cg.dir, 'pids.current'), 'utf8')).trim());
    // Room for the restored tree and not one task more: at page-reading time its threads
    // do not exist yet, so fewer helpers than asked for fit.
    expect(tasks).toBeLessThan(8);
    const { before, after, details, lines } = await roundTrip(worker, [worker.child.pid!], 8, () => writeFile(join(cg.dir, 'pids.max'), String(tasks)));
    expect(after[0]).toEqual(before[0]);
    expect(details['pageReadHelpersNotStarted']).toBeGreaterThanOrEqual(1);
    expect(details['pageReadThreads']).toBeLessThan(8);
    expect(lines.join('\n')).toMatch(/could not start a page-reading helper .*PID limit/);
  });
});
