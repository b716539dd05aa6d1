// SIMULATED GPU. A stand-in for src/agent/cuda/cuda_ckpt.py on a node without a GPU,
// for test/real/cuda.test.ts: it speaks the helper's JSON-lines protocol (`serve`) to the
// agent's cuda engine, so that the engine's container plumbing (which host PIDs it
// locks, checkpoints and restores, in which state, with which GPU mapping) runs on a
// real kubelet node. No CUDA driver is called.
//
// - Two GPUs (and a third, almost full one) are reported; a process counts as a CUDA
//   process when its command line runs the CPU sample worker (worker.mjs), holding
//   1 GiB on the first GPU.
// - A process's CUDA state lives in a file in its container's /dev/shm, which the criu
//   engine carries with the checkpoint, so a restored process comes back "checkpointed"
//   exactly when its source was checkpointed at the dump.
// - Every call is appended to $STAND_IN_CUDA_LOG (JSON lines) with what /proc says of
//   each PID then: its PID inside its namespace, its cgroup and its scheduler state.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const GiB = 2 ** 30;
const GPUS = [
  { index: 0, minor: 0, uuid: 'GPU-5a5a5a5a-0000-4000-8000-000000000000', name: 'stand-in GPU (simulated)', freeBytes: 40 * GiB, totalBytes: 80 * GiB },
  { index: 1, minor: 1, uuid: 'GPU-5a5a5a5a-0000-4000-8000-000000000001', name: 'stand-in GPU (simulated)', freeBytes: 40 * GiB, totalBytes: 80 * GiB },
  { index: 2, minor: 2, uuid: 'GPU-5a5a5a5a-0000-4000-8000-000000000002', name: 'stand-in GPU (simulated)', freeBytes: GiB / 2, totalBytes: 80 * GiB },
];
const LOG = process.env.STAND_IN_CUDA_LOG ?? '/tmp/stand-in-cuda.log';
const STATE_FILE = '.stand-in-cuda-state';

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function facts(pid) {
  const status = read(`/proc/${pid}/status`) ?? '';
  const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  return {
    pid,
    nsPid: nspid.at(-1),
    state: /^State:\s*(\S)/m.exec(status)?.[1],
    cgroup: (read(`/proc/${pid}/cgroup`) ?? '').split('\n').find((l) => l.includes('pids')) ?? '',
    cuda: isCuda(pid),
    cudaState: stateOf(pid),
  };
}

const isCuda = (pid) => (read(`/proc/${pid}/cmdline`) ?? '').includes('worker.mjs');
const stateOf = (pid) => read(`/proc/${pid}/root/dev/shm/${STATE_FILE}`)?.trim() ?? 'running';
const setState = (pid, s) => writeFileSync(`/proc/${pid}/root/dev/shm/${STATE_FILE}`, `${s}\n`);
const log = (entry) => appendFileSync(LOG, `${JSON.stringify({ at: Date.now(), ...entry })}\n`);

const ops = {
  probe: () => ({ driverVersion: 580, gpus: GPUS }),
  gpus: () => ({ gpus: GPUS }),
  usage: ({ pids }) => ({ usedBytes: pids.some(isCuda) ? { [GPUS[0].uuid]: GiB } : {} }),
  suspend: ({ pids }) => ({
    results: pids.map((pid) => {
      if (!isCuda(pid)) return { pid, skipped: true, why: 'not a CUDA process (stand-in)' };
      setState(pid, 'checkpointed');
      return { pid, state: 'checkpointed', lockSeconds: 0, checkpointSeconds: 0 };
    }),
  }),
  resume: ({ pids, needBytes, gpus }) => {
    if (needBytes !== null && needBytes !== undefined) {
      for (const u of gpus) {
        const g = GPUS.find((x) => x.uuid === u);
        if (!g) throw new Error(`GPU ${u} is not on this node`);
        if (g.freeBytes < needBytes) throw new Error(`GPU ${g.index} (${u}) has ${(g.freeBytes / GiB).toFixed(2)} GiB free, the checkpoint needs ${(needBytes / GiB).toFixed(2)} GiB: refusing to restore`);
      }
    }
    return {
      results: pids.map((pid) => {
        if (!isCuda(pid)) return { pid, skipped: true, why: 'not a CUDA process (stand-in)' };
        if (stateOf(pid) !== 'checkpointed') return { pid, skipped: true, why: 'already running' };
        setState(pid, 'running');
        return { pid, state: 'running', restoreSeconds: 0, unlockSeconds: 0 };
      }),
    };
  },
};

process.stdout.write(`${JSON.stringify({ id: 0, ok: true, ready: true })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  let res;
  try {
    const before = (req.pids ?? []).map(facts);
    res = { ...ops[req.op](req), id: req.id, ok: true };
    log({ op: req.op, before, pairs: req.pairs, gpus: req.gpus, needBytes: req.needBytes });
  } catch (err) {
    log({ op: req.op, error: err.message });
    res = { id: req.id, ok: false, error: err.message };
  }
  process.stdout.write(`${JSON.stringify(res)}\n`);
});
