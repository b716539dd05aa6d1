/**
 * `snapshotctl dev up|status|down` through the built binary: a background cluster
 * that real commands use, and nothing left behind after `down`; never touching a
 * directory it did not make or a process it did not start. Every run gets a TMPDIR of
 * the test's own, so the temp dirs `dev status` looks at are this file's alone.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, MARKER_FILE } from '../../src/dev/ownership.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/snapshotctl.js');
const CLUSTER_JS = join(import.meta.dirname, '../../dist/dev/cluster.js');

/** This file's TMPDIR for every command it runs (set in beforeAll). */
let tmp = '';

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true', TMPDIR: tmp, ...env }, timeout: 60_000 });
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
    tmp = join(base, 'tmp');
    await mkdir(tmp);
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
    expect(existsSync(join(stateDir, MARKER_FILE)), 'dev up marks the directory it made').toBe(true);

    const again = await cli(['dev', 'up', '--state-dir', stateDir, '--nodes', '2', '--runtime', 'sim']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already running/);

    // Other settings than the running cluster's: refused, naming both, the cluster kept as it is.
    const other = await cli(['dev', 'up', '--state-dir', stateDir, '--runtime', 'process', '--engine', 'criu']);
    expect(other).toMatchObject({ code: 3, stdout: '' });
    expect(other.stderr).toMatch(
      new RegExp(
        `^error: a dev cluster is already running in ${stateDir} \\(pid \\d+\\) with runtime sim, engine sim, 2 nodes \\(2 with an agent\\), port \\d+; ` +
          `it does not match --engine criu, --runtime process, and dev up keeps one cluster per state directory\n` +
          `hint: stop it first with \`snapshotctl dev down --state-dir ${stateDir}\`, then run this dev up again; or give this one its own --state-dir\n$`,
      ),
    );

    const status = await cli(['dev', 'status', '--state-dir', stateDir, '-o', 'json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { status: string; reachable: boolean; state: { pid: number; url: string } };
    expect(s.status).toBe('running');
    expect(s.reachable).toBe(true);
    const pid = s.state.pid;
    expect(isAlive(pid)).toBe(true);
    expect(s.state).toMatchObject({ runtime: 'sim', engine: 'sim' });

    // The kubeconfig carries the token and the CA; without the token nothing is served.
    const kc = parse(await readFile(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }> };
    const { server, 'certificate-authority-data': ca } = kc.clusters[0]!.cluster;
    expect(server).toBe(s.state.url);
    for (const headers of [{}, { Authorization: 'Bearer not-the-token' }] as Array<Record<string, string>>) {
      const anon = await httpsGet(`${server}/api/v1/namespaces/default/pods`, Buffer.from(ca, 'base64').toString(), headers);
      expect(anon.status).toBe(401);
      expect(JSON.parse(anon.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }

    const ck = await cli(['checkpoint', '--manifest', 'manifests/samples/worker.yaml', '--checkpoint-id', 'devtest-1'], { KUBECONFIG: kubeconfig });
    expect(ck.stderr).not.toMatch(/error/);
    expect(ck.code).toBe(0);
    expect(ck.stdout).toMatch(/^status=completed\n/);

    // A failure hint on the dev cluster names its agents' log file: `kubectl logs` of the
    // agent pods prints nothing there (the agents run inside the server process).
    const stuck = join(base, 'never-ready.yaml');
    await writeFile(
      stuck,
      (await readFile('manifests/samples/worker.yaml', 'utf8')).replace('name: vllm-worker\n', 'name: stuck-worker\n').replace(/^  annotations:\n/m, '  annotations:\n    dev.snapshotctl.io/never-ready: "true"\n'),
    );
    const timedOut = await cli(['checkpoint', '--manifest', stuck, '--checkpoint-id', 'devtest-2', '--timeout', '3s'], { KUBECONFIG: kubeconfig });
    expect(timedOut.code, timedOut.stderr).toBe(4);
    const logFile = join(stateDir, 'server.log');
    expect(timedOut.stderr).toContain(`the agent's log (\`grep -F '[agent ' ${logFile} | tail -n 50\`, the dev cluster's log file)`);
    expect(timedOut.stderr).not.toMatch(/kubectl logs/);
    expect(await readFile(logFile, 'utf8')).toMatch(/ \[agent node-\d\] /);

    const down = await cli(['dev', 'down', '--state-dir', stateDir]);
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(new RegExp(`stopped the dev cluster \\(pid ${pid}\\)`));
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);

    const after = await cli(['dev', 'status', '--state-dir', stateDir]);
    expect(after.stdout).toMatch(/^status=stopped\n/);
  });

  it('status reports stale state as left behind (exit 1)', async () => {
    await mkdir(stateDir, { recursive: true });
    await writeMarker(stateDir);
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

  it('down and up refuse a directory dev up did not make (exit 2), leaving it as it was', async () => {
    const mine = join(base, 'mine');
    await mkdir(join(mine, 'notes'), { recursive: true });
    await writeFile(join(mine, 'notes', 'todo.txt'), 'keep me\n');
    await writeFile(join(mine, 'state.json'), '{}');
    const hint = `hint: pass the --state-dir that \`dev up\` printed, or a new or empty directory; if ${mine} is something you want gone, remove it yourself\n`;
    const down = await cli(['dev', 'down', '--state-dir', mine]);
    expect(down).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${mine} is not a dev cluster state directory (it has no ${MARKER_FILE}, which \`dev up\` writes into the directories it creates); refusing to stop anything or remove it\n${hint}`,
    });
    const up = await cli(['dev', 'up', '--state-dir', mine]);
    expect(up).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${mine} is not a dev cluster state directory (it has no ${MARKER_FILE}, which \`dev up\` writes into the directories it creates); refusing to start a dev cluster in it\n${hint}`,
    });
    expect(readdirSync(mine).sort()).toEqual(['notes', 'state.json']);
    expect(await readFile(join(mine, 'notes', 'todo.txt'), 'utf8')).toBe('keep me\n');
  });

  it('a recorded PID now used by another process: status says stopped, down signals nothing, up starts afresh', async () => {
    // What a reboot or a kill -9 of `dev serve` leaves: its state, and its PID given to another program.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const stale = async (): Promise<void> => {
        await mkdir(stateDir, { recursive: true });
        await writeMarker(stateDir);
        const serveArgs = [process.execPath, BIN, 'dev', 'serve', '--state-dir', stateDir, '--nodes', '2', '--gpu-nodes', '2', '--port', '0', '--runtime', 'sim'];
        await writeFile(join(stateDir, 'state.json'), JSON.stringify({ pid: other.pid, cmdline: serveArgs, startTime: '1', url: 'https://127.0.0.1:1', kubeconfig: join(stateDir, 'kubeconfig'), nodes: 2, gpuNodes: 2 }));
      };
      await stale();
      const status = await cli(['dev', 'status', '--state-dir', stateDir]);
      expect(status.code).toBe(1);
      expect(status.stdout).toBe('status=stopped\nleftovers=1\n');
      expect(status.stderr).toBe(`left behind: ${stateDir} (state of a dev cluster whose process ${other.pid} is gone, or is now another program)\n`);

      const down = await cli(['dev', 'down', '--state-dir', stateDir]);
      expect(down.code).toBe(0);
      expect(down.stderr).toBe(`no dev cluster was running (the recorded process ${other.pid} is gone or is now another program; it was not signalled)\nremoved ${stateDir}\n`);
      expect(existsSync(stateDir)).toBe(false);
      expect(stillRunning(other), 'the unrelated process was not signalled').toBe(true);

      await stale();
      const up = await cli(['dev', 'up', '--state-dir', stateDir]);
      expect(up.code).toBe(0);
      expect(up.stderr).toMatch(new RegExp(`^removed the stale state of a dev cluster whose process ${other.pid} is gone \\(or is now another program\\)\ndev cluster started at `));
      const started = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as { pid: number };
      expect(started.pid).not.toBe(other.pid);
      const stopped = await cli(['dev', 'down', '--state-dir', stateDir]);
      expect(stopped.stderr).toContain(`stopped the dev cluster (pid ${started.pid})`);
      expect(isAlive(started.pid)).toBe(false);
      expect(stillRunning(other)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('up --port on a busy port: one sentence naming EADDRINUSE and the fix, exit 3, nothing made', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const before = readdirSync(tmp);
      const r = await cli(['dev', 'up', '--state-dir', stateDir, '--port', String(port)]);
      expect(r).toEqual({
        code: 3,
        stdout: '',
        stderr: `error: port ${port} on 127.0.0.1 is already in use (EADDRINUSE)\nhint: pick a free port with --port, or leave --port out (0: any free port)\n`,
      });
      expect(existsSync(stateDir)).toBe(false);
      expect(readdirSync(tmp)).toEqual(before);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('up where the background server fails for a reason of this machine: its sentence and fix, exit 3, nothing left', async () => {
    const before = readdirSync(tmp);
    const r = await cli(['dev', 'up', '--state-dir', stateDir, '--engine', 'criu']);
    expect(r).toEqual({
      code: 3,
      stdout: '',
      stderr:
        'error: the dev cluster did not start: engine criu cannot run here (criu: needs real processes; the dev cluster runs the sim runtime (use --runtime process))\n' +
        'hint: add --runtime process (real engines save real processes), or leave --engine out to use the best engine that works here (sim always does)\n',
    });
    expect(existsSync(stateDir)).toBe(false);
    expect(readdirSync(tmp)).toEqual(before);
  });

  it('status counts a live in-process cluster\'s temp dir as in use, and as left behind once its process is killed', async () => {
    // An in-process cluster (what `demo` and tests run), in a process of its own so it can be killed.
    const owner: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', `const { startDevCluster } = await import(process.env.CLUSTER_JS); const c = await startDevCluster({ nodes: 1, engine: 'sim', readyDelayMs: 10 }); process.stdout.write(c.dir + '\\n'); setInterval(() => {}, 1000);`], {
      env: { ...process.env, TMPDIR: tmp, CLUSTER_JS },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const dir = await new Promise<string>((resolve, reject) => {
        let out = '';
        owner.stdout!.setEncoding('utf8').on('data', (t: string) => {
          out += t;
          if (out.includes('\n')) resolve(out.trim());
        });
        owner.once('exit', (code) => reject(new Error(`the cluster process exited (${code}) before it was up`)));
      });
      expect(dir.startsWith(join(tmp, 'snapshotctl-dev-'))).toBe(true);
      const live = await cli(['dev', 'status', '--state-dir', stateDir]);
      expect(live).toEqual({ code: 0, stdout: 'status=stopped\nleftovers=0\n', stderr: '' });

      const gone = new Promise((resolve) => owner.once('exit', resolve));
      owner.kill('SIGKILL');
      await gone;
      const left = await cli(['dev', 'status', '--state-dir', stateDir]);
      expect(left).toEqual({ code: 1, stdout: 'status=stopped\nleftovers=1\n', stderr: `left behind: ${dir}\n` });
    } finally {
      owner.kill('SIGKILL');
      for (const name of readdirSync(tmp)) await rm(join(tmp, name), { recursive: true, force: true });
    }
  });
});

/** The marker `dev up` writes (what a directory it made and then lost its server has). */
async function writeMarker(dir: string): Promise<void> {
  await writeFile(join(dir, MARKER_FILE), JSON.stringify({ createdBy: 'snapshotctl', purpose: 'dev-state', createdAt: new Date().toISOString() }));
}

/** The child has not exited and its PID still answers signal 0. */
function stillRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && isAlive(child.pid!);
}
