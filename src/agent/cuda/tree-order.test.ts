/**
 * The order in which cuda_ckpt.py suspends and resumes a process tree (a tensor-parallel
 * worker is several CUDA processes that wait on each other in collectives): every
 * process is locked before any is checkpointed, and every one restored before any is
 * unlocked. Run with python3 against a driver stand-in that records the calls; the
 * order is the helper's own code, the driver is the only thing replaced.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const python = spawnSync('python3', ['--version']).status === 0;
const HELPER_DIR = join(import.meta.dirname);

/** Run `body` (Python) with `c` = the helper module and `D` = a recording driver class; prints JSON. */
function runPython(body: string): unknown {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(HELPER_DIR)})
import cuda_ckpt as c
class D:
    def __init__(self, states, fail=None):
        self.states = dict(states); self.calls = []; self.fail = fail
    def _do(self, op, pid, to):
        self.calls.append(f"{op} {pid}")
        if self.fail == f"{op} {pid}":
            raise c.CudaError(f"cuCheckpointProcess{op.capitalize()}", 999, "CUDA_ERROR_TEST")
        self.states[pid] = to
    def state(self, pid):
        if pid not in self.states: raise c.CudaError("cuCheckpointProcessGetState", 3, "CUDA_ERROR_NOT_INITIALIZED")
        return self.states[pid]
    def lock(self, pid, timeout_ms=0): self._do("lock", pid, "locked")
    def checkpoint(self, pid): self._do("checkpoint", pid, "checkpointed")
    def restore(self, pid, pairs=None): self._do("restore", pid, "locked")
    def unlock(self, pid): self._do("unlock", pid, "running")
${body}
`;
  // No __pycache__ beside the helper in the checkout.
  const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe.skipIf(!python)('cuda_ckpt.py on a process tree', () => {
  it('locks all, then checkpoints all; restores all, then unlocks all; a process without CUDA is skipped', () => {
    const out = runPython(`
d = D({11: "running", 12: "running"})
s = c.suspend_tree(d, [11, 99, 12])
r = c.resume_tree(d, [11, 99, 12])
print(json.dumps({"calls": d.calls, "suspend": s, "resume": r}))
`) as { calls: string[]; suspend: Array<Record<string, unknown>>; resume: Array<Record<string, unknown>> };
    expect(out.calls).toEqual(['lock 11', 'lock 12', 'checkpoint 11', 'checkpoint 12', 'restore 11', 'restore 12', 'unlock 11', 'unlock 12']);
    expect(out.suspend.map((x) => [x['pid'], x['skipped'] ?? false, x['state'] ?? null])).toEqual([[11, false, 'checkpointed'], [99, true, null], [12, false, 'checkpointed']]);
    expect(out.resume.map((x) => [x['pid'], x['skipped'] ?? false, x['state'] ?? null])).toEqual([[11, false, 'running'], [99, true, null], [12, false, 'running']]);
  });

  it('a checkpoint that fails part-way gives every process its GPU back (restored, then unlocked) and raises', () => {
    const out = runPython(`
d = D({11: "running", 12: "running"}, fail="checkpoint 12")
try:
    c.suspend_tree(d, [11, 12]); err = None
except c.CudaError as e:
    err = str(e)
print(json.dumps({"calls": d.calls, "error": err, "states": d.states}))
`) as { calls: string[]; error: string | null; states: Record<string, string> };
    expect(out.error).toMatch(/CUDA_ERROR_TEST/);
    expect(out.calls).toEqual(['lock 11', 'lock 12', 'checkpoint 11', 'checkpoint 12', 'restore 11', 'unlock 11', 'unlock 12']);
    expect(out.states).toEqual({ '11': 'running', '12': 'running' });
  });

  it('a restore that fails part-way unlocks none: no process runs with a peer still on the host', () => {
    const out = runPython(`
d = D({11: "checkpointed", 12: "checkpointed"}, fail="restore 12")
try:
    c.resume_tree(d, [11, 12]); err = None
except c.CudaError as e:
    err = str(e)
print(json.dumps({"calls": d.calls, "error": err}))
`) as { calls: string[]; error: string | null };
    expect(out.error).toMatch(/CUDA_ERROR_TEST/);
    expect(out.calls).toEqual(['restore 11', 'restore 12']);
  });
});
