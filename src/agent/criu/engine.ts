/**
 * The `criu` engine: a real CRIU (>= 4.1) dump of a container's process tree into the
 * artifact directory, and its restore in place of a placeholder's `sleep infinity`.
 *
 * Checkpoint: `criu dump --leave-running` (the agent then sends SIGUSR1 and the worker
 * exits 0 by itself, so its Job completes; a dump that killed it would fail the Job),
 * with TCP connections dumped (`--tcp-established`) and the container's working
 * directory saved beside the images (the dev runtime's root-filesystem diff).
 *
 * Restore: `criu restore --leave-stopped`, with criu staying as the restored tree's
 * parent (it reaps the worker, so no zombie keeps the PID), the container's working
 * directory and log re-pointed at the placeholder's through `--inherit-fd` (CRIU
 * reopens paths by name, and the source pod's may be gone), then the tree is handed
 * to the runtime as the container's process and continued (SIGCONT); the agent then
 * waits for the readiness probe.
 *
 * Without a PID namespace CRIU restores the original PIDs and thread IDs, so the
 * original worker must have exited; we check that first and name what holds a PID.
 *
 * A `cuda` engine wraps this one through `CriuPhases`: CUDA lock and checkpoint
 * before the dump, CUDA restore and unlock after the restore while the tree is still
 * stopped.
 */
import { constants, existsSync, openSync, closeSync } from 'node:fs';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { readArtifactJson } from '../artifact.js';
import type { CheckpointContext, CheckpointResult, ContainerProcess, ContainerRef, NodeRuntime, RestoreContext, RestoreResult, SnapshotEngine } from '../engine.js';
import { checkpointContainer, restoreContainer, type ContainerCriuOptions } from './container.js';
import { locateCriu, type CriuCommand } from './locate.js';
import { describePid, isAlive, openPaths, processTree, readStat, type ProcessTree } from './proc.js';
import { capture, criuVersion, runCriu } from './run.js';

/** Lowest CRIU version the engine supports. */
export const MIN_CRIU_VERSION = '4.1';
/** Folder of CRIU images inside the artifact directory. */
export const IMAGES_DIR = 'criu';
/** What the engine records about a dump, beside the images. */
export const META_FILE = 'criu.json';
/** The container's working directory as it was at the dump. */
export const WORKDIR_DIR = 'workdir';
/** criu's dump log, inside the images folder (kept in the artifact). */
export const DUMP_LOG = 'dump.log';

/** Hooks for an engine that wraps this one (CUDA). All run with the tree known. */
export interface CriuPhases {
  /** Before `criu dump` (CUDA lock and checkpoint). */
  beforeDump?(tree: ProcessTree, ctx: CheckpointContext): Promise<void>;
  /** After `criu dump`, whether it worked or not (e.g. CUDA restore and unlock if the worker keeps running). */
  afterDump?(tree: ProcessTree, ctx: CheckpointContext, ok: boolean): Promise<void>;
  /**
   * After `criu restore`, before the worker is handed over (CUDA restore and unlock).
   * `pidOf` maps a PID of the checkpointed tree (as `beforeDump` saw it) to the restored
   * process's PID as the agent sees it: the same PID in the dev cluster's process
   * runtime, another host PID in a placeholder container.
   */
  afterRestore?(tree: ProcessTree, ctx: RestoreContext, pidOf: (checkpointPid: number) => number | undefined): Promise<void>;
}

export interface CriuEngineOptions {
  /** The node's container runtime (the dev cluster's kubelet); needed to restore. */
  runtime?: NodeRuntime;
  /** How to run criu; default `locateCriu()`. */
  criu?: CriuCommand;
  /** Environment for `locateCriu` and for criu itself (default ours). */
  env?: NodeJS.ProcessEnv;
  phases?: CriuPhases;
  /** Engine name (a wrapping engine passes its own). */
  name?: string;
  /** criu log verbosity, 0-4 (default 4: the log is kept and quoted on failure). */
  verbosity?: number;
  /**
   * On a real node (a runtime with `containerInit`): criu as the containers resolve it
   * (default `criu`, on the image's PATH) and nsenter in the agent.
   */
  container?: Partial<Pick<ContainerCriuOptions, 'criu' | 'nsenter'>>;
}

/** `criu.json`: the facts a restore needs that are not in CRIU's images. */
export interface CriuMeta {
  engine: string;
  criuVersion: string;
  root: number;
  pids: number[];
  tids: number[];
  shellJob: boolean;
  /** Source container's working directory and log (paths remapped on restore). */
  workDir?: string;
  logPath?: string;
  /** Paths the tree had open (cwd included) under the working directory or the log. */
  remap: Array<{ path: string; flags: number; directory: boolean }>;
  dumpSeconds: number;
}

const probes = new Map<string, Promise<{ ok: boolean; reason?: string; version?: string }>>();

function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Does CRIU work here? Runs `criu --version` and `criu check` (cached per command). */
export function probeCriu(cmd: CriuCommand): Promise<{ ok: boolean; reason?: string; version?: string }> {
  const key = cmd.argv.join(' ');
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      if (process.getuid?.() !== 0) return { ok: false, reason: 'CRIU needs root (CAP_SYS_ADMIN and ptrace of any process); run as root' };
      let version: string;
      try {
        version = await criuVersion(cmd);
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
      if (!versionAtLeast(version, MIN_CRIU_VERSION)) {
        return { ok: false, reason: `CRIU ${version} from ${cmd.source} is older than ${MIN_CRIU_VERSION}; run scripts/setup-criu.sh for Debian trixie's CRIU` };
      }
      const check = await capture(cmd, ['check']);
      if (check.code !== 0) {
        const lines = check.out.split('\n').filter((l) => l.trim() && !/kdat cache/.test(l)).slice(-10);
        return { ok: false, reason: `\`criu check\` failed (CRIU ${version} from ${cmd.source}): ${lines.join(' | ')}` };
      }
      return { ok: true, version };
    })();
    probes.set(key, p);
  }
  return p;
}

/** The first `bin` on PATH (or `bin` itself when it is a path that exists). */
function onPath(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  if (bin.includes('/')) return existsSync(bin) ? bin : undefined;
  return (env['PATH'] ?? '').split(':').map((d) => (d === '' ? '' : join(d, bin))).find((p) => p !== '' && existsSync(p));
}

function pathUnder(path: string, dir: string | undefined): boolean {
  if (!dir) return false;
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** What is at `path` itself, without following a link. */
async function artifactEntry(path: string): Promise<'missing' | 'directory' | 'symlink' | 'other'> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 'missing';
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'other';
}

function describeEntry(kind: 'missing' | 'directory' | 'symlink' | 'other'): string {
  return kind === 'symlink' ? 'a symbolic link' : kind === 'missing' ? 'missing' : kind === 'directory' ? 'a directory' : 'not a directory';
}

/** Total size of the files under `dir`. */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

/** Access-mode bits of open flags (not in node:fs constants). */
const O_ACCMODE = 3;

/** Create the `criu` engine. */
export function createCriuEngine(opts: CriuEngineOptions = {}): SnapshotEngine {
  const name = opts.name ?? 'criu';
  const verbosity = String(opts.verbosity ?? 4);
  const criuEnv = opts.env ? { env: opts.env } : {};
  const command = (): CriuCommand => {
    if (opts.criu) return opts.criu;
    const found = locateCriu(opts.env);
    if ('reason' in found) throw new Error(found.reason);
    return found;
  };
  const inspect = (ref: ContainerRef): ContainerProcess | undefined => {
    const seen = opts.runtime?.inspect(ref);
    if (seen) return seen;
    return ref.pid !== undefined ? { pid: ref.pid } : undefined;
  };

  const runtime = opts.runtime;
  if (runtime?.containerInit) {
    const containerInit = runtime.containerInit.bind(runtime);
    const co: ContainerCriuOptions = {
      name,
      criu: opts.container?.criu ?? 'criu',
      // By path: the busybox sh that joins the cgroups would run its own nsenter applet.
      nsenter: onPath(opts.container?.nsenter ?? 'nsenter', opts.env ?? process.env) ?? 'nsenter',
      verbosity,
    };
    if (opts.phases) co.phases = opts.phases;
    const initOf = async (ref: ContainerRef, what: string): Promise<number> => {
      const pid = await containerInit(ref);
      if (pid === undefined) throw new Error(`the ${what} container of pod ${ref.namespace}/${ref.podName} has no running task in containerd`);
      return pid;
    };
    return {
      name,
      simulated: false,
      async probe() {
        if (process.getuid?.() !== 0) return { ok: false, reason: 'CRIU needs root (CAP_SYS_ADMIN and ptrace of any process); run the agent privileged' };
        if (onPath(co.nsenter, opts.env ?? process.env) === undefined) return { ok: false, reason: `${co.nsenter} is not on PATH; the criu engine runs criu inside containers through it` };
        return { ok: true };
      },
      async checkpoint(ctx) {
        return checkpointContainer(ctx, await initOf(ctx.container, 'worker'), co);
      },
      async restore(ctx) {
        return restoreContainer(ctx, await initOf(ctx.placeholder, 'placeholder'), co);
      },
    };
  }

  return {
    name,
    simulated: false,
    async probe() {
      let cmd: CriuCommand;
      try {
        cmd = command();
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
      const p = await probeCriu(cmd);
      return p.ok ? { ok: true } : { ok: false, reason: p.reason ?? 'criu does not work here' };
    },

    async checkpoint(ctx: CheckpointContext): Promise<CheckpointResult> {
      const cmd = command();
      const version = (await probeCriu(cmd)).version ?? (await criuVersion(cmd));
      const proc = inspect(ctx.container);
      if (!proc) throw new Error(`no process for container ${ctx.container.containerName} of pod ${ctx.container.namespace}/${ctx.container.podName} on this node`);
      if (!isAlive(proc.pid)) throw new Error(`the worker (pid ${proc.pid}) is not running`);
      const tree = processTree(proc.pid);
      const st = readStat(proc.pid);
      // CRIU dumps a session or process group only with its leader inside the tree;
      // otherwise (or with a terminal) it needs --shell-job and restores into ours.
      const shellJob = st !== undefined && (st.session !== proc.pid || st.pgrp !== proc.pid || st.ttyNr !== 0);
      const remap = openPaths(tree.pids)
        .filter((f) => pathUnder(f.path, proc.workDir) || (proc.logPath !== undefined && f.path === proc.logPath))
        .map((f) => ({ path: f.path, flags: f.flags, directory: f.fd === 'cwd' }));
      const unique = [...new Map(remap.map((r) => [r.path, r])).values()];

      const images = join(ctx.artifactDir, IMAGES_DIR);
      await mkdir(images);
      const logPath = join(images, DUMP_LOG);
      // Open connections are dumped too; CRIU locks them with nftables (libnftables is
      // linked into criu; the iptables default would need the iptables binary).
      const args = ['dump', '-t', String(proc.pid), '-D', images, '-o', DUMP_LOG, `-v${verbosity}`, '--leave-running', '--tcp-established', '--network-lock', 'nftables'];
      if (shellJob) args.push('--shell-job');
      ctx.log(`${name}: dumping pid ${proc.pid} (${tree.pids.length} process(es), ${tree.tids.length} thread(s)) with CRIU ${version}`);
      await opts.phases?.beforeDump?.(tree, ctx);
      const started = performance.now();
      let ok = false;
      try {
        await runCriu(cmd, args, { logPath, signal: ctx.signal, ...criuEnv });
        ok = true;
      } finally {
        await opts.phases?.afterDump?.(tree, ctx, ok);
      }
      const dumpSeconds = (performance.now() - started) / 1000;
      const imageBytes = await sizeOf(images);
      if (proc.workDir) await cp(proc.workDir, join(ctx.artifactDir, WORKDIR_DIR), { recursive: true, verbatimSymlinks: true });
      const meta: CriuMeta = { engine: name, criuVersion: version, root: proc.pid, pids: tree.pids, tids: tree.tids, shellJob, remap: unique, dumpSeconds };
      if (proc.workDir) meta.workDir = proc.workDir;
      if (proc.logPath) meta.logPath = proc.logPath;
      await writeFile(join(ctx.artifactDir, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
      ctx.log(`${name}: dumped pid ${proc.pid} in ${dumpSeconds.toFixed(2)} s, ${imageBytes} bytes of images`);
      return {
        bytes: await sizeOf(ctx.artifactDir),
        details: { criuVersion: version, images: IMAGES_DIR, log: `${IMAGES_DIR}/${DUMP_LOG}`, pid: proc.pid, processes: tree.pids.length, threads: tree.tids.length, imageBytes, dumpSeconds: round(dumpSeconds), leftRunning: true },
      };
    },

    async restore(ctx: RestoreContext): Promise<RestoreResult> {
      const cmd = command();
      let meta: CriuMeta;
      try {
        meta = (await readArtifactJson(ctx.artifactDir, META_FILE)) as CriuMeta;
      } catch (err) {
        throw new Error(`the artifact has no readable ${META_FILE} (${(err as Error).message}); it was not written by the criu engine`);
      }
      if (!opts.runtime) throw new Error(`the ${name} engine restores only through the node's container runtime (the dev cluster's process runtime)`);
      const target = opts.runtime.inspect(ctx.placeholder);
      if (!target) throw new Error(`the placeholder ${ctx.placeholder.namespace}/${ctx.placeholder.podName} has no running process on this node`);

      // Same PIDs as at the dump, so each must be free (a zombie counts as taken).
      const taken = meta.tids.map((t) => describePid(t)).filter((d): d is string => d !== undefined);
      if (taken.length > 0) {
        const original = isAlive(meta.root) ? ` (pid ${meta.root} is alive: has the checkpointed worker exited?)` : '';
        throw new Error(
          `cannot restore: CRIU restores the original PIDs (there is no PID namespace here) and ${taken.slice(0, 5).join(', ')}${taken.length > 5 ? ` and ${taken.length - 5} more` : ''} ${taken.length === 1 ? 'is' : 'are'} in use${original}`,
        );
      }

      // The root-filesystem diff: the source's working directory into the placeholder's.
      // Neither it nor the images may be a link out of the artifact (criu runs as root).
      const savedWorkDir = join(ctx.artifactDir, WORKDIR_DIR);
      const imagesDir = join(ctx.artifactDir, IMAGES_DIR);
      if ((await artifactEntry(imagesDir)) !== 'directory') throw new Error(`${imagesDir} is ${describeEntry(await artifactEntry(imagesDir))}; the artifact was not written by the ${name} engine`);
      const saved = await artifactEntry(savedWorkDir);
      if (saved !== 'missing' && saved !== 'directory') throw new Error(`${savedWorkDir} is ${describeEntry(saved)}; not restoring from it`);
      if (target.workDir && saved === 'directory') {
        await cp(savedWorkDir, target.workDir, { recursive: true, force: true, verbatimSymlinks: true });
      }

      // Paths under the source's working directory (cwd included) and its log are
      // given to CRIU as already open files pointing at the placeholder's.
      const fds: number[] = [];
      const inherit: string[] = [];
      const workDir = await mkdtemp(join(tmpdir(), 'snapshotctl-criu-restore-'));
      const pidFile = join(workDir, 'restored.pid');
      const logPath = join(workDir, 'restore.log');
      let restoredPid: number | undefined;
      let criuRun: Awaited<ReturnType<typeof runCriu>> | undefined;
      try {
        for (const r of meta.remap) {
          let to: string | undefined;
          if (meta.logPath !== undefined && r.path === meta.logPath) to = target.logPath;
          else if (meta.workDir !== undefined && target.workDir !== undefined && pathUnder(r.path, meta.workDir)) to = join(target.workDir, relative(meta.workDir, r.path));
          if (to === undefined) continue;
          const flags = r.directory ? constants.O_RDONLY | constants.O_DIRECTORY : (r.flags & (O_ACCMODE | constants.O_APPEND)) | constants.O_CREAT;
          fds.push(openSync(to, flags, 0o644));
          inherit.push('--inherit-fd', `fd[${fds.length + 2}]:${r.path.replace(/^\//, '')}`);
        }
        const args = ['restore', '-D', imagesDir, '-W', workDir, '-o', 'restore.log', `-v${verbosity}`, '--pidfile', pidFile, '--leave-stopped', '--tcp-close', '--network-lock', 'nftables', ...inherit];
        if (meta.shellJob) args.push('--shell-job');
        ctx.log(`${name}: restoring pid ${meta.root} into ${ctx.placeholder.namespace}/${ctx.placeholder.podName}`);
        const started = performance.now();
        // criu stays as the parent of the restored tree (no --restore-detached): it reaps
        // the worker when it exits, and its own exit tells the runtime the container ended.
        criuRun = await runCriu(cmd, args, {
          logPath,
          fds,
          signal: ctx.signal,
          ...criuEnv,
          until: async () => /Restore finished successfully/.test(await readFile(logPath, 'utf8').catch(() => '')),
        });
        const restoreSeconds = (performance.now() - started) / 1000;
        const reads = pageReads(await readFile(logPath, 'utf8').catch(() => ''));
        restoredPid = Number((await readFile(pidFile, 'utf8')).trim());
        if (restoredPid !== meta.root) throw new Error(`criu restored pid ${restoredPid}, expected ${meta.root}`);
        opts.runtime.adopt(ctx.placeholder, restoredPid, criuRun.exited);
        const tree = { root: meta.root, pids: meta.pids, tids: meta.tids };
        await opts.phases?.afterRestore?.(tree, ctx, (pid) => (meta.pids.includes(pid) ? pid : undefined));
        for (const pid of meta.pids) process.kill(pid, 'SIGCONT');
        const how = reads ? `; ${reads.bytes} bytes of pages read with ${reads.threads} thread(s)` : '';
        ctx.log(`${name}: restored pid ${restoredPid} in ${restoreSeconds.toFixed(2)} s${how}; waiting for the readiness probe`);
        if (reads && reads.helpersNotStarted > 0) {
          ctx.log(
            `${name}: CRIU could not start a page-reading helper (${reads.helpersNotStarted} time(s); a PID limit on the pod or node?), so it read with fewer threads than it was given`,
          );
        }
        const details: Record<string, string | number | boolean> = { pid: restoredPid, restoreSeconds: round(restoreSeconds), criuVersion: meta.criuVersion };
        if (reads) Object.assign(details, { pageReadThreads: reads.threads, pageReadBytes: reads.bytes, pageReadHelpersNotStarted: reads.helpersNotStarted });
        return { details };
      } catch (err) {
        // A tree restored but not handed over must not linger stopped.
        if (restoredPid === undefined) {
          const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
          if (pid > 0) restoredPid = pid;
        }
        if (restoredPid !== undefined && restoredPid > 0) {
          for (const pid of meta.pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // Gone.
            }
          }
        }
        throw err;
      } finally {
        for (const fd of fds) closeSync(fd);
        // A criu that stays as the restored tree's parent keeps its cgroup yard (a mount
        // under the work dir, when the tree lives in a cgroup) until it exits.
        if (criuRun && (await mountedUnder(workDir))) {
          const clean = () => removeWorkDir(workDir);
          void criuRun.exited.then(clean, clean);
        } else {
          await removeWorkDir(workDir);
        }
      }
    },
  };
}

/**
 * Remove criu's work directory, unless something is still mounted under it (a criu that
 * died before unmounting its cgroup yard): a recursive delete must never walk into a
 * cgroup hierarchy.
 */
async function removeWorkDir(dir: string): Promise<void> {
  if (await mountedUnder(dir)) return;
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

async function mountedUnder(dir: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mounts.split('\n').some((l) => pathUnder(l.split(' ')[4] ?? '', dir));
}

/**
 * What the parallel page restore patch (scripts/criu-parallel-restore.patch) logged: one
 * line per restored process that it read in parallel, and a warning for each helper it
 * could not start (a PID limit, say; it then goes on with fewer threads). Undefined for
 * a CRIU without the patch, or when every process was small enough for the one-thread
 * loop.
 */
export function pageReads(log: string): { threads: number; bytes: number; helpersNotStarted: number } | undefined {
  let threads = 0;
  let bytes = 0;
  for (const m of log.matchAll(/Read (\d+) bytes of pages in \d+ chunks with (\d+) threads/g)) {
    bytes += Number(m[1]);
    threads = Math.max(threads, Number(m[2]));
  }
  const helpersNotStarted = [...log.matchAll(/Can't start a page-reading helper/g)].length;
  return threads > 0 ? { threads, bytes, helpersNotStarted } : undefined;
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
