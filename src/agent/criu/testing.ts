/**
 * For tests: make CRIU available the way a user would (scripts/setup-criu.sh builds
 * and caches Debian trixie's CRIU), or say exactly why it cannot run here, so tests
 * skip loudly with that reason instead of failing or passing silently. Called once per test
 * run by the machine set-up step (src/testing/machine.ts), never from a test file.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRIU_ROOT_ENV, locateCriu, setupCriuRoots, type CriuCommand } from './locate.js';
import { probeCriu } from './engine.js';

/** scripts/setup-criu.sh of this checkout. */
export const SETUP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../scripts/setup-criu.sh');

/** `root`: the trixie root it runs from (set it as SNAPSHOTCTL_CRIU_ROOT to use this CRIU). */
export type CriuAvailability = { ok: true; cmd: CriuCommand; version: string; root?: string } | { ok: false; reason: string };

/**
 * Run the setup script (idempotent, cached) when needed, then probe CRIU. Which CRIU:
 * `debian` (trixie's package) or `parallel` (built with our parallel page restore
 * patch, `setup-criu.sh --parallel-restore`), each in its own root; without `build`, the
 * one SNAPSHOTCTL_CRIU / SNAPSHOTCTL_CRIU_ROOT / the default names, set up as Debian's.
 */
export async function ensureCriu(env: NodeJS.ProcessEnv = process.env, build?: 'debian' | 'parallel'): Promise<CriuAvailability> {
  if (process.platform !== 'linux') return { ok: false, reason: `CRIU runs only on Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'CRIU needs root and these tests run as a normal user' };
  const root = build ? setupCriuRoots(env)[build] : env[CRIU_ROOT_ENV];
  if (root) env = { ...env, [CRIU_ROOT_ENV]: root };
  let found = locateCriu(env);
  // Through the script even when a root exists (a no-op when cached): it also
  // refreshes the wrapper and the socket-option shim.
  if (!env['SNAPSHOTCTL_CRIU']) {
    const r = await runSetup(env, build === 'parallel' ? ['--parallel-restore'] : []);
    if (r.code !== 0) {
      const tail = r.stderr.trim().split('\n').slice(-8).join(' | ');
      return { ok: false, reason: `scripts/setup-criu.sh failed (exit ${String(r.code)}): ${tail}` };
    }
    found = locateCriu(env);
  }
  if ('reason' in found) return { ok: false, reason: found.reason };
  const probe = await probeCriu(found);
  if (!probe.ok) return { ok: false, reason: probe.reason ?? 'criu check failed' };
  return { ok: true, cmd: found, version: probe.version ?? '?', ...(root ? { root } : {}) };
}

/** Run the setup script without blocking the event loop (the first run takes a minute or two). */
function runSetup(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SETUP_SCRIPT, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
