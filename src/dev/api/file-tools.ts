/**
 * Short-lived file-tool containers over persistent volumes. A real kubelet mounts a PVC
 * into the container and the image's `cp`, `cat` or `rm` runs on it; the dev cluster has
 * no mounts, so a pod whose container mounts a PVC the cluster backs with a local
 * directory (see `Nodes.setVolumeResolver`) and whose command is one of
 *   `cp SRC DST`, `cat PATH`, `rm -rf [--] PATH`
 * runs that command here, in-process, with the mount paths translated to the local
 * directory. What a real kubelet does around it is kept: `readOnly` mounts refuse
 * writes, a write to the container's `terminationMessagePath` becomes the termination
 * message, and with `terminationMessagePolicy: FallbackToLogsOnError` a failure's
 * output becomes the message. Any other command runs in the node's normal runtime.
 */
import { cp, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, posix, relative } from 'node:path';
import { OneShotContainer, type ContainerLaunch } from './runtime.js';

/** Local directory backing PVC `claimName` in `namespace`, or undefined if none. */
export type VolumeResolver = (namespace: string, claimName: string) => string | undefined;

/** A container mount resolved to a local directory. */
interface LocalMount {
  mountPath: string;
  hostDir: string;
  readOnly: boolean;
}

const DEFAULT_TERMINATION_PATH = '/dev/termination-log';
/** The real kubelet's limit per container. */
const MESSAGE_LIMIT = 4096;

/** PVC mounts of `container` in `podSpec` that `resolve` backs locally. */
function localMounts(podSpec: any, container: any, namespace: string, resolve: VolumeResolver): LocalMount[] {
  const mounts: LocalMount[] = [];
  for (const m of container?.volumeMounts ?? []) {
    const vol = (podSpec?.volumes ?? []).find((v: any) => v?.name === m?.name);
    const claim: string | undefined = vol?.persistentVolumeClaim?.claimName;
    if (!claim || typeof m.mountPath !== 'string') continue;
    const dir = resolve(namespace, claim);
    if (dir === undefined) continue;
    const hostDir = typeof m.subPath === 'string' && m.subPath ? join(dir, m.subPath) : dir;
    mounts.push({ mountPath: posix.normalize(m.mountPath).replace(/\/+$/, '') || '/', hostDir, readOnly: m.readOnly === true || vol.persistentVolumeClaim.readOnly === true });
  }
  return mounts;
}

/** Is this a command the file tools run? */
function toolOf(argv: string[]): { op: 'cp' | 'cat' | 'rm'; args: string[] } | undefined {
  const [cmd, ...rest] = argv;
  const base = cmd?.split('/').pop();
  if (base === 'cp' && rest.length === 2) return { op: 'cp', args: rest };
  if (base === 'cat' && rest.length === 1) return { op: 'cat', args: rest };
  if (base === 'rm') {
    const paths = rest.filter((a) => a !== '--' && !/^-[rRf]+$/.test(a));
    if (paths.length === 1 && rest.some((a) => /^-[rRf]*[rR][rRf]*$/.test(a))) return { op: 'rm', args: paths };
  }
  return undefined;
}

/**
 * A file-tool container for this launch, or undefined when the pod should run in the
 * node's normal runtime (no locally backed PVC mount, or another command).
 */
export function fileToolContainer(launch: ContainerLaunch, podSpec: any, resolve: VolumeResolver | undefined): FileToolContainer | undefined {
  if (!resolve) return undefined;
  const container = (podSpec?.containers ?? []).find((c: any) => c?.name === launch.spec.name);
  const mounts = localMounts(podSpec, container, launch.namespace, resolve);
  if (mounts.length === 0) return undefined;
  const tool = toolOf([...(launch.spec.command ?? []), ...(launch.spec.args ?? [])]);
  if (!tool) return undefined;
  return new FileToolContainer(launch, mounts, tool, container?.terminationMessagePath ?? DEFAULT_TERMINATION_PATH, container?.terminationMessagePolicy === 'FallbackToLogsOnError');
}

/** Runs one file tool and ends; see the file comment. */
export class FileToolContainer extends OneShotContainer {
  /** What the container wrote to its termination message path (or its failure output). */
  terminationMessage: string | undefined;
  /** stdout/stderr, as `kubectl logs` would show them. */
  output = '';

  constructor(
    l: ContainerLaunch,
    private readonly mounts: LocalMount[],
    private readonly tool: { op: 'cp' | 'cat' | 'rm'; args: string[] },
    private readonly terminationPath: string,
    private readonly fallbackToLogs: boolean,
  ) {
    super(l);
  }

  protected async work(): Promise<number> {
    try {
      await this.execute(this.tool);
      return 0;
    } catch (err) {
      this.output += `${this.tool.op}: ${(err as Error).message}\n`;
      if (this.fallbackToLogs && this.terminationMessage === undefined) this.terminationMessage = this.output.slice(-MESSAGE_LIMIT);
      return 1;
    }
  }

  /** `path` in the container → local path and whether it may be written. */
  private resolve(path: string): { local: string; readOnly: boolean } {
    const p = posix.normalize(path);
    const m = [...this.mounts].sort((a, b) => b.mountPath.length - a.mountPath.length).find((x) => p === x.mountPath || p.startsWith(`${x.mountPath}/`));
    if (!m) throw new Error(`${path}: No such file or directory`);
    const local = join(m.hostDir, p.slice(m.mountPath.length));
    const rel = relative(m.hostDir, local);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path}: No such file or directory`);
    return { local, readOnly: m.readOnly };
  }

  private async execute(tool: { op: 'cp' | 'cat' | 'rm'; args: string[] }): Promise<void> {
    if (tool.op === 'cat') {
      this.output += await this.read(tool.args[0]!);
      return;
    }
    if (tool.op === 'cp') {
      const [src, dst] = tool.args as [string, string];
      const text = await this.read(src);
      if (posix.normalize(dst) === this.terminationPath) {
        this.terminationMessage = text.slice(0, MESSAGE_LIMIT);
        return;
      }
      const to = this.resolve(dst);
      if (to.readOnly) throw new Error(`can't create '${dst}': Read-only file system`);
      await cp(this.resolve(src).local, to.local);
      return;
    }
    const target = this.resolve(tool.args[0]!);
    if (target.readOnly) throw new Error(`can't remove '${tool.args[0]}': Read-only file system`);
    if (this.mounts.some((m) => this.resolve(m.mountPath).local === target.local)) throw new Error(`refusing to remove the mount point ${tool.args[0]}`);
    await rm(target.local, { recursive: true, force: true });
  }

  private async read(path: string): Promise<string> {
    try {
      return await readFile(this.resolve(path).local, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`can't stat '${path}': No such file or directory`);
      throw err;
    }
  }
}
