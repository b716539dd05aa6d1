/**
 * Where CRIU is. In order: `SNAPSHOTCTL_CRIU` (a criu binary or a wrapper script),
 * the trixie root that `scripts/setup-criu.sh` builds (`SNAPSHOTCTL_CRIU_ROOT`, default
 * `~/.cache/snapshotctl/criu-trixie-parallel` when `setup-criu.sh --parallel-restore`
 * made it, else `~/.cache/snapshotctl/criu-trixie`), run through that root's own loader
 * and libraries, then `criu` on PATH.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Env var naming a criu binary or wrapper to use as is. */
export const CRIU_ENV = 'SNAPSHOTCTL_CRIU';
/** Env var naming the root that holds trixie's criu (or a bundle copied from one). */
export const CRIU_ROOT_ENV = 'SNAPSHOTCTL_CRIU_ROOT';

/** Files of a criu root, relative to it (the layout `setup-criu.sh --bundle` copies). */
export const ROOT_LOADER = 'lib64/ld-linux-x86-64.so.2';
export const ROOT_CRIU = 'usr/sbin/criu';
export const ROOT_LIB_DIRS = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'];
/** Preloaded shim for kernels >= 6.16 (see scripts/criu-sockopt-compat.c). */
export const ROOT_SOCKOPT_SHIM = 'snapshotctl/sockopt-compat.so';
/** Launcher that refuses io_uring as the block-iouring seccomp profile does (scripts/no-io-uring.c). */
export const ROOT_NO_IO_URING = 'snapshotctl/no-io-uring';

/** How to run criu: `argv` comes before criu's own arguments. */
export interface CriuCommand {
  argv: [string, ...string[]];
  /** Where it came from, for messages. */
  source: string;
}

/** Marker that `setup-criu.sh --parallel-restore` leaves in a root (the patch's sha256). */
export const ROOT_PARALLEL_MARKER = 'snapshotctl/parallel-restore.sha256';

/** Roots that `setup-criu.sh` makes: with `--parallel-restore`, and with Debian's CRIU alone. */
export function setupCriuRoots(env: NodeJS.ProcessEnv = process.env): { parallel: string; debian: string } {
  const cache = join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'snapshotctl');
  return { parallel: join(cache, 'criu-trixie-parallel'), debian: join(cache, 'criu-trixie') };
}

function hasCriu(root: string): boolean {
  return existsSync(join(root, ROOT_CRIU)) && existsSync(join(root, ROOT_LOADER));
}

/**
 * Default root: the one with the parallel page restore patch when it was built
 * (`setup-criu.sh --parallel-restore`), else Debian's (`setup-criu.sh`).
 */
export function defaultCriuRoot(env: NodeJS.ProcessEnv = process.env): string {
  const roots = setupCriuRoots(env);
  return hasCriu(roots.parallel) ? roots.parallel : roots.debian;
}

/** Does this root's criu carry the parallel page restore patch? */
export function hasParallelRestore(root: string): boolean {
  return existsSync(join(root, ROOT_PARALLEL_MARKER));
}

/** The command line that runs criu from a root with its own loader and libraries. */
export function rootCommand(root: string): CriuCommand {
  const argv: [string, ...string[]] = [join(root, ROOT_LOADER), '--library-path', ROOT_LIB_DIRS.map((d) => join(root, d)).join(':')];
  const shim = join(root, ROOT_SOCKOPT_SHIM);
  if (existsSync(shim)) argv.push('--preload', shim);
  argv.push(join(root, ROOT_CRIU));
  return { argv, source: `${root} (${hasParallelRestore(root) ? 'trixie root, parallel page restore' : 'trixie root'})` };
}

/** The no-io-uring launcher built by scripts/setup-criu.sh, when there is one. */
export function locateNoIoUring(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = join(env[CRIU_ROOT_ENV] || defaultCriuRoot(env), ROOT_NO_IO_URING);
  return existsSync(path) ? path : undefined;
}

/** Find criu, or say how to get it. */
export function locateCriu(env: NodeJS.ProcessEnv = process.env): CriuCommand | { reason: string } {
  const explicit = env[CRIU_ENV];
  if (explicit) {
    return existsSync(explicit) ? { argv: [explicit], source: `${CRIU_ENV}=${explicit}` } : { reason: `${CRIU_ENV}=${explicit} does not exist` };
  }
  const root = env[CRIU_ROOT_ENV] || defaultCriuRoot(env);
  if (hasCriu(root)) return rootCommand(root);
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'criu'))) return { argv: [join(dir, 'criu')], source: join(dir, 'criu') };
  }
  const how = env[CRIU_ROOT_ENV] ? `${CRIU_ROOT_ENV}=${root} holds no ${ROOT_CRIU}` : `no criu at ${root} or on PATH`;
  return { reason: `${how}; run scripts/setup-criu.sh (as root) to install Debian trixie's CRIU there, or set ${CRIU_ENV}` };
}
