/**
 * The README's commands, as a new user runs them: no `sudo` or `nc` (neither is on this
 * machine's Debian bookworm), and the by-hand CRIU flow shows the original worker's
 * checksum before the checkpoint and the restored worker's after, equal.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { machineSetup } from '../../src/testing/machine.js';
import { tempDir } from '../../src/testing/temp-dir.js';
import { BIN, ROOT } from './harness.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const shellBlocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

const criu = machineSetup().criu.default; // set up by the globalSetup (src/testing/machine.ts)
const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!criu.ok) console.warn(`\n!!! SKIPPING the README's by-hand CRIU flow: ${criu.reason}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('README commands', () => {
  it('use neither sudo nor nc', () => {
    expect(shellBlocks.length).toBeGreaterThan(5);
    const lines = shellBlocks.flatMap((b) => b.split('\n'));
    expect(lines.filter((l) => /(^|[|;&(]\s*)sudo\s/.test(l))).toEqual([]);
    expect(lines.filter((l) => /(^|[|;&(]\s*)nc\s/.test(l))).toEqual([]);
    expect(README).not.toMatch(/`sudo /);
  });

  it.skipIf(!criu.ok || !hasKubectl)('the by-hand CRIU flow prints the original checksum before the checkpoint and the same one from the restored worker', async () => {
    const at = README.indexOf('By hand, as root');
    expect(at).toBeGreaterThan(0);
    const block = /```sh\n([\s\S]*?)```/.exec(README.slice(at))?.[1] ?? '';
    const dir = tempDir('snapshotctl-readme-');
    const port = String(await freePort());
    const manifest = join(dir, 'cpu-worker.yaml');
    const script = block
      .split('\n')
      // CRIU is already set up (the globalSetup ran the same script).
      .filter((l) => !l.startsWith('scripts/setup-criu.sh'))
      .map((l) => l.replaceAll('/tmp/cpu-worker.yaml', manifest).replaceAll('18080', port))
      .map((l) => (l.startsWith('sed ') ? `${l}\nsed -i 's/"18080"/"${port}"/' ${manifest}` : l))
      .join('\n');
    const prelude = `set -euo pipefail\nsnapshotctl() { node ${BIN} "$@"; }\ntrap 'snapshotctl dev down >/dev/null' EXIT\n`;
    const r = await promisify(execFile)('bash', ['-c', prelude + script], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', SNAPSHOTCTL_DEV_DIR: join(dir, 'state'), KUBECONFIG: '' },
      timeout: 120_000,
    });
    const original = /warm-up 1 \(instance ([0-9a-f]{16}), pid \d+\)[\s\S]*warm-up done in [\d.]+ s, checksum ([0-9a-f]{64})/.exec(r.stdout);
    expect(original, r.stdout).not.toBeNull();
    // The original's lines come before the restore's output.
    expect(r.stdout.indexOf(original![0])).toBeLessThan(r.stdout.indexOf('restore_pod='));
    const answer = JSON.parse(r.stdout.trimEnd().split('\n').at(-1) ?? '{}') as { checksum?: string; instance?: string; warmups?: number };
    expect(answer).toMatchObject({ checksum: original![2], instance: original![1], warmups: 1 });
  }, 150_000);
});
