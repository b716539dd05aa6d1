/**
 * The README's main command runs `snapshotctl demo`: it must complete all three flows,
 * name its engine (and say plainly when it is simulated), and stop its cluster.
 * With `--engine criu` it must prove, through the restored worker itself, that the
 * warmed-up state survived: the checksum the restored worker recomputes equals the
 * original worker's from before the checkpoint, and both are printed.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/testing/parse-command.js';
import { judgeRestoredWorker, originalWorkerFromLog, type WorkerAnswer } from '../../src/commands/demo.js';
import { machineSetup } from '../../src/testing/machine.js';
import { BIN } from './harness.js';

const run = promisify(execFile);

async function demo(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...(args[0] === 'dev' ? [] : ['demo']), ...args], { env: { ...process.env, CI: 'true', ...env }, timeout: 120_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * The criu demo's proof lines: the original's checksum before the checkpoint, then each
 * restored worker's with the original's beside it (16 hex digits each).
 */
function stateProofs(stdout: string): { before: string | undefined; restored: Array<[string, string]> } {
  const before = /\n {9}the worker before the checkpoint \(its log, pod \S+\): checksum ([0-9a-f]{16})\.\.\., instance [0-9a-f]+, warm-ups 1\n/.exec(stdout)?.[1];
  const restored = [...stdout.matchAll(/\n {9}restored worker: checksum ([0-9a-f]{16})\.\.\. over its 256 MiB state, warm-ups run: 1; before the checkpoint: checksum ([0-9a-f]{16})\.\.\. \(the state survived; warm-up did not run again\)\n/g)];
  return { before, restored: restored.map((m) => [m[1]!, m[2]!]) };
}

const criu = machineSetup().criu.default; // set up by the globalSetup (src/testing/machine.ts)
if (!criu.ok) console.warn(`\n!!! SKIPPING the real-CRIU demo: ${criu.reason}\n`);

describe('snapshotctl demo', () => {
  // A machine where CRIU cannot run (forced, so the test means the same everywhere).
  it('without CRIU: runs the three flows on the sim engine, says it is simulated and why, and ends with a hint that runs as printed', async () => {
    const r = await demo([], { SNAPSHOTCTL_CRIU: '/nonexistent/criu' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/engine sim \(SIMULATED: follows the protocol exactly but saves no process state\)\n/);
    expect(r.stdout).toMatch(/engine sim chosen by default: CRIU cannot run here \(SNAPSHOTCTL_CRIU=\/nonexistent\/criu does not exist\)\n/);
    expect(r.stdout).not.toMatch(/--runtime/);
    expect(r.stdout.match(/ok in [\d.]+s, sim engine \(simulated\)/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/demo finished in [\d.]+s: checkpoint, restore from manifest and restore in place all completed/);
    expect(r.stdout).toMatch(/dev cluster stopped and its files removed/);
    const hint = r.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(hint).toBe('for real checkpoints of a real process (root, Linux): scripts/setup-criu.sh, then snapshotctl demo --engine criu');
    const command = hint.slice(hint.indexOf('snapshotctl '));
    expect(await parseCommandLine(command)).toEqual({ command: 'demo', raw: expect.objectContaining({ engine: 'criu' }) });
  }, 120_000);

  it.skipIf(!criu.ok)('where CRIU works, the default is the criu engine on the CPU worker, saying why', async () => {
    const r = await demo([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/engine criu \(real checkpoints\)\n.*engine criu chosen by default: CRIU works on this machine/);
    const { before, restored } = stateProofs(r.stdout);
    expect(before, r.stdout).toMatch(/^[0-9a-f]{16}$/);
    expect(restored).toEqual([[before, before], [before, before]]);
    expect(r.stdout).not.toMatch(/SIMULATED|for real checkpoints/);
  }, 180_000);

  it('--engine sim: the simulated engine, no default-choice line', async () => {
    const r = await demo(['--engine', 'sim']);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/ok in [\d.]+s, sim engine \(simulated\)/g)).toHaveLength(3);
    expect(r.stdout).not.toMatch(/chosen by default/);
  }, 120_000);

  it('`demo | head -1`: the reader goes away, the demo still finishes and cleans up (exit 0, no crash, nothing left)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'snapshotctl-demo-pipe-'));
    try {
      const r = await new Promise<{ code: number | null; stderr: string; first: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'demo', '--engine', 'sim'], { env: { ...process.env, CI: 'true', TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        let first = '';
        child.stderr.on('data', (d) => (stderr += d));
        // Like `head -1`: read the first line, then close the pipe.
        child.stdout.once('data', (d) => {
          first = String(d).split('\n')[0] ?? '';
          child.stdout.destroy();
        });
        child.on('exit', (code) => resolve({ code, stderr, first }));
      });
      expect(r.first).toMatch(/^snapshotctl demo:/);
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
      expect(r.code).toBe(0);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(!criu.ok)('--engine criu restores the real worker with its state and without a second warm-up', async () => {
    const r = await demo(['--engine', 'criu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/engine criu \(real checkpoints\)/);
    // Both restored workers against the original's checksum from before the checkpoint.
    const { before, restored } = stateProofs(r.stdout);
    expect(before, r.stdout).toMatch(/^[0-9a-f]{16}$/);
    expect(restored).toEqual([[before, before], [before, before]]);
  }, 180_000);

  // The judgement the criu demo prints, on answers a worker could give (runs without CRIU).
  describe('the restored worker is held to the original before the checkpoint', () => {
    const ORIGINAL = { checksum: 'a'.repeat(64), instance: '5703c013aa00ff11' };
    const answer = (o: Partial<WorkerAnswer>): WorkerAnswer => ({ checksum: ORIGINAL.checksum, warmupChecksum: ORIGINAL.checksum, warmups: 1, instance: ORIGINAL.instance, mb: 256, ...o });

    it('the same checksum, instance and one warm-up: survived, with both checksums printed', () => {
      // The restored warm-up checksum plays no part: only the original's is the reference.
      expect(judgeRestoredWorker(ORIGINAL, answer({ warmupChecksum: 'c'.repeat(64) }))).toEqual({
        survived: true,
        lines: [`restored worker: checksum ${'a'.repeat(16)}... over its 256 MiB state, warm-ups run: 1; before the checkpoint: checksum ${'a'.repeat(16)}... (the state survived; warm-up did not run again)`],
      });
    });

    it('a worker that agrees with itself but not with the original: STATE LOST, naming both checksums', () => {
      const lost = answer({ checksum: 'b'.repeat(64), warmupChecksum: 'b'.repeat(64) });
      expect(judgeRestoredWorker(ORIGINAL, lost)).toEqual({
        survived: false,
        lines: [
          `restored worker: checksum ${'b'.repeat(16)}... over its 256 MiB state, warm-ups run: 1; before the checkpoint: checksum ${'a'.repeat(16)}...`,
          `STATE LOST: checksum ${'b'.repeat(64)}, the original's ${'a'.repeat(64)}`,
        ],
      });
    });

    it('a cold start (new instance, a second warm-up) is STATE LOST even with the same checksum', () => {
      const verdict = judgeRestoredWorker(ORIGINAL, answer({ instance: '0123456789abcdef', warmups: 2 }));
      expect(verdict.survived).toBe(false);
      expect(verdict.lines[1]).toBe(`STATE LOST: instance 0123456789abcdef, the original's ${ORIGINAL.instance} (a cold start); warm-ups 2, not 1`);
    });

    it("the original's checksum and instance come from its own log, written before it turned Ready", () => {
      const log = [
        `[cpu-worker 2026-12-04T18:00:00.000Z] warm-up 1 (instance ${ORIGINAL.instance}, pid 4242): building 256 MiB of state over 10 rounds`,
        `[cpu-worker 2026-12-04T18:00:03.800Z] warm-up done in 3.8 s, checksum ${ORIGINAL.checksum}`,
        '[cpu-worker 2026-12-04T18:00:03.801Z] listening on 127.0.0.1:18080',
        '[cpu-worker 2026-12-04T18:00:04.000Z] SIGUSR1: exiting',
      ].join('\n');
      expect(originalWorkerFromLog(log)).toEqual(ORIGINAL);
      expect(originalWorkerFromLog(log.split('\n')[0]!)).toBeUndefined();
    });
  });

  it.each([
    [['--cluster', 'k8s'], /^error: --cluster "k8s" is not a cluster kind\nhint: use --cluster dev .* or --cluster real\n$/],
    [['--cluster', 'real', '--nodes', '3'], /^error: --nodes is for the dev cluster: the real cluster has one node and uses the criu engine\nhint: leave --nodes out with --cluster real\n$/],
    [['--cluster', 'real', '--engine', 'sim'], /^error: --engine is for the dev cluster: .*\nhint: leave --engine out with --cluster real\n$/],
    [['--keep-cluster'], /^error: --keep-cluster is for --cluster real .*\nhint: add --cluster real, or leave --keep-cluster out\n$/],
  ] as const)('demo %j: the flag named with the fix, exit 2, nothing started', async (args, stderr) => {
    const r = await demo([...args]);
    expect(r.stderr).toMatch(stderr);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  }, 30_000);

  // A machine without CRIU set up, or without a GPU: forced through the environment so
  // the test means the same on every machine (SNAPSHOTCTL_PYTHON: no CUDA helper can start).
  it.each([
    ['criu', { SNAPSHOTCTL_CRIU: '/nonexistent/criu' }, /^error: engine criu cannot run here \(criu: SNAPSHOTCTL_CRIU=\/nonexistent\/criu does not exist\)\nhint: run scripts\/setup-criu\.sh as root .*\n$/],
    ['cuda', { SNAPSHOTCTL_PYTHON: '/nonexistent/python3' }, /^error: engine cuda cannot run here \(cuda: .*\)\nhint: run on a Linux machine with an NVIDIA GPU .*\n$/],
  ] as const)('--engine %s where it cannot run: the reason and the fix, exit 3, no temp dir left, dev status still clean', async (engine, env, stderr) => {
    const tmp = await mkdtemp(join(tmpdir(), 'snapshotctl-demotest-'));
    try {
      const r = await demo(['--engine', engine], { ...env, TMPDIR: tmp });
      expect(r.stderr).toMatch(stderr);
      expect(r.stderr).not.toMatch(/\n\s+at |this is a bug/);
      expect(r.code).toBe(3);
      expect(readdirSync(tmp)).toEqual([]);
      const status = await demo(['dev', 'status', '--state-dir', join(tmp, 'no-such-state')], { TMPDIR: tmp });
      expect(status).toEqual({ code: 0, stdout: 'status=stopped\nleftovers=0\n', stderr: '' });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
