/**
 * `snapshotctl dev up|status|down` through the built binary: a background cluster
 * that real commands use, and nothing left behind after `down`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/commands/dev.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/snapshotctl.js');

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true', ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** GET `url` trusting `ca`; status and body. */
function httpsGet(url: string, ca: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (t: string) => (body += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('dev up / status / down', () => {
  let base: string;
  let stateDir: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'snapshotctl-devtest-'));
    stateDir = join(base, 'dev');
  });
  afterAll(async () => {
    await cli(['dev', 'down', '--state-dir', stateDir]);
    await rm(base, { recursive: true, force: true });
  });

  it('starts a background cluster that the CLI and kubeconfig work against, then removes everything', async () => {
    const up = await cli(['dev', 'up', '--state-dir', stateDir, '--nodes', '2']);
    expect(up.code).toBe(0);
    const kubeconfig = join(stateDir, 'kubeconfig');
    expect(up.stdout).toBe(`kubeconfig=${kubeconfig}\nexport KUBECONFIG=${kubeconfig}\n`);
    expect(up.stderr).toMatch(/dev cluster started at https:\/\/127\.0\.0\.1:\d+ \(pid \d+, 2 nodes, 2 with an agent\)/);
    expect(up.stderr).toMatch(/engine sim \(SIMULATED/);

    const again = await cli(['dev', 'up', '--state-dir', stateDir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already running/);

    const status = await cli(['dev', 'status', '--state-dir', stateDir, '-o', 'json']);
    // Exit code not asserted: other test files' in-process clusters may hold temp dirs right now.
    const s = JSON.parse(status.stdout) as { status: string; reachable: boolean; state: { pid: number; url: string } };
    expect(s.status).toBe('running');
    expect(s.reachable).toBe(true);
    const pid = s.state.pid;
    expect(isAlive(pid)).toBe(true);

    // The kubeconfig carries the token and the CA; without the token nothing is served.
    const kc = parse(await readFile(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }> };
    const { server, 'certificate-authority-data': ca } = kc.clusters[0]!.cluster;
    expect(server).toBe(s.state.url);
    for (const headers of [{}, { Authorization: 'Bearer not-the-token' }]) {
      const anon = await httpsGet(`${server}/api/v1/namespaces/default/pods`, Buffer.from(ca, 'base64').toString(), headers);
      expect(anon.status).toBe(401);
      expect(JSON.parse(anon.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }

    const ck = await cli(['checkpoint', '--manifest', 'manifests/samples/worker.yaml', '--checkpoint-id', 'devtest-1'], { KUBECONFIG: kubeconfig });
    expect(ck.stderr).not.toMatch(/error/);
    expect(ck.code).toBe(0);
    expect(ck.stdout).toMatch(/^status=completed\n/);

    const down = await cli(['dev', 'down', '--state-dir', stateDir]);
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(new RegExp(`stopped the dev cluster \\(pid ${pid}\\)`));
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);

    const after = await cli(['dev', 'status', '--state-dir', stateDir]);
    expect(after.stdout).toMatch(/^status=stopped\n/);
  });

  it('status reports stale state as left behind (exit 1)', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'state.json'), JSON.stringify({ pid: 2 ** 22 + 12345, url: 'http://127.0.0.1:1' }));
    const r = await cli(['dev', 'status', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/left behind: .*process \d+ is gone/);
    await cli(['dev', 'down', '--state-dir', stateDir]);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('rejects bad flags with exit 2 and starts nothing', async () => {
    const r = await cli(['dev', 'up', '--state-dir', stateDir, '--nodes', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--nodes "many" must be a whole number from 1 to 50/);
    expect(existsSync(stateDir)).toBe(false);
  });
});
