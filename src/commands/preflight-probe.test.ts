/** The probe script run by a real `sh` on fake tools, its output parser, and the run of its pod. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Interrupted } from '../errors.js';
import { RESOURCES, type ResourceType, type WriteOptions } from '../kube/types.js';
import type { KubeObject } from '../protocol/index.js';
import { Leftovers } from './leftovers.js';
import { buildProbePod, parseProbeOutput, probeScript, runProbePod, PROBE_MARKER } from './preflight-probe.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Run the script with PATH holding only `tools` (shell scripts); returns the line it wrote. */
function runScript(tools: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-probe-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  const out = join(dir, 'termination-log');
  execFileSync('/bin/sh', ['-c', probeScript().replace('/dev/termination-log', out)], { env: { PATH: dir } });
  return readFileSync(out, 'utf8');
}

describe('probe script', () => {
  const nsrestore = existsSync('/usr/local/bin/nsrestore') ? '1' : '0';

  it('starts with the marker the dev kubelet recognises', () => {
    expect(probeScript().split('\n')[0]).toBe(PROBE_MARKER);
  });

  it('finds each tool and --launch-job in the help text', () => {
    const line = runScript({ criu: 'exit 0', 'cuda-checkpoint': 'echo "usage: cuda-checkpoint [--launch-job CMD] --toggle --pid PID"', sleep: 'exit 0' });
    expect(line).toBe(`criu=1 cuda-checkpoint=1 launch-job=1 nsrestore=${nsrestore} sleep=1\n`);
  });

  it('a cuda-checkpoint without --launch-job (580.x), and no criu', () => {
    const line = runScript({ 'cuda-checkpoint': 'echo "usage: cuda-checkpoint --toggle --pid PID" >&2; exit 1', sleep: 'exit 0' });
    expect(line).toBe(`criu=0 cuda-checkpoint=1 launch-job=0 nsrestore=${nsrestore} sleep=1\n`);
  });

  it('nothing at all', () => {
    expect(runScript({})).toBe(`criu=0 cuda-checkpoint=0 launch-job=0 nsrestore=${nsrestore} sleep=0\n`);
  });
});

describe('parseProbeOutput', () => {
  it.each([
    ['criu=1 cuda-checkpoint=0 launch-job=0 nsrestore=1 sleep=1\n', { criu: true, 'cuda-checkpoint': false, 'launch-job': false, nsrestore: true, sleep: true }],
    ['sleep=1 nsrestore=0 launch-job=1 cuda-checkpoint=1 criu=0', { criu: false, 'cuda-checkpoint': true, 'launch-job': true, nsrestore: false, sleep: true }],
    ['criu=1 cuda-checkpoint=1', undefined],
    ['sh: not found', undefined],
    ['criu=yes cuda-checkpoint=1 launch-job=1 nsrestore=1 sleep=1', undefined],
    ['', undefined],
  ])('%j', (text, want) => {
    expect(parseProbeOutput(text)).toEqual(want);
  });
});

describe('runProbePod: one runner with the helper pods', () => {
  /**
   * The API server takes the create, and Ctrl-C comes while its answer is on the way:
   * a create that carried the signal loses the answer, as the real client's does.
   */
  class CtrlCDuringCreate extends FakeKubeClient {
    constructor(private readonly ctrl: AbortController) {
      super('default');
    }
    override async create<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, body: KubeObject, opts: WriteOptions = {}): Promise<T> {
      const made = await super.create<T>(res, ns, body, opts);
      this.ctrl.abort();
      if (opts.signal?.aborted) throw new Error('the operation was aborted');
      return made;
    }
  }

  it('Ctrl-C while the probe pod is being created still deletes the pod (the create is not aborted)', async () => {
    const ctrl = new AbortController();
    const client = new CtrlCDuringCreate(ctrl);
    const leftovers = new Leftovers();
    const reporter = { phase: () => undefined, info: () => undefined, warn: () => undefined };
    const err = await runProbePod(client, buildProbePod({ namespace: 'default', image: 'registry.example.com/w:1' }), { signal: ctrl.signal, timeoutMs: 5_000, reporter, leftovers }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Interrupted);
    expect((await client.list(RESOURCES.pods, 'default')).items).toEqual([]);
    expect(client.writes().map((c) => c.verb)).toEqual(['create', 'delete']);
    expect(leftovers.list()).toEqual([]);
  });
});
