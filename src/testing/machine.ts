/**
 * The tests' one machine set-up step, a vitest globalSetup (vitest.config.ts): before
 * any test file loads, it makes real CRIU and a kubectl available the way a user would,
 * once per run, and hands each test file the outcome through vitest's `provide`/`inject`:
 * the working command, or the reason there is none. Test files read it with
 * `machineSetup()` and skip, loudly and with that reason, where something cannot be had;
 * they never install or build anything themselves. A single file run with vitest goes
 * through the same step (globalSetup runs for every run of this config).
 *
 * - CRIU: `scripts/setup-criu.sh` (through `ensureCriu`), for Debian trixie's CRIU and for
 *   ours with `--parallel-restore`, each in its own root under the cache directory; then
 *   the default one (`SNAPSHOTCTL_CRIU` / `SNAPSHOTCTL_CRIU_ROOT` / the default root).
 *   Needs root on Linux, and Debian's archive the first time; a cached root costs a check.
 * - kubectl, for the dev API server's fidelity tests: `$KUBECTL`; else a Debian kubectl
 *   unpacked by an earlier run; else a `kubectl` on PATH of 1.20 or newer (no download when
 *   one is installed); else Debian's `kubernetes-client`, installed with apt when no
 *   kubectl is on PATH, or else downloaded and unpacked under
 *   `${XDG_CACHE_HOME:-~/.cache}/snapshotctl/kubectl-deb` (the .deb removed); else an
 *   older kubectl on PATH as it is.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import { CRIU_ENV, CRIU_ROOT_ENV } from '../agent/criu/locate.js';
import { ensureCriu, type CriuAvailability } from '../agent/criu/testing.js';

/** A kubectl to run (`bin`: a path, or `kubectl` from PATH), or why there is none. */
export type KubectlAvailability = { ok: true; bin: string; source: string } | { ok: false; reason: string };

/** What the set-up step found. Plain data: it crosses from vitest's main process to the test workers. */
export interface MachineSetup {
  criu: {
    /** Debian trixie's CRIU (`scripts/setup-criu.sh`). */
    debian: CriuAvailability;
    /** CRIU with our parallel page restore patch (`scripts/setup-criu.sh --parallel-restore`). */
    parallel: CriuAvailability;
    /** The one the environment names, else the default root (the patched one when it was built). */
    default: CriuAvailability;
  };
  kubectl: KubectlAvailability;
}

declare module 'vitest' {
  interface ProvidedContext {
    machineSetup: MachineSetup;
  }
}

/** The set-up step's result, in a test file. Throws when the run did not go through the step. */
export function machineSetup(): MachineSetup {
  const found = inject('machineSetup') as MachineSetup | undefined;
  if (!found) throw new Error('no machine set-up result: run the tests with vitest.config.ts, whose globalSetup src/testing/machine.ts prepares CRIU and kubectl');
  return found;
}

const KUBECTL_CACHE_PARTS = ['snapshotctl', 'kubectl-deb'];
/** The oldest kubectl taken from PATH (the real lane's cluster is v1.20). */
const MIN_KUBECTL_MINOR = 20;

function run(bin: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { encoding: 'utf8', timeout: opts.timeout ?? 60_000, maxBuffer: 16 << 20, ...(opts.cwd ? { cwd: opts.cwd } : {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err ? err.message : '') });
    });
  });
}

async function runs(bin: string): Promise<boolean> {
  return (await run(bin, ['version', '--client'], { timeout: 20_000 })).code === 0;
}

/** True when `bin` runs and is kubectl 1.20 or newer (`minor` may read "32+"). */
export async function isUsableKubectl(bin: string): Promise<boolean> {
  const r = await run(bin, ['version', '--client', '-o', 'json'], { timeout: 20_000 });
  if (r.code !== 0) return false;
  try {
    const v = (JSON.parse(r.stdout) as { clientVersion?: { major?: string; minor?: string } }).clientVersion;
    return v?.major === '1' && Number.parseInt(v.minor ?? '', 10) >= MIN_KUBECTL_MINOR;
  } catch {
    return false;
  }
}

/** Find a kubectl, or install Debian's (see the file's comment for the order). */
export async function findKubectl(env: NodeJS.ProcessEnv = process.env): Promise<KubectlAvailability> {
  const explicit = env['KUBECTL'];
  if (explicit) {
    return (await runs(explicit)) ? { ok: true, bin: explicit, source: `$KUBECTL=${explicit}` } : { ok: false, reason: `$KUBECTL=${explicit} does not run` };
  }
  const cache = join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), ...KUBECTL_CACHE_PARTS);
  const cached = join(cache, 'usr/bin/kubectl');
  // Ours first, then the places older runs unpacked it to.
  for (const p of [cached, '/opt/kubectl-1.20/usr/bin/kubectl', join(tmpdir(), 'snapshotctl-kubectl-deb/usr/bin/kubectl')]) {
    if (existsSync(p) && (await runs(p))) return { ok: true, bin: p, source: `Debian's kubectl unpacked earlier (${p})` };
  }
  if (await isUsableKubectl('kubectl')) return { ok: true, bin: 'kubectl', source: 'kubectl on PATH' };
  const onPath = await runs('kubectl');
  const errors: string[] = [];
  const tail = (r: { stderr: string }) => r.stderr.trim().split('\n').slice(-3).join(' | ');
  if (!onPath) {
    const update = await run('apt-get', ['update'], { timeout: 300_000 });
    const install = await run('apt-get', ['install', '-y', 'kubernetes-client'], { timeout: 300_000 });
    if (install.code === 0 && (await runs('kubectl'))) return { ok: true, bin: 'kubectl', source: "Debian's kubernetes-client, installed with apt-get" };
    errors.push(`apt-get install kubernetes-client: exit ${String(install.code)}: ${tail(install)}${update.code === 0 ? '' : ` (apt-get update: exit ${String(update.code)})`}`);
  }
  // No kubectl, or one too old to use occupies /usr/bin/kubectl: unpack Debian's in the cache.
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, 'download-'));
  try {
    const download = await run('apt-get', ['download', 'kubernetes-client'], { cwd: dir, timeout: 300_000 });
    const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'));
    if (download.code !== 0 || !deb) errors.push(`apt-get download kubernetes-client: exit ${String(download.code)}: ${tail(download)}`);
    else {
      const unpack = await run('dpkg-deb', ['-x', join(dir, deb), cache]);
      if (unpack.code === 0 && (await runs(cached))) return { ok: true, bin: cached, source: `Debian's kubectl, downloaded and unpacked (${cached})` };
      errors.push(`dpkg-deb -x ${deb}: exit ${String(unpack.code)}: ${tail(unpack)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (onPath) return { ok: true, bin: 'kubectl', source: 'kubectl on PATH (older than 1.20: no newer one could be had)' };
  return { ok: false, reason: `no kubectl on PATH and installing Debian's kubernetes-client failed: ${errors.join('; ')}` };
}

/** Prepare CRIU (both builds) and kubectl; never throws: what cannot be had says why. */
export async function prepareMachine(env: NodeJS.ProcessEnv = process.env): Promise<MachineSetup> {
  // The two CRIU roots are separate (each with its own lock), so they build side by side.
  const [debian, parallel, kubectl] = await Promise.all([ensureCriu(env, 'debian'), ensureCriu(env, 'parallel'), findKubectl(env)]);
  // After both: the default root is the patched one once it exists. Unless the environment
  // names a CRIU, the default goes through Debian's set-up again (cached by now); when that
  // just failed, it fails the same way, so it is not run a second time.
  const named = Boolean(env[CRIU_ENV] || env[CRIU_ROOT_ENV]);
  const dflt = !named && !debian.ok ? debian : await ensureCriu(env);
  return { criu: { debian, parallel, default: dflt }, kubectl };
}

function describeCriu(c: CriuAvailability): string {
  return c.ok ? `CRIU ${c.version} (${c.cmd.source})` : `unavailable: ${c.reason}`;
}

/** The globalSetup: prepare once, say what was found, hand it to the test files. */
export default async function prepareForTests(project: TestProject): Promise<void> {
  const t0 = Date.now();
  const found = await prepareMachine(process.env);
  const lines = [
    `criu (Debian's): ${describeCriu(found.criu.debian)}`,
    `criu (parallel restore): ${describeCriu(found.criu.parallel)}`,
    `criu (default): ${describeCriu(found.criu.default)}`,
    `kubectl: ${found.kubectl.ok ? `${found.kubectl.bin} (${found.kubectl.source})` : `unavailable: ${found.kubectl.reason}`}`,
  ];
  console.log(`machine set-up (src/testing/machine.ts, ${((Date.now() - t0) / 1000).toFixed(1)} s):\n${lines.map((l) => `  ${l}`).join('\n')}`);
  project.provide('machineSetup', found);
}
