/**
 * The criu engine on a real node (`--runtime containerd`): CRIU run inside the worker
 * container's namespaces, and the restore inside the running placeholder container's,
 * as docs/agent.md describes under "CRIU on a real node".
 *
 * Dump: `nsenter -t <source init> -m -p -n -i -u -- criu dump -t <worker> --leave-stopped
 * --tcp-close`, with criu taken from the container's own filesystem (placeholder images
 * carry it, docs/protocol.md §3). The images go straight to the checkpoint volume although
 * the source container does not mount it: the agent opens the staging directory and
 * hands it to criu as fd 3, and criu is given `-D /proc/self/fd/3/criu` (a /proc fd
 * link leads to the agent's directory from any mount namespace). `--leave-stopped`
 * rather than `--leave-running`: the tree stays stopped after the dump while the agent
 * copies `/dev/shm` and the files the container wrote (its root filesystem's overlay
 * upper directory), so the copy matches the memory image; then the agent continues it
 * (SIGCONT) and the worker runs on until the agent's SIGUSR1. (criu 4.1 runs action
 * scripts by path in the container's mount namespace, where none of ours exists, so a
 * post-dump hook cannot do the copy.)
 *
 * Restore: the files go into the placeholder first (through /proc/<init>/root), the
 * PIDs the worker needs are checked to be free in the placeholder's PID namespace, then
 * a shell moves itself into every cgroup of the placeholder's init (cgroup v1: each
 * hierarchy of /proc/<init>/cgroup; nsenter does not change cgroups) and execs
 * `nsenter -t <placeholder init> ... -- criu restore -d --manage-cgroups=ignore
 * --tcp-close --inherit-fd fd[5]:pipe:[stdout] --inherit-fd fd[6]:pipe:[stderr]`, where
 * fds 5 and 6 are the placeholder's own stdout and stderr (so `kubectl logs` of the
 * placeholder shows the restored worker). The restored tree becomes a child of the
 * placeholder's PID 1, which must reap (worker-init's `sleep infinity`, pause, tini).
 * Readiness is then the placeholder's own probe; the agent waits for it.
 */
import { constants, closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { readArtifactJson } from '../artifact.js';
import type { CheckpointContext, CheckpointResult, RestoreContext, RestoreResult } from '../engine.js';
import type { CriuPhases } from './engine.js';
import { processTree, readStat, type ProcessTree } from './proc.js';
import { runCriu } from './run.js';

/** Folder of CRIU images inside the artifact directory (as the process-runtime engine). */
export const CONTAINER_IMAGES_DIR = 'criu';
/** Files the source container wrote (its overlay upper directory), by path in the container. */
export const ROOTFS_DIR = 'rootfs';
/** The source container's /dev/shm at the dump. */
export const SHM_DIR = 'shm';
/** What the engine records about a container dump. */
export const CONTAINER_META_FILE = 'criu.json';

/** How the engine reaches the node: where the host's root and cgroups are, which binaries. */
export interface ContainerCriuOptions {
  name: string;
  /** criu inside the container (resolved there); default `criu`. */
  criu: string;
  /** nsenter in the agent; default `nsenter`. */
  nsenter: string;
  verbosity: string;
  /**
   * A wrapping engine's hooks (CUDA), with host PIDs: `beforeDump` before criu runs,
   * `afterDump` once the tree runs again, `afterRestore` once the restored tree runs in
   * the placeholder (its `pidOf` maps a checkpointed host PID to the restored one).
   */
  phases?: CriuPhases;
}

/** `criu.json` of a container dump. */
export interface ContainerCriuMeta {
  engine: string;
  mode: 'container';
  criuVersion?: string;
  /** The worker's PID in the source container's PID namespace (criu's -t). */
  nsPid: number;
  /** Every thread ID of the tree in that namespace: each must be free in the placeholder. */
  nsTids: number[];
  /** Pipe inodes of the worker's stdout and stderr (`pipe:[N]`), when they are pipes. */
  stdout?: string;
  stderr?: string;
  /** Each process of the tree: its host PID at the dump and its PID in the container. */
  procs?: Array<{ pid: number; nsPid: number }>;
  dumpSeconds: number;
}

// ---------------------------------------------------------------- pure parts

/** One line of /proc/<pid>/cgroup. */
export interface CgroupEntry {
  id: string;
  /** `cpu,cpuacct`, `name=systemd`, or '' for the cgroup v2 (unified) hierarchy. */
  controllers: string;
  path: string;
}

/** Parse /proc/<pid>/cgroup. */
export function parseProcCgroup(text: string): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    out.push({ id: line.slice(0, first), controllers: line.slice(first + 1, second), path: line.slice(second + 1) });
  }
  return out;
}

/**
 * Mount points of cgroup hierarchies from a mountinfo: the key is the controllers as
 * /proc/<pid>/cgroup names them (`cpu,cpuacct`, `name=systemd`), '' for cgroup2.
 */
export function cgroupMounts(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const root = left[3];
    const point = unescapeMount(left[4] ?? '');
    // Only whole hierarchies (a container's bind of its own cgroup has another root).
    if (root !== '/') continue;
    if (fstype === 'cgroup2') {
      if (!out.has('')) out.set('', point);
    } else if (fstype === 'cgroup') {
      const opts = superOpts.split(',');
      const known = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc'];
      const ctrls = known.filter((k) => opts.includes(k));
      const named = opts.find((o) => o.startsWith('name='));
      if (named) ctrls.push(named);
      const key = ctrls.join(',');
      if (key && !out.has(key)) out.set(key, point);
    }
  }
  return out;
}

/** The `cgroup.procs` files to write to join every cgroup of a process, or the entries with no mount. */
export function cgroupProcsFiles(entries: CgroupEntry[], mounts: Map<string, string>, prefix = ''): { files: string[]; unmounted: string[] } {
  const files: string[] = [];
  const unmounted: string[] = [];
  for (const e of entries) {
    // Same hierarchy, whatever order the kernel lists co-mounted controllers in.
    const key = [...mounts.keys()].find((k) => sameControllers(k, e.controllers));
    if (key === undefined) {
      unmounted.push(e.controllers || 'cgroup2');
      continue;
    }
    files.push(posix.join(prefix || '/', mounts.get(key) ?? '', e.path, 'cgroup.procs'));
  }
  return { files, unmounted };
}

function sameControllers(a: string, b: string): boolean {
  return a.split(',').sort().join(',') === b.split(',').sort().join(',');
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The nsenter argv that runs `rest` inside the namespaces of host PID `pid`. Entering a
 * PID namespace forks, so criu is nsenter's child: killing nsenter (an aborted
 * operation) does not end a criu already running (bookworm's nsenter 2.38 has no
 * --kill-child).
 */
export function nsenterArgv(nsenter: string, pid: number, rest: string[]): string[] {
  return [nsenter, '-t', String(pid), '-m', '-p', '-n', '-i', '-u', '--', ...rest];
}

/** criu dump's arguments: images at fd 3 of criu (the agent's staging directory). */
export function dumpArgs(nsPid: number, verbosity: string): string[] {
  return ['dump', '-t', String(nsPid), '-D', `/proc/self/fd/3/${CONTAINER_IMAGES_DIR}`, '-o', 'dump.log', `-v${verbosity}`, '--leave-stopped', '--tcp-close'];
}

/**
 * criu restore's arguments: images at fd 3, work dir (its log) at fd 4, the
 * placeholder's stdout and stderr at fds 5 and 6 standing in for the source's pipes.
 */
export function restoreArgs(meta: Pick<ContainerCriuMeta, 'stdout' | 'stderr'>, verbosity: string): string[] {
  const args = ['restore', '-D', `/proc/self/fd/3/${CONTAINER_IMAGES_DIR}`, '-W', '/proc/self/fd/4', '-o', 'restore.log', `-v${verbosity}`, '-d', '--manage-cgroups=ignore', '--tcp-close'];
  if (meta.stdout) args.push('--inherit-fd', `fd[5]:${meta.stdout}`);
  if (meta.stderr) args.push('--inherit-fd', `fd[6]:${meta.stderr}`);
  return args;
}

/**
 * `sh -c` that moves itself into each cgroup (`echo 0` moves the writer) and then
 * execs `argv`: the restored tree must start in the placeholder's cgroups.
 */
export function joinCgroupsArgv(files: string[], argv: string[]): string[] {
  const script = 'while [ "$1" != -- ]; do echo 0 > "$1" || { echo "cannot join cgroup $1" >&2; exit 125; }; shift; done; shift; exec "$@"';
  return ['sh', '-c', script, 'sh', ...files, '--', ...argv];
}

/** `pipe:[N]` when the link is a pipe, else undefined (criu reopens files by path itself). */
export function pipeOf(link: string | undefined): string | undefined {
  return link !== undefined && /^pipe:\[\d+\]$/.test(link) ? link : undefined;
}

/** The overlay upper directory of a mountinfo's root mount, if the root is an overlay. */
export function overlayUpperDir(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    if (left[4] !== '/') continue;
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'overlay') continue;
    const upper = superOpts.split(',').find((o) => o.startsWith('upperdir='));
    if (upper) return unescapeMount(upper.slice('upperdir='.length));
  }
  return undefined;
}

/** Mount points of a mountinfo (paths in that mount namespace), `/` excluded. */
export function mountPoints(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const point = line.split(' ')[4];
    if (point && point !== '/') out.add(unescapeMount(point));
  }
  return out;
}

/** The last field of `NSpid:` in /proc/<pid>/status: the PID in its own namespace. */
export function nsPidOf(status: string): number | undefined {
  const m = /^NSpid:\s*(.+)$/m.exec(status);
  const last = m?.[1]?.trim().split(/\s+/).pop();
  const n = Number(last);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

// ---------------------------------------------------------------- /proc

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Live children of a host PID (zombies left out). */
function liveChildren(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSafe(`/proc/${pid}/task`)) {
    const kids = readText(`/proc/${pid}/task/${tid}/children`)?.trim();
    for (const k of kids ? kids.split(/\s+/).map(Number) : []) {
      const st = readStat(k);
      if (st && st.state !== 'Z' && st.state !== 'X') out.push(k);
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Host PIDs of the processes (not threads) in the PID namespace of host PID `init`. */
function processesInNamespace(init: number): string[] {
  const ns = link(`/proc/${init}/ns/pid`);
  if (!ns) return [];
  return readdirSafe('/proc').filter((p) => /^\d+$/.test(p) && link(`/proc/${p}/ns/pid`) === ns);
}

/** PIDs in use (threads included) in the PID namespace of host PID `init`, as seen there. */
export function pidsInNamespace(init: number): Set<number> {
  const out = new Set<number>();
  for (const p of processesInNamespace(init)) {
    for (const t of readdirSafe(`/proc/${p}/task`)) {
      const n = nsPidOf(readText(`/proc/${p}/task/${t}/status`) ?? '');
      if (n !== undefined) out.add(n);
    }
  }
  return out;
}

/** Host PID of each process (not thread) in the PID namespace of host PID `init`, by its PID there. */
export function hostPidsInNamespace(init: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processesInNamespace(init)) {
    const n = nsPidOf(readText(`/proc/${p}/status`) ?? '');
    if (n !== undefined) out.set(n, Number(p));
  }
  return out;
}

/**
 * The node's own filesystem and mounts as the agent can see them: through the
 * container's shim (the parent of its init), which runs where containerd does, with
 * the snapshotter's directories and the host's cgroup hierarchies. (/proc/1/root may be
 * closed even to a privileged agent: a VM's init that is not dumpable.)
 */
export function hostView(init: number): { root: string; mountinfo: string } {
  const st = readStat(init);
  if (!st || st.ppid <= 1) throw new Error(`cannot find the containerd shim of the container whose init is host pid ${init}`);
  const shim = readStat(st.ppid);
  if (!shim?.comm.startsWith('containerd-shim')) throw new Error(`the parent of the container's init (host pid ${init}) is ${shim?.comm ?? 'gone'}, not a containerd shim`);
  return { root: `/proc/${st.ppid}/root`, mountinfo: `/proc/${st.ppid}/mountinfo` };
}

// ---------------------------------------------------------------- file copies

/**
 * Copy what the container wrote (regular files and symlinks of its overlay upper
 * directory, whiteouts and mount points left out) to `to`. Returns the paths copied.
 */
async function copyUpper(upper: string, to: string, skip: Set<string>, rel = ''): Promise<string[]> {
  const copied: string[] = [];
  for (const e of await readdir(join(upper, rel), { withFileTypes: true })) {
    const path = posix.join('/', rel, e.name);
    if (skip.has(path)) continue;
    const from = join(upper, rel, e.name);
    if (e.isDirectory()) copied.push(...(await copyUpper(upper, to, skip, posix.join(rel, e.name))));
    else if (e.isFile()) {
      await mkdir(dirname(join(to, path)), { recursive: true });
      await copyFile(from, join(to, path));
      copied.push(path);
    } else if (e.isSymbolicLink()) {
      await mkdir(dirname(join(to, path)), { recursive: true });
      await symlink(await readlink(from), join(to, path));
      copied.push(path);
    }
  }
  return copied;
}

/**
 * Copy regular files and symlinks of `from` into `to` (a tree), never following a link
 * under `to`: a container's absolute symlink would resolve against the agent's root.
 */
async function copyTree(from: string, to: string, skip: Set<string> = new Set(), rel = ''): Promise<number> {
  let n = 0;
  if (rel === '') await mkdir(to, { recursive: true });
  else {
    const there = await lstat(join(to, rel)).catch(() => undefined);
    if (there?.isSymbolicLink()) throw new Error(`refused to copy into ${posix.join('/', rel)}: it is a symbolic link in the target container`);
  }
  for (const e of await readdir(join(from, rel), { withFileTypes: true }).catch(() => [])) {
    const path = posix.join('/', rel, e.name);
    if (skip.has(path)) continue;
    const src = join(from, rel, e.name);
    const dst = join(to, rel, e.name);
    if (e.isDirectory()) {
      const there = await lstat(dst).catch(() => undefined);
      if (there?.isSymbolicLink()) throw new Error(`refused to copy into ${path}: it is a symbolic link in the target container`);
      if (!there) await mkdir(dst);
      n += await copyTree(from, to, skip, posix.join(rel, e.name));
    } else if (e.isFile()) {
      // Through a link placed by the container, a copy must not land outside it.
      const there = await lstat(dst).catch(() => undefined);
      if (there?.isSymbolicLink()) await rm(dst);
      await copyFile(src, dst);
      n++;
    } else if (e.isSymbolicLink()) {
      await rm(dst, { force: true });
      await symlink(await readlink(src), dst);
      n++;
    }
  }
  return n;
}

function openDir(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
}

// ---------------------------------------------------------------- checkpoint

/** Dump the worker of a real container into `ctx.artifactDir`. */
export async function checkpointContainer(ctx: CheckpointContext, init: number, o: ContainerCriuOptions): Promise<CheckpointResult> {
  const kids = liveChildren(init);
  if (kids.length === 0) {
    throw new Error(
      `the worker is the container's PID 1 (host pid ${init}) and CRIU can restore it only into a new PID namespace; start it under an init, e.g. command: [/bin/worker-init, --, <your command>] (see manifests/samples/cpu-worker-real.yaml)`,
    );
  }
  if (kids.length > 1) throw new Error(`the container's init (host pid ${init}) has ${kids.length} processes under it (host pids ${kids.join(', ')}); the worker must be its only child`);
  const worker = kids[0] as number;
  const nsPid = nsPidOf(readText(`/proc/${worker}/status`) ?? '');
  if (nsPid === undefined) throw new Error(`cannot read the worker's PID in its namespace (host pid ${worker})`);
  const tree = processTree(worker);
  const nsTids = tree.tids.map((t) => nsPidOf(readText(`/proc/${t}/status`) ?? '')).filter((n): n is number => n !== undefined);
  const procs = tree.pids.flatMap((pid) => {
    const n = nsPidOf(readText(`/proc/${pid}/status`) ?? '');
    return n === undefined ? [] : [{ pid, nsPid: n }];
  });
  const stdout = pipeOf(link(`/proc/${worker}/fd/1`));
  const stderr = pipeOf(link(`/proc/${worker}/fd/2`));
  const mountinfo = readText(`/proc/${init}/mountinfo`) ?? '';
  const upper = overlayUpperDir(mountinfo);

  await mkdir(join(ctx.artifactDir, CONTAINER_IMAGES_DIR));
  const logPath = join(ctx.artifactDir, CONTAINER_IMAGES_DIR, 'dump.log');
  const fd = openDir(ctx.artifactDir);
  ctx.log(`${o.name}: dumping pid ${nsPid} of ${ctx.container.namespace}/${ctx.container.podName} (host pid ${worker}, ${tree.pids.length} process(es), ${tree.tids.length} thread(s)) inside the container's namespaces`);
  const started = performance.now();
  let stopped = false;
  let ok = false;
  try {
    await o.phases?.beforeDump?.(tree, ctx);
    const [file, ...pre] = nsenterArgv(o.nsenter, init, [o.criu]);
    await runCriu({ argv: [file as string, ...pre], source: `criu in ${ctx.container.podName}` }, dumpArgs(nsPid, o.verbosity), { logPath, fds: [fd], signal: ctx.signal });
    stopped = true;
    const dumpSeconds = (performance.now() - started) / 1000;
    // Still stopped: the files now match the memory image.
    const copyStarted = performance.now();
    const shm = await copyTree(`/proc/${worker}/root/dev/shm`, join(ctx.artifactDir, SHM_DIR));
    const written = upper ? await copyUpper(join(hostView(init).root, upper), join(ctx.artifactDir, ROOTFS_DIR), mountPoints(mountinfo)) : [];
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const meta: ContainerCriuMeta = { engine: o.name, mode: 'container', nsPid, nsTids, procs, dumpSeconds };
    if (stdout) meta.stdout = stdout;
    if (stderr) meta.stderr = stderr;
    await writeFile(join(ctx.artifactDir, CONTAINER_META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
    ctx.log(
      `${o.name}: dumped pid ${nsPid} in ${dumpSeconds.toFixed(2)} s; copied ${shm} file(s) of /dev/shm and ${written.length} written file(s) in ${copySeconds.toFixed(2)} s while it was stopped` +
        (upper ? '' : ' (the root filesystem is not an overlay: written files not saved)'),
    );
    ok = true;
    return {
      details: { mode: 'container', pid: nsPid, hostPid: worker, processes: tree.pids.length, threads: tree.tids.length, dumpSeconds: round(dumpSeconds), copySeconds: round(copySeconds), shmFiles: shm, writtenFiles: written.length, leftRunning: true },
    };
  } finally {
    closeSync(fd);
    // criu leaves the tree stopped on success (running on failure): continue it.
    if (stopped) for (const t of processTree(worker).tids) signalQuietly(t, 'SIGCONT');
    // Then the wrapping engine gives the running source back what it took (its GPU).
    await o.phases?.afterDump?.(tree, ctx, ok);
  }
}

function signalQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone.
  }
}

// ---------------------------------------------------------------- restore

/** Restore the dumped worker into the placeholder container whose init is host PID `init`. */
export async function restoreContainer(ctx: RestoreContext, init: number, o: ContainerCriuOptions): Promise<RestoreResult> {
  let meta: ContainerCriuMeta;
  try {
    meta = (await readArtifactJson(ctx.artifactDir, CONTAINER_META_FILE)) as ContainerCriuMeta;
  } catch (err) {
    throw new Error(`the artifact has no readable ${CONTAINER_META_FILE} (${(err as Error).message}); it was not written by the criu engine`);
  }
  if (meta.mode !== 'container') throw new Error('the artifact was dumped by the criu engine of the dev cluster\'s process runtime, not from a container; it cannot go into a placeholder pod');
  const images = join(ctx.artifactDir, CONTAINER_IMAGES_DIR);
  const st = await lstat(images).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`${images} is not a directory; the artifact was not written by the ${o.name} engine`);

  // PIDs must be free in the placeholder (no PID namespace of its own for the tree).
  const used = pidsInNamespace(init);
  const taken = meta.nsTids.filter((t) => used.has(t));
  if (taken.length > 0) {
    throw new Error(
      `cannot restore: the worker needs PIDs ${taken.slice(0, 5).join(', ')}${taken.length > 5 ? ` and ${taken.length - 5} more` : ''} and the placeholder already uses them; start the worker under /bin/worker-init (PIDs from 1000) and give the placeholder a reaping init`,
    );
  }

  // The files first: CRIU reopens them by path and checks their size.
  const root = `/proc/${init}/root`;
  const skip = mountPoints(readText(`/proc/${init}/mountinfo`) ?? '');
  const written = await copyTree(join(ctx.artifactDir, ROOTFS_DIR), root, skip);
  const shm = await copyTree(join(ctx.artifactDir, SHM_DIR), join(root, 'dev/shm'));

  const entries = parseProcCgroup(readText(`/proc/${init}/cgroup`) ?? '');
  // The host's cgroup mounts (the agent's own /sys/fs/cgroup shows only its own cgroup).
  const host = hostView(init);
  const { files, unmounted } = cgroupProcsFiles(entries, cgroupMounts(readText(host.mountinfo) ?? ''), host.root);
  if (entries.length === 0) throw new Error(`cannot read the placeholder's cgroups (/proc/${init}/cgroup)`);
  if (unmounted.length > 0) ctx.log(`${o.name}: no mount of cgroup hierarchy ${unmounted.join(', ')} on the host; the restored worker stays in the agent's cgroup there`);

  const work = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-restore-'));
  const logPath = join(work, 'restore.log');
  const fds: number[] = [];
  try {
    fds.push(openDir(ctx.artifactDir), openDir(work));
    // The placeholder's own stdout and stderr (pipes to its containerd shim).
    fds.push(openSync(`/proc/${init}/fd/1`, constants.O_WRONLY), openSync(`/proc/${init}/fd/2`, constants.O_WRONLY));
    const argv = joinCgroupsArgv(files, nsenterArgv(o.nsenter, init, [o.criu]));
    ctx.log(`${o.name}: restoring pid ${meta.nsPid} into ${ctx.placeholder.namespace}/${ctx.placeholder.podName} (placeholder init host pid ${init}; ${written} written file(s), ${shm} of /dev/shm put back)`);
    const started = performance.now();
    const [file, ...pre] = argv;
    await runCriu({ argv: [file as string, ...pre], source: `criu in ${ctx.placeholder.podName}` }, restoreArgs(meta, o.verbosity), { logPath, fds, signal: ctx.signal });
    const restoreSeconds = (performance.now() - started) / 1000;
    if (!pidsInNamespace(init).has(meta.nsPid)) {
      throw new Error(`criu restore reported success but pid ${meta.nsPid} is not running in the placeholder; last lines of the log:\n${(await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-10).join('\n')}`);
    }
    if (o.phases?.afterRestore) await afterRestoreIn(init, meta, ctx, o.phases.afterRestore.bind(o.phases));
    ctx.log(`${o.name}: restored pid ${meta.nsPid} in ${restoreSeconds.toFixed(2)} s; waiting for the placeholder's readiness probe`);
    return { details: { mode: 'container', pid: meta.nsPid, restoreSeconds: round(restoreSeconds), writtenFiles: written, shmFiles: shm } };
  } finally {
    for (const fd of fds) closeSync(fd);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Run a wrapping engine's `afterRestore` on the tree restored into the placeholder (by
 * host PIDs, found through the placeholder's PID namespace); a tree it fails on is
 * killed, since a worker whose GPU state did not come back cannot serve.
 */
async function afterRestoreIn(init: number, meta: ContainerCriuMeta, ctx: RestoreContext, afterRestore: NonNullable<CriuPhases['afterRestore']>): Promise<void> {
  const byNs = hostPidsInNamespace(init);
  const procs = meta.procs ?? [];
  const hostOf = (checkpointPid: number): number | undefined => {
    const p = procs.find((x) => x.pid === checkpointPid);
    return p === undefined ? undefined : byNs.get(p.nsPid);
  };
  const root = byNs.get(meta.nsPid);
  if (root === undefined) throw new Error(`pid ${meta.nsPid} is not running in the placeholder after the restore`);
  const tree: ProcessTree = processTree(root);
  try {
    await afterRestore(tree, ctx, hostOf);
  } catch (err) {
    for (const pid of tree.pids) signalQuietly(pid, 'SIGKILL');
    throw err;
  }
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
