/**
 * The cuda engine's logic without a GPU: a fake CUDA helper and a fake CRIU engine
 * record the order of the steps; the real helper protocol runs against a fake helper
 * process and, where python3 exists, against cuda_ckpt.py itself (which must say
 * honestly that there is no driver here).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../protocol/types.js';
import type { CriuEngineOptions } from '../criu/engine.js';
import type { CheckpointContext, ContainerRef, RestoreContext, SnapshotEngine } from '../engine.js';
import { CUDA_META_FILE, checkFreeMemory, createCudaEngine, gpusOfDeviceNodes, placeholderGpus, resolveTargets, thpMode, visibleDevices, visibleDevicesOfEnviron, type CudaMeta } from './engine.js';
import { CudaHelperError, locateHelper, spawnHelper, type CudaHelper, type GpuInfo } from './helper.js';

const GiB = 2 ** 30;
const OLD = 'GPU-00000000-0000-0000-0000-000000000001';
const NEW = 'GPU-00000000-0000-0000-0000-000000000002';
// PIDs far above pid_max so SIGCONT to them fails harmlessly.
const TREE = { root: 4_000_001, pids: [4_000_001, 4_000_002], tids: [4_000_001, 4_000_002] };

function gpu(index: number, uuid: string, freeGiB: number): GpuInfo {
  return { index, uuid, name: 'NVIDIA H100 80GB HBM3', freeBytes: freeGiB * GiB, totalBytes: 80 * GiB };
}

class FakeHelper implements CudaHelper {
  calls: string[];
  gpuList: GpuInfo[];
  failSuspend = false;
  failResume = false;
  /** resume answers as the driver does for a process without CUDA state. */
  resumeSkips = false;
  notReady?: string;
  constructor(calls: string[], gpus: GpuInfo[]) {
    this.calls = calls;
    this.gpuList = gpus;
  }
  ready = async (): Promise<void> => {
    this.calls.push('helper:ready');
    if (this.notReady) throw new CudaHelperError(this.notReady, true);
  };
  probe = async () => {
    this.calls.push('helper:probe');
    return { driverVersion: 13000, gpus: this.gpuList };
  };
  gpus = async () => {
    this.calls.push('helper:gpus');
    return this.gpuList;
  };
  usage = async (pids: number[]) => {
    this.calls.push(`helper:usage ${pids.join(',')}`);
    return { [OLD]: 17 * GiB };
  };
  suspend = async (pids: number[]) => {
    this.calls.push(`helper:suspend ${pids.join(',')}`);
    if (this.failSuspend) throw new CudaHelperError('cuCheckpointProcessLock failed: CUDA_ERROR_TIMEOUT');
    return [{ pid: pids[0]!, state: 'checkpointed', lockSeconds: 0.01, checkpointSeconds: 3 }, ...pids.slice(1).map((pid) => ({ pid, skipped: true }))];
  };
  resume = async (pids: number[], o: { pairs?: Array<[string, string]>; needBytes?: number; gpus?: string[] } = {}) => {
    this.calls.push(`helper:resume ${pids.join(',')} pairs=${JSON.stringify(o.pairs ?? [])} need=${o.needBytes ?? '-'}`);
    if (this.failResume) throw new CudaHelperError('cuCheckpointProcessRestore failed: CUDA_ERROR_OUT_OF_MEMORY');
    if (this.resumeSkips) return pids.map((pid) => ({ pid, skipped: true, why: 'already running' }));
    return pids.map((pid) => ({ pid, state: 'running', restoreSeconds: 3, unlockSeconds: 0.001 }));
  };
  close = (): void => {
    this.calls.push('helper:close');
  };
}

/** Stands in for the criu engine: runs the phases around a recorded dump / restore. */
function fakeCriu(calls: string[], fail: { dump?: boolean; restore?: boolean } = {}, pidOf: (pid: number) => number | undefined = (pid) => pid) {
  return (opts: CriuEngineOptions): SnapshotEngine => ({
    name: opts.name ?? 'criu',
    simulated: false,
    probe: async () => ({ ok: true }),
    async checkpoint(ctx) {
      await opts.phases?.beforeDump?.(TREE, ctx);
      let ok = false;
      try {
        calls.push('criu:dump');
        if (fail.dump) throw new Error('criu dump failed: Can\'t dump mapping');
        ok = true;
      } finally {
        await opts.phases?.afterDump?.(TREE, ctx, ok);
      }
      return { bytes: 123, details: { criuVersion: '4.1.1' } };
    },
    async restore(ctx) {
      calls.push('criu:restore');
      if (fail.restore) throw new Error('criu restore failed');
      await opts.phases?.afterRestore?.(TREE, ctx, pidOf);
      calls.push('criu:continue');
      return { details: { pid: TREE.root } };
    },
  });
}

function pod(env: Array<{ name: string; value: string }> = []): Pod {
  return { metadata: { name: 'w', namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'x', env }] } } as unknown as Pod;
}

const ref: ContainerRef = { namespace: 'default', podName: 'w', podUid: 'u', containerName: 'main', pid: TREE.root, signal: async () => {} };

let dir: string;
let logs: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cuda-engine-test-'));
  logs = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ckptCtx(): CheckpointContext {
  return { pod: pod(), container: ref, checkpointId: 'c1', nodeName: 'n', artifactDir: dir, log: (m) => logs.push(m), signal: new AbortController().signal };
}
function restoreCtx(p: Pod = pod()): RestoreContext {
  return { pod: p, placeholder: ref, checkpointId: 'c1', nodeName: 'n', artifactDir: dir, manifest: {}, log: (m) => logs.push(m), signal: new AbortController().signal };
}
async function writeMeta(meta: Partial<CudaMeta> = {}): Promise<void> {
  const m: CudaMeta = { engine: 'cuda', gpus: [OLD], usedBytes: { [OLD]: 17 * GiB }, pids: [TREE.root], suspendSeconds: 3, ...meta };
  await writeFile(join(dir, CUDA_META_FILE), JSON.stringify(m));
}

describe('cuda engine: checkpoint', () => {
  it('locks and checkpoints CUDA before the CRIU dump, gives the source its GPU back after, and records the GPU memory', async () => {
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    const r = await engine.checkpoint(ckptCtx());
    expect(calls).toEqual([
      'helper:ready',
      `helper:usage ${TREE.pids.join(',')}`,
      `helper:suspend ${TREE.pids.join(',')}`,
      'criu:dump',
      `helper:resume ${TREE.root} pairs=[] need=-`,
      'helper:probe',
      'helper:close',
    ]);
    const meta = JSON.parse(await readFile(join(dir, CUDA_META_FILE), 'utf8')) as CudaMeta;
    expect(meta).toMatchObject({ engine: 'cuda', gpus: [OLD], usedBytes: { [OLD]: 17 * GiB }, pids: [TREE.root], driverVersion: 13000 });
    expect(r.details?.['cuda']).toMatchObject({ pids: [TREE.root], gpuBytes: 17 * GiB, checkpointSeconds: 3 });
    expect(r.details?.['criuVersion']).toBe('4.1.1');
  });

  it('a failed dump still gives the worker its GPU back, and the dump error is what the agent sees', async () => {
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls, { dump: true }) });
    await expect(engine.checkpoint(ckptCtx())).rejects.toThrow(/criu dump failed/);
    expect(calls.slice(2)).toEqual([`helper:suspend ${TREE.pids.join(',')}`, 'criu:dump', `helper:resume ${TREE.root} pairs=[] need=-`, 'helper:close']);
  });

  it('a failed CUDA lock stops before CRIU runs', async () => {
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    helper.failSuspend = true;
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    await expect(engine.checkpoint(ckptCtx())).rejects.toThrow(/CUDA_ERROR_TIMEOUT/);
    expect(calls).not.toContain('criu:dump');
    expect(calls.at(-1)).toBe('helper:close');
  });
});

describe('cuda engine: restore', () => {
  it('checks free GPU memory first, then CRIU restore, then CUDA restore + unlock before the tree goes on', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls), readThp: () => 'always [madvise] never' });
    const r = await engine.restore(restoreCtx());
    const need = 17 * GiB + 512 * 2 ** 20;
    expect(calls).toEqual(['helper:ready', 'helper:gpus', 'criu:restore', `helper:resume ${TREE.root} pairs=[] need=${need}`, 'criu:continue', 'helper:close']);
    expect(r.details?.['cuda']).toMatchObject({ pids: [TREE.root], gpus: [OLD], remapped: [], restoreSeconds: expect.any(Number) });
    expect(logs.join('\n')).toMatch(/transparent huge pages are 'madvise'/);
    // The fake CRIU reports no parallel page read: the engine names the faster CRIU.
    expect(logs.join('\n')).toMatch(/copied the 17\.00 GiB of host memory back with one thread; .*setup-criu\.sh --parallel-restore/);
  });

  it('no hint about the page copy when the patched CRIU read the pages with several threads', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const base = fakeCriu(calls);
    const parallelCriu = (o: CriuEngineOptions): SnapshotEngine => {
      const e = base(o);
      return { ...e, restore: async (ctx) => ({ details: { ...(await e.restore(ctx)).details, pageReadThreads: 8, pageReadBytes: 17 * GiB } }) };
    };
    const engine = createCudaEngine({ helper: () => helper, criuEngine: parallelCriu, readThp: () => '[always] madvise never' });
    const r = await engine.restore(restoreCtx());
    expect(r.details).toMatchObject({ pageReadThreads: 8 });
    expect(logs.join('\n')).not.toMatch(/one thread|transparent huge pages/);
  });

  it('refuses before CRIU runs when the target GPU lacks the memory, naming the figures', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 10)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    await expect(engine.restore(restoreCtx())).rejects.toThrow(/GPU 0 .* has 10\.00 GiB free and the checkpoint needs 17\.50 GiB.*stuck for good/);
    expect(calls).not.toContain('criu:restore');
    expect(calls.at(-1)).toBe('helper:close');
  });

  it('maps the checkpoint GPU onto the placeholder\'s (NVIDIA_VISIBLE_DEVICES by index or uuid)', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, 'GPU-00000000-0000-0000-0000-00000000000a', 70), gpu(1, NEW, 70)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    const r = await engine.restore(restoreCtx(pod([{ name: 'NVIDIA_VISIBLE_DEVICES', value: '1' }])));
    expect(calls).toContain(`helper:resume ${TREE.root} pairs=${JSON.stringify([[OLD, NEW]])} need=${17 * GiB + 512 * 2 ** 20}`);
    expect(r.details?.['cuda']).toMatchObject({ gpus: [NEW], remapped: [[OLD, NEW]] });
  });

  it('in a placeholder container the restored worker has another host PID: the CUDA restore goes to that one', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls, {}, (pid) => (pid === TREE.root ? 4_100_007 : undefined)) });
    await engine.restore(restoreCtx());
    expect(calls).toContain(`helper:resume 4100007 pairs=[] need=${17 * GiB + 512 * 2 ** 20}`);
    expect(logs.join('\n')).toMatch(/CUDA restore \+ unlock of 4100007/);
  });

  it('a CUDA process of the checkpoint missing from the restored tree fails the restore, naming it', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls, {}, () => undefined) });
    await expect(engine.restore(restoreCtx())).rejects.toThrow(new RegExp(`the CUDA process that was pid ${TREE.root} at the checkpoint is not in the restored tree`));
    expect(calls.some((c) => c.startsWith('helper:resume'))).toBe(false);
  });

  it('on a real node the GPUs come from the placeholder container\'s environment, not the pod spec', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 70), gpu(1, NEW, 70)]);
    // The "placeholder container": a process whose environment the device plugin set.
    const child = spawn('sleep', ['30'], { env: { ...process.env, NVIDIA_VISIBLE_DEVICES: NEW } });
    try {
      const runtime = { inspect: () => undefined, adopt: () => {}, containerInit: async () => child.pid };
      const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls), runtime });
      // The pod spec names GPU 0; the container was given GPU 1.
      const r = await engine.restore(restoreCtx(pod([{ name: 'NVIDIA_VISIBLE_DEVICES', value: '0' }])));
      expect(r.details?.['cuda']).toMatchObject({ gpus: [NEW], remapped: [[OLD, NEW]] });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a restored process the driver does not see as checkpointed fails the restore (it would run without its GPU memory)', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    helper.resumeSkips = true;
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    await expect(engine.restore(restoreCtx())).rejects.toThrow(new RegExp(`no checkpointed CUDA state for pid ${TREE.root} \\(already running\\)`));
    expect(calls).not.toContain('criu:continue');
  });

  it('a CUDA restore failure fails the restore (the criu engine then kills the stopped tree)', async () => {
    await writeMeta();
    const calls: string[] = [];
    const helper = new FakeHelper(calls, [gpu(0, OLD, 60)]);
    helper.failResume = true;
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    await expect(engine.restore(restoreCtx())).rejects.toThrow(/CUDA_ERROR_OUT_OF_MEMORY/);
    expect(calls).not.toContain('criu:continue');
  });

  it('an artifact without cuda.json was not written by this engine', async () => {
    const calls: string[] = [];
    const engine = createCudaEngine({ helper: () => new FakeHelper(calls, []), criuEngine: fakeCriu(calls) });
    await expect(engine.restore(restoreCtx())).rejects.toThrow(/no readable cuda\.json/);
  });
});

describe('cuda engine: probe and helpers', () => {
  it('says why it cannot run: no GPU driver, or no CRIU', async () => {
    const calls: string[] = [];
    const helper = new FakeHelper(calls, []);
    helper.notReady = 'no CUDA driver library (libcuda.so.1)';
    const engine = createCudaEngine({ helper: () => helper, criuEngine: fakeCriu(calls) });
    expect(await engine.probe()).toEqual({ ok: false, reason: expect.stringMatching(/no usable NVIDIA GPU.*libcuda/) });
    const noCriu = createCudaEngine({
      helper: () => helper,
      criuEngine: (o) => ({ ...fakeCriu(calls)(o), probe: async () => ({ ok: false, reason: 'CRIU 3.17 is older than 4.1' }) }),
    });
    expect(await noCriu.probe()).toEqual({ ok: false, reason: 'CRIU: CRIU 3.17 is older than 4.1' });
  });

  it('target resolution and the free-memory rule', () => {
    const meta: CudaMeta = { engine: 'cuda', gpus: [OLD], usedBytes: { [OLD]: 4 * GiB }, pids: [1], suspendSeconds: 0 };
    const gpus = [gpu(0, NEW, 5)];
    expect(resolveTargets(meta, gpus, undefined)).toEqual([NEW]);
    expect(resolveTargets(meta, [gpu(0, NEW, 5), gpu(1, OLD, 5)], undefined)).toEqual([OLD]);
    expect(() => resolveTargets(meta, gpus, ['3'])).toThrow(/names GPU 3, which this node does not have/);
    expect(() => resolveTargets({ ...meta, gpus: [OLD, NEW] }, gpus, undefined)).toThrow(/used 2 GPU\(s\) and the restore target has 1/);
    expect(checkFreeMemory(meta, [NEW], gpus, 0)).toBe(4 * GiB);
    expect(() => checkFreeMemory(meta, [NEW], gpus, 2 * GiB)).toThrow(/needs 6\.00 GiB/);
    expect(thpMode('always [madvise] never')).toBe('madvise');
    expect(visibleDevices(pod([{ name: 'CUDA_VISIBLE_DEVICES', value: '0,1' }]))).toEqual(['0', '1']);
    expect(visibleDevices(pod([{ name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' }]))).toBeUndefined();
    expect(visibleDevicesOfEnviron(`PATH=/bin\0NVIDIA_VISIBLE_DEVICES=${NEW},${OLD}\0HOME=/`)).toEqual([NEW, OLD]);
    expect(visibleDevicesOfEnviron('NVIDIA_VISIBLE_DEVICES=void\0')).toBeUndefined();
    expect(visibleDevicesOfEnviron(undefined)).toBeUndefined();
    // Device nodes by NVML minor number (here not equal to the index).
    const two = [{ ...gpu(0, OLD, 5), minor: 3 }, { ...gpu(1, NEW, 5), minor: 1 }];
    expect(gpusOfDeviceNodes(['null', 'nvidiactl', 'nvidia-uvm', 'nvidia3', 'nvidia1'], two)).toEqual([NEW, OLD]);
    expect(gpusOfDeviceNodes(['nvidiactl'], two)).toBeUndefined();
    expect(() => gpusOfDeviceNodes(['nvidia7'], two)).toThrow(/\/dev\/nvidia7, and this node has no GPU with minor number 7/);
    // The environment (which the pod's spec can set) orders the device nodes the runtime
    // gave, and cannot add a GPU the container has no node for.
    expect(placeholderGpus(['nvidia1', 'nvidia3'], `NVIDIA_VISIBLE_DEVICES=${NEW},${OLD}\0`, two)).toEqual([NEW, OLD]);
    expect(placeholderGpus(['nvidia1'], `NVIDIA_VISIBLE_DEVICES=${OLD}\0`, two)).toEqual([NEW]);
    expect(placeholderGpus(['nvidia1'], 'NVIDIA_VISIBLE_DEVICES=0\0', two)).toEqual([NEW]);
    expect(placeholderGpus(['null'], `NVIDIA_VISIBLE_DEVICES=${OLD}\0`, two)).toEqual([OLD]);
  });

  it('the JSON-lines client: answers by id, errors and a helper that dies', async () => {
    const fake = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      console.log(JSON.stringify({ id: 0, ok: true, ready: true }));
      rl.on('line', (l) => {
        const r = JSON.parse(l);
        if (r.op === 'gpus') console.log(JSON.stringify({ id: r.id, ok: true, gpus: [{ index: 0, uuid: 'GPU-x', name: 'n', freeBytes: 1, totalBytes: 2 }] }));
        else if (r.op === 'resume') console.log(JSON.stringify({ id: r.id, ok: false, error: 'GPU 0 has 0.10 GiB free' }));
        else process.exit(7);
      });`;
    const h = spawnHelper({ argv: [process.execPath, '-e', fake] });
    await h.ready();
    expect((await h.gpus())[0]!.uuid).toBe('GPU-x');
    await expect(h.resume([1], { needBytes: 5 })).rejects.toThrow(/0\.10 GiB free/);
    await expect(h.suspend([1])).rejects.toThrow(/exited \(7\)/);
    h.close();
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)('cuda_ckpt.py itself reports honestly when the machine has no NVIDIA driver', async () => {
    expect(locateHelper()).toMatch(/cuda_ckpt\.py$/);
    const h = spawnHelper();
    const hasDriver = await h.ready().then(
      () => true,
      (err: CudaHelperError) => {
        expect(err.unsupported).toBe(true);
        expect(err.message).toMatch(/libcuda|nvml|driver|GPU/i);
        return false;
      },
    );
    if (hasDriver) expect((await h.probe()).gpus.length).toBeGreaterThan(0);
    h.close();
  });
});
