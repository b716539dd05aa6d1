/**
 * Short-lived file-tool containers over persistent volumes. A real kubelet mounts a PVC
 * into the container and the image's `cp`, `cat` or `rm` runs on it; the dev cluster has
 * no mounts, so a pod whose container mounts a PVC the cluster backs with a local
 * directory (see `Nodes.setVolumeResolver`) and whose command is one of
 *   `cp SRC DST`, `cat PATH`, `rm -rf [--] PATH...`
 * runs that command here, in-process, with the mount paths translated to the local
 * directory. The CLI's storage scan (`sh -c <script> storage-scan BASE OUT`) runs
 * through this machine's `sh` only when the script is exactly the CLI's
 * (STORAGE_SCAN_SCRIPT; any other `sh -c` runs in the node's normal runtime, never on the
 * host), with BASE translated the same way and OUT, which must be the termination
 * message path, a temporary file that becomes the message; only the mount is emulated. The agents and these tools run as the user who started the cluster
 * (often root), so every path is resolved beneath the volume's directory one component
 * at a time with lstat: a `..` element or a symbolic link anywhere on the way (the
 * `subPath` included) is refused, never followed, and files are opened with
 * O_NOFOLLOW. What a real kubelet does around it is kept: `readOnly` mounts refuse
 * writes, a write to the container's `terminationMessagePath` becomes the termination
 * message, and with `terminationMessagePolicy: FallbackToLogsOnError` a failure's
 * output becomes the message. Any other command runs in the node's normal runtime.
 */
import { constants } from 'node:fs';
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { OneShotContainer, type ContainerLaunch } from './runtime.js';
import { STORAGE_SCAN_SCRIPT } from '../../protocol/storage-scan-script.js';

/** Local directory backing PVC `claimName` in `namespace`, or undefined if none. */
export type VolumeResolver = (namespace: string, claimName: string) => string | undefined;

/** A container mount of a locally backed volume. */
interface LocalMount {
  mountPath: string;
  /** The volume's local directory: nothing outside it is ever touched. */
  root: string;
  /** `subPath` as components beneath `root` (empty: the whole volume). */
  subPath: string[];
  readOnly: boolean;
}

const DEFAULT_TERMINATION_PATH = '/dev/termination-log';

type ToolOp = 'cp' | 'cat' | 'rm' | 'scan';
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
    const subPath = typeof m.subPath === 'string' ? m.subPath.split('/').filter((c: string) => c !== '' && c !== '.') : [];
    mounts.push({ mountPath: posix.normalize(m.mountPath).replace(/\/+$/, '') || '/', root: dir, subPath, readOnly: m.readOnly === true || vol.persistentVolumeClaim.readOnly === true });
  }
  return mounts;
}

/**
 * `parts` beneath `root` without following a symbolic link: each component that exists
 * is checked with lstat and a link is refused (the last one too unless `lastMayBeLink`,
 * for `rm`, which removes a link itself); a `..` is refused outright. The first missing
 * component ends the checks: nothing below it exists to be a link.
 */
async function beneath(root: string, parts: readonly string[], shown: string, lastMayBeLink = false): Promise<string> {
  if (parts.includes('..')) throw new Error(`${shown}: No such file or directory`);
  let local = root;
  for (const [i, part] of parts.entries()) {
    local = join(local, part);
    let link: boolean;
    try {
      link = (await lstat(local)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return join(local, ...parts.slice(i + 1));
      throw err;
    }
    if (link && !(lastMayBeLink && i === parts.length - 1)) throw new Error(`${shown}: symbolic links are not followed on dev cluster volumes`);
  }
  return local;
}

/** Is this a command the file tools run? */
function toolOf(argv: string[]): { op: ToolOp; args: string[] } | undefined {
  const [cmd, ...rest] = argv;
  const base = cmd?.split('/').pop();
  if (base === 'sh' && rest[0] === '-c' && rest.length === 5 && rest[1] === STORAGE_SCAN_SCRIPT) return { op: 'scan', args: rest.slice(1) };
  if (base === 'cp' && rest.length === 2) return { op: 'cp', args: rest };
  if (base === 'cat' && rest.length === 1) return { op: 'cat', args: rest };
  if (base === 'rm') {
    const paths = rest.filter((a) => a !== '--' && !/^-[rRf]+$/.test(a));
    if (paths.length >= 1 && rest.some((a) => /^-[rRf]*[rR][rRf]*$/.test(a))) return { op: 'rm', args: paths };
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
    private readonly tool: { op: ToolOp; args: string[] },
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

  /** `path` in the container → local path beneath its volume, and whether it may be written. */
  private async resolve(path: string, lastMayBeLink = false): Promise<{ local: string; readOnly: boolean; mount: LocalMount }> {
    const p = posix.normalize(path);
    const m = [...this.mounts].sort((a, b) => b.mountPath.length - a.mountPath.length).find((x) => p === x.mountPath || p.startsWith(`${x.mountPath}/`));
    if (!m) throw new Error(`${path}: No such file or directory`);
    const rest = p.slice(m.mountPath.length).split('/').filter((c) => c !== '');
    const local = await beneath(m.root, [...m.subPath, ...rest], path, lastMayBeLink);
    return { local, readOnly: m.readOnly, mount: m };
  }

  private async execute(tool: { op: ToolOp; args: string[] }): Promise<void> {
    if (tool.op === 'scan') return this.scan(tool.args as [string, string, string, string]);
    if (tool.op === 'cat') {
      this.output += (await this.read(tool.args[0]!)).toString('utf8');
      return;
    }
    if (tool.op === 'cp') {
      const [src, dst] = tool.args as [string, string];
      const data = await this.read(src);
      if (posix.normalize(dst) === this.terminationPath) {
        this.terminationMessage = data.toString('utf8').slice(0, MESSAGE_LIMIT);
        return;
      }
      let to = await this.resolve(dst);
      if (to.readOnly) throw new Error(`can't create '${dst}': Read-only file system`);
      // `cp FILE DIR` copies into DIR, as cp does.
      if ((await lstat(to.local).catch(() => undefined))?.isDirectory()) to = await this.resolve(posix.join(dst, posix.basename(src)));
      await this.write(to.local, data, dst);
      return;
    }
    for (const path of tool.args) {
      const target = await this.resolve(path, true);
      if (target.readOnly) throw new Error(`can't remove '${path}': Read-only file system`);
      for (const m of this.mounts) {
        if ((await beneath(m.root, m.subPath, m.mountPath).catch(() => undefined)) === target.local) throw new Error(`refusing to remove the mount point ${path}`);
      }
      // rm never follows links: a link is removed itself, a directory's links are unlinked.
      await rm(target.local, { recursive: true, force: true });
    }
  }

  /** The storage scan script itself, on the volume's local directory (see the file comment). */
  private async scan([, name, base, out]: [string, string, string, string]): Promise<void> {
    if (posix.normalize(out) !== this.terminationPath) throw new Error(`${out}: the listing goes to the termination message path only`);
    const { local } = await this.resolve(base);
    const tmp = await mkdtemp(join(tmpdir(), 'snapshotctl-scan-'));
    try {
      const file = join(tmp, 'out');
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile('sh', ['-c', STORAGE_SCAN_SCRIPT, name, local, file], { maxBuffer: 64 * 1024 * 1024 }, (err, so, se) => {
          if (err) reject(new Error(String(se).trim() || err.message));
          else resolve(String(so));
        });
      });
      this.output += stdout;
      this.terminationMessage = (await readFile(file, 'utf8')).slice(0, MESSAGE_LIMIT);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** The file's bytes, opened with O_NOFOLLOW (a link swapped in after the checks is refused too). */
  private async read(path: string): Promise<Buffer> {
    const { local } = await this.resolve(path);
    try {
      const fh = await open(local, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`can't stat '${path}': No such file or directory`);
      if (code === 'ELOOP') throw new Error(`${path}: symbolic links are not followed on dev cluster volumes`);
      if (code === 'EISDIR') throw new Error(`read error: Is a directory`);
      throw err;
    }
  }

  private async write(local: string, data: Buffer, shown: string): Promise<void> {
    let fh;
    try {
      fh = await open(local, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new Error(`${shown}: symbolic links are not followed on dev cluster volumes`);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`can't create '${shown}': No such file or directory`);
      throw err;
    }
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  }
}
