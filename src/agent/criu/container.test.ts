import { describe, expect, it } from 'vitest';
import {
  cgroupMounts,
  cgroupProcsFiles,
  dumpArgs,
  joinCgroupsArgv,
  mountPoints,
  nsenterArgv,
  nsPidOf,
  overlayUpperDir,
  parseProcCgroup,
  pipeOf,
  restoreArgs,
} from './container.js';

const POD = '/snapshotctl-real-cluster/kubepods/besteffort/podfff0/38e7';

// /proc/<placeholder init>/cgroup on this machine (cgroup v1 with a unified hierarchy).
const PROC_CGROUP = [
  `9:name=systemd:${POD}`,
  `8:pids:${POD}`,
  `4:memory:${POD}`,
  `2:cpu,cpuacct:${POD}`,
  `0::${POD}`,
  '',
].join('\n');

// The host's (the shim's) mountinfo: whole hierarchies, and a container's bind of its own cgroup.
const HOST_MOUNTINFO = [
  '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '30 22 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpuacct,cpu',
  '32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '33 30 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '34 30 0:30 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  `90 88 0:28 ${POD} /run/x/sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory`,
  '',
].join('\n');

describe('parseProcCgroup', () => {
  it('reads v1 hierarchies, named ones and the unified one', () => {
    expect(parseProcCgroup(PROC_CGROUP)).toEqual([
      { id: '9', controllers: 'name=systemd', path: POD },
      { id: '8', controllers: 'pids', path: POD },
      { id: '4', controllers: 'memory', path: POD },
      { id: '2', controllers: 'cpu,cpuacct', path: POD },
      { id: '0', controllers: '', path: POD },
    ]);
  });

  it('keeps colons in a path and skips junk', () => {
    expect(parseProcCgroup('3:cpuset:/a:b\nnonsense\n')).toEqual([{ id: '3', controllers: 'cpuset', path: '/a:b' }]);
  });
});

describe('cgroupMounts and cgroupProcsFiles', () => {
  it('maps each hierarchy to its whole mount, in whatever order the kernel lists co-mounted controllers', () => {
    const mounts = cgroupMounts(HOST_MOUNTINFO);
    expect(Object.fromEntries(mounts)).toEqual({
      'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct',
      memory: '/sys/fs/cgroup/memory',
      pids: '/sys/fs/cgroup/pids',
      'name=systemd': '/sys/fs/cgroup/systemd',
      '': '/sys/fs/cgroup/unified',
    });
  });

  it('gives one cgroup.procs per hierarchy of the placeholder, under the host view', () => {
    const { files, unmounted } = cgroupProcsFiles(parseProcCgroup(PROC_CGROUP), cgroupMounts(HOST_MOUNTINFO), '/proc/77/root');
    expect(unmounted).toEqual([]);
    expect(files).toEqual([
      `/proc/77/root/sys/fs/cgroup/systemd${POD}/cgroup.procs`,
      `/proc/77/root/sys/fs/cgroup/pids${POD}/cgroup.procs`,
      `/proc/77/root/sys/fs/cgroup/memory${POD}/cgroup.procs`,
      `/proc/77/root/sys/fs/cgroup/cpu,cpuacct${POD}/cgroup.procs`,
      `/proc/77/root/sys/fs/cgroup/unified${POD}/cgroup.procs`,
    ]);
  });

  it('names a hierarchy the host does not mount', () => {
    const { unmounted } = cgroupProcsFiles(parseProcCgroup(`5:freezer:${POD}\n`), cgroupMounts(HOST_MOUNTINFO));
    expect(unmounted).toEqual(['freezer']);
  });
});

describe('argv builders', () => {
  it('nsenter joins mnt, pid, net, ipc and uts of the target', () => {
    expect(nsenterArgv('nsenter', 4242, ['criu', 'dump'])).toEqual(['nsenter', '-t', '4242', '-m', '-p', '-n', '-i', '-u', '--', 'criu', 'dump']);
  });

  it('dump: images through fd 3, the tree left stopped for the file copy, TCP closed', () => {
    expect(dumpArgs(1000, '4')).toEqual(['dump', '-t', '1000', '-D', '/proc/self/fd/3/criu', '-o', 'dump.log', '-v4', '--leave-stopped', '--tcp-close']);
  });

  it('restore: detached, cgroups left to us, stdout and stderr inherited from fds 5 and 6', () => {
    expect(restoreArgs({ stdout: 'pipe:[11]', stderr: 'pipe:[12]' }, '4')).toEqual([
      'restore', '-D', '/proc/self/fd/3/criu', '-W', '/proc/self/fd/4', '-o', 'restore.log', '-v4', '-d', '--manage-cgroups=ignore', '--tcp-close',
      '--inherit-fd', 'fd[5]:pipe:[11]', '--inherit-fd', 'fd[6]:pipe:[12]',
    ]);
    expect(restoreArgs({}, '2')).not.toContain('--inherit-fd');
  });

  it('the cgroup join passes file names as arguments, never inside the script', () => {
    const argv = joinCgroupsArgv(['/a b/cgroup.procs', '/c/cgroup.procs'], ['nsenter', '-t', '1']);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv[2]).not.toContain('/a b');
    expect(argv.slice(3)).toEqual(['sh', '/a b/cgroup.procs', '/c/cgroup.procs', '--', 'nsenter', '-t', '1']);
  });
});

describe('/proc readers', () => {
  it('pipeOf keeps pipes only', () => {
    expect(pipeOf('pipe:[660812]')).toBe('pipe:[660812]');
    expect(pipeOf('/dev/null')).toBeUndefined();
    expect(pipeOf('socket:[1]')).toBeUndefined();
    expect(pipeOf(undefined)).toBeUndefined();
  });

  it('nsPidOf takes the innermost PID', () => {
    expect(nsPidOf('Name:\tnode\nNSpid:\t7169\t1000\n')).toBe(1000);
    expect(nsPidOf('NSpid:\t12\n')).toBe(12);
    expect(nsPidOf('Name:\tx\n')).toBeUndefined();
  });

  it('overlayUpperDir reads the root mount of a container', () => {
    const mi = '128 91 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/s/101/fs,upperdir=/s/104/fs,workdir=/s/104/work\n129 128 0:53 / /proc rw - proc proc rw\n';
    expect(overlayUpperDir(mi)).toBe('/s/104/fs');
    expect(overlayUpperDir('1 0 254:0 / / rw - ext4 /dev/vda rw\n')).toBeUndefined();
  });

  it('mountPoints lists what the runtime mounted (left out of the written files), unescaped', () => {
    const mi = '1 0 0:1 / / rw - overlay overlay rw\n2 1 0:2 / /etc/hosts rw - ext4 /dev/vda rw\n3 1 0:3 / /a\\040b rw - tmpfs tmpfs rw\n';
    expect([...mountPoints(mi)]).toEqual(['/etc/hosts', '/a b']);
  });
});

describe('hints for failures on a real node', () => {
  it('names a missing criu in the container, a cgroup join refused, a worker at PID 1', async () => {
    const { hintFor } = await import('./run.js');
    expect(hintFor(['nsenter: failed to execute criu: No such file or directory'])).toMatch(/placeholder image/);
    expect(hintFor(['cannot join cgroup /x/cgroup.procs'])).toMatch(/privileged with hostPID/);
    expect(hintFor(['Error (criu/pstree.c:1): Can\'t dump init'])).toMatch(/worker-init/);
  });
});

describe('the criu engine with a real node\'s runtime', () => {
  const runtime = { inspect: () => undefined, adopt: () => {}, containerInit: async () => 4242 };

  it('probes for nsenter instead of a criu of its own', async () => {
    const { createCriuEngine } = await import('./engine.js');
    const probe = await createCriuEngine({ runtime, env: { PATH: '' } }).probe();
    expect(probe.ok).toBe(false);
    expect(probe.reason).toMatch(process.getuid?.() === 0 ? /nsenter is not on PATH/ : /needs root/);
  });

  it('refuses an artifact the process runtime wrote, before touching the placeholder', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createCriuEngine } = await import('./engine.js');
    const dir = await mkdtemp(join(tmpdir(), 'criu-container-'));
    try {
      await writeFile(join(dir, 'criu.json'), JSON.stringify({ engine: 'criu', root: 1, pids: [1], tids: [1] }));
      const engine = createCriuEngine({ runtime });
      const placeholder = { namespace: 'ns', podName: 'ph', podUid: 'u', containerName: 'worker', signal: async () => {} };
      const err = await engine
        .restore({ pod: { metadata: {}, spec: { containers: [] } } as never, placeholder, checkpointId: 'c', nodeName: 'n', artifactDir: dir, manifest: {}, log: () => {}, signal: new AbortController().signal })
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/process runtime, not from a container/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
