#!/usr/bin/env node
/**
 * The dev agent's own engine, as built (dist/), on a real worker: what bench.py does
 * step by step in Python, done here by the TypeScript `cuda` (or `criu`) engine itself.
 *
 *   1. start the worker (bench/gpu/worker.py by default) and ask it for its answer;
 *   2. engine.checkpoint(): CUDA lock + checkpoint, `criu dump --leave-running`, the
 *      source gets its GPU back; ask the source again (it must answer the same);
 *   3. kill the source, start a placeholder (`sleep infinity`), engine.restore():
 *      free-GPU-memory check, `criu restore`, CUDA restore + unlock; ask the restored
 *      worker: its answer must equal the first one.
 *
 * Prints one JSON object (and writes it to --out/engine-check.json): timings, the
 * engine's details (CRIU and CUDA parts, page-reading threads) and `outputEqual`.
 * Exit 0 only when both answers are equal. Root, Linux; the cuda engine needs the
 * NVIDIA driver and python3 with torch for the worker.
 *
 *   node bench/gpu/engine-check.mjs --engine cuda --gib 16 --weights FILE [--data DIR] [--out DIR]
 *   node bench/gpu/engine-check.mjs --engine criu --worker "python3 my-worker.py" ...
 *
 * The worker contract is bench/gpu/worker.py's: `--weights F --gib N --ready F --out F`,
 * the ready file appears when it is warm, SIGUSR2 makes it write its answer (JSON) to --out.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: a } = parseArgs({
  options: {
    engine: { type: 'string', default: 'cuda' },
    gib: { type: 'string', default: '1' },
    weights: { type: 'string', default: '/var/tmp/snapbench/weights.bin' },
    data: { type: 'string', default: '/var/tmp/snapbench/engine-check' },
    out: { type: 'string', default: process.env.OUT ?? 'bench-out' },
    worker: { type: 'string', default: `python3 ${join(here, 'worker.py')}` },
  },
});

const { createCudaEngine } = await import('../../dist/agent/cuda/engine.js');
const { createCriuEngine } = await import('../../dist/agent/criu/engine.js');

const t0 = performance.now();
const secs = (from) => Math.round((performance.now() - from) / 10) / 100;
const say = (msg) => process.stderr.write(`[${secs(t0).toFixed(2)} s] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)?.[0] !== 'Z';
  } catch {
    return false;
  }
};

const data = resolve(a.data);
rmSync(data, { recursive: true, force: true });
mkdirSync(join(data, 'artifact'), { recursive: true });
mkdirSync(a.out, { recursive: true });
const answerFile = join(data, 'answer.json');
const readyFile = join(data, 'ready.json');

async function ask(pid) {
  if (existsSync(answerFile)) unlinkSync(answerFile);
  process.kill(pid, 'SIGUSR2');
  const end = Date.now() + 120_000;
  while (!existsSync(answerFile)) {
    if (!alive(pid)) throw new Error(`worker ${pid} died before answering`);
    if (Date.now() > end) throw new Error(`worker ${pid} did not answer in 120 s`);
    await sleep(5);
  }
  const { forwardSha256, weightsSha256 } = JSON.parse(readFileSync(answerFile, 'utf8'));
  return { forwardSha256, weightsSha256 };
}
const same = (x, y) => x.forwardSha256 === y.forwardSha256 && x.weightsSha256 === y.weightsSha256;

async function gone(pid, what) {
  const end = Date.now() + 30_000;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > end) throw new Error(`${what} (pid ${pid}) did not go away`);
    await sleep(10);
  }
}

/** SIGKILL to `pid`'s process group (workers start detached: a multi-process worker's ranks share it), else to `pid`. */
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Kill the worker's group, then wait until it and `pids` are gone. */
async function killTree(pid, pids, what) {
  killGroup(pid);
  for (const p of new Set([pid, ...pids])) await gone(p, what);
}

/** The rank PIDs a multi-process worker (tp_worker.py) wrote into its ready file, else none. */
const rankPids = () => {
  try {
    return JSON.parse(readFileSync(readyFile, 'utf8')).rankPids ?? [];
  } catch {
    return [];
  }
};

// The node's container runtime, as the engine sees it: one container per name.
const containers = new Map();
const runtime = {
  inspect: (ref) => containers.get(ref.containerName),
  adopt: (ref, pid) => {
    const placeholder = containers.get(ref.containerName);
    if (placeholder) process.kill(placeholder.pid, 'SIGKILL');
    containers.set(ref.containerName, { pid });
  },
};
const ref = (podName, containerName) => ({ namespace: 'default', podName, podUid: `uid-${podName}`, containerName });
const pod = (name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'worker', env: [] }] } });
const ctxBase = { checkpointId: 'engine-check', nodeName: 'gpu-node', artifactDir: join(data, 'artifact'), log: (line) => say(line), signal: new AbortController().signal };

const engine = a.engine === 'cuda' ? createCudaEngine({ runtime }) : createCriuEngine({ runtime });
const result = { engine: a.engine, gib: Number(a.gib), env: { SNAPSHOTCTL_CRIU_ROOT: process.env.SNAPSHOTCTL_CRIU_ROOT ?? null, SNAPSHOTCTL_CRIU_READ_THREADS: process.env.SNAPSHOTCTL_CRIU_READ_THREADS ?? null } };
let restoredPid;
try {
  const probe = await engine.probe();
  say(`engine ${engine.name}: probe ${JSON.stringify(probe)}`);
  if (!probe.ok) throw new Error(`the ${engine.name} engine cannot run here: ${probe.reason}`);

  // 1. cold start
  const [cmd, ...args] = a.worker.split(' ');
  let started = performance.now();
  const worker = spawn(cmd, [...args, '--weights', a.weights, '--gib', a.gib, '--ready', readyFile, '--out', answerFile, '--log', join(data, 'worker.log')], {
    cwd: data,
    detached: true,
    stdio: 'ignore',
  });
  let exited = false;
  worker.on('exit', () => (exited = true));
  while (!existsSync(readyFile)) {
    if (exited) throw new Error(`the worker exited before it was ready (see ${join(data, 'worker.log')})`);
    await sleep(5);
  }
  result.coldSeconds = secs(started);
  containers.set('source', { pid: worker.pid });
  const reference = await ask(worker.pid);
  say(`worker ${worker.pid} ready in ${result.coldSeconds} s`);

  // 2. checkpoint, the source keeps running and answers the same
  started = performance.now();
  const ck = await engine.checkpoint({ ...ctxBase, pod: pod('source'), container: ref('source', 'source') });
  result.checkpointSeconds = secs(started);
  result.checkpoint = ck;
  result.sourceOutputEqual = same(await ask(worker.pid), reference);

  // 3. the source goes, a placeholder comes, the engine restores into it
  result.rankPids = rankPids();
  await killTree(worker.pid, result.rankPids, 'the checkpointed worker');
  const placeholder = spawn('sleep', ['infinity'], { detached: true, stdio: 'ignore' });
  containers.set('placeholder', { pid: placeholder.pid });
  started = performance.now();
  const rs = await engine.restore({ ...ctxBase, pod: pod('placeholder'), placeholder: ref('placeholder', 'placeholder'), manifest: {} });
  result.restoreSeconds = secs(started);
  result.restore = rs;
  restoredPid = containers.get('placeholder')?.pid;
  const answer = await ask(restoredPid);
  result.firstAnswerSeconds = secs(started) - result.restoreSeconds;
  result.outputEqual = same(answer, reference);
  say(`restored worker ${restoredPid} in ${result.restoreSeconds} s; answers like the cold one: ${result.outputEqual}`);
} catch (err) {
  result.error = err instanceof Error ? err.message : String(err);
  result.outputEqual = false;
  say(`FAILED: ${result.error}`);
} finally {
  for (const { pid } of containers.values()) killGroup(pid);
  if (restoredPid) await killTree(restoredPid, result.rankPids ?? [], 'the restored worker').catch(() => undefined);
}
writeFileSync(join(a.out, `engine-check-${a.engine}-${a.gib}g.json`), `${JSON.stringify(result, null, 1)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.outputEqual && result.sourceOutputEqual ? 0 : 1);
