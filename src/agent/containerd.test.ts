import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/temp-dir.js';
import { badContainerId, createContainerdRuntime, parseTaskList } from './containerd.js';
import type { ContainerRef } from './engine.js';
import { createSimEngine } from './sim-engine.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** A stand-in `ctr` that records its arguments and answers `tasks ls` with a fixed table. */
function fakeCtr(table: string, exitCode = 0): { bin: string; calls: () => string[][] } {
  const dir = tempDir('snapshotctl-ctr-');
  const log = join(dir, 'calls');
  writeFileSync(join(dir, 'table'), table);
  const bin = join(dir, 'ctr');
  writeFileSync(
    bin,
    `#!/bin/sh\nprintf '%s\\037' "$@" >> '${log}'; printf '\\n' >> '${log}'\ncase " $* " in *" tasks ls "*) cat '${dir}/table';; esac\n[ ${exitCode} = 0 ] || { echo "ctr: task not found" >&2; exit ${exitCode}; }\n`,
  );
  chmodSync(bin, 0o755);
  return {
    bin,
    calls: () => {
      try {
        return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\x1f').filter(Boolean));
      } catch {
        return [];
      }
    },
  };
}

const ref = (id?: string): ContainerRef => ({
  namespace: 'ns',
  podName: 'p',
  podUid: 'u',
  containerName: 'worker',
  ...(id ? { containerId: id } : {}),
  signal: async () => {},
});

describe('containerd runtime seam', () => {
  it('reads running tasks only, with containerd-shaped IDs', () => {
    const tasks = parseTaskList(`TASK    PID    STATUS\n${A}    4242    RUNNING\n${B}    17     STOPPED\nnot-an-id  9 RUNNING\n`);
    expect([...tasks]).toEqual([[A, 4242]]);
  });

  it('maps a container ID to its host PID through ctr, in the k8s.io namespace on the given socket', async () => {
    const ctr = fakeCtr(`TASK PID STATUS\n${A} 4242 RUNNING\n`);
    const rt = createContainerdRuntime({ address: '/run/x.sock', ctr: ctr.bin });
    expect(await rt.pid(A)).toBe(4242);
    expect(await rt.pid(B)).toBeUndefined();
    expect(ctr.calls()[0]).toEqual(['--address', '/run/x.sock', '--namespace', 'k8s.io', 'tasks', 'ls']);
  });

  it('signals and execs through containerd, and refuses IDs that are not containerd IDs before running anything', async () => {
    const ctr = fakeCtr('TASK PID STATUS\n');
    const rt = createContainerdRuntime({ address: '/s', ctr: ctr.bin, fifoDir: join(tempDir('snapshotctl-fifo-'), 'f') });
    await rt.signal(A, 'SIGUSR1');
    await rt.exec(ref(A), ['sh', '-c', 'true']);
    await expect(rt.signal('../../etc', 'SIGKILL')).rejects.toThrow(/64-hex/);
    await expect(rt.exec(ref(), ['true'])).rejects.toThrow(/no container ID/);
    const calls = ctr.calls();
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual(['--address', '/s', '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGUSR1', A]);
    expect(calls[1]?.slice(4, 6)).toEqual(['tasks', 'exec']);
    expect(calls[1]?.slice(-4)).toEqual([A, 'sh', '-c', 'true']);
    expect(badContainerId(A)).toBeUndefined();
  });

  it("names containerd and what it said when ctr fails", async () => {
    const ctr = fakeCtr('', 1);
    const rt = createContainerdRuntime({ address: '/s', ctr: ctr.bin });
    await expect(rt.signal(A, 'SIGTERM')).rejects.toThrow(/containerd \(\/s\).*task not found/);
  });

  it('sim engine on a real node writes the placeholder ready file inside the container, and says it is simulated', async () => {
    const execs: string[][] = [];
    const engine = createSimEngine({ runtime: { inspect: () => undefined, adopt: () => {}, exec: async (_r, argv) => void execs.push(argv) } });
    const dir = tempDir('snapshotctl-sim-');
    const logs: string[] = [];
    const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'worker', env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/ready' }] }] } };
    const base = { checkpointId: 'c1', nodeName: 'n', log: (m: string) => logs.push(m), signal: new AbortController().signal };
    await engine.checkpoint({ ...base, pod: pod as never, container: ref(A), artifactDir: dir });
    const result = await engine.restore({ ...base, pod: pod as never, placeholder: ref(A), artifactDir: dir, manifest: {} });
    expect(execs).toEqual([['sh', '-c', ': > "$1"', 'sh', '/tmp/ready']]);
    expect(result.details?.['simulatedReadyFile']).toBe('/tmp/ready');
    expect(logs.join('\n')).toMatch(/SIMULATED/);
  });
});
