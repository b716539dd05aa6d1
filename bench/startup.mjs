#!/usr/bin/env node
/**
 * CLI start-up and exit, as a CI script sees them: each command is a fresh process,
 * measured side by side in one run against `node -e 0` and `kubectl get pods` on the
 * same cluster, interleaved round by round so machine noise hits all of them alike.
 * Medians of `--runs N` (default 15, at least 10).
 *
 *   - `--help`; `validate` of one manifest; bad input (exit 2); no kubeconfig (exit 3);
 *   - a cluster command (`list`): time from process start to its first API request (the
 *     dev API server logs each request's arrival, by user), and to its exit;
 *   - `__complete` with a cluster look-up (pods for `restore --pod`);
 *   - verdict to exit: from the Job's verdict (written by the bench on the dev cluster;
 *     by our agent on the real one, seen through the bench's own watch) to the exit of
 *     `snapshotctl checkpoint`, against the 2 s poll of Dynamo's v1.0.x CLI (computed:
 *     on average half a poll interval).
 *
 * On the dev cluster always; on the real cluster too when SNAPSHOTCTL_REAL_KUBECONFIG
 * names its kubeconfig (scripts/real-cluster.sh up, images imported): our agent
 * (sim engine) is installed in a namespace of its own, removed afterwards.
 * Writes bench/results/startup.json and prints a table. Run: `npm run bench`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Math.max(10, Number(args[args.indexOf('--runs') + 1]) || 15);
const BIN = join(root, 'bin/snapshotctl.js');
const WORKER = join(root, 'manifests/samples/worker.yaml');
const STATUS = 'nvidia.com/snapshot-checkpoint-status';
const POLL_MS = 2000;
const kubectlBin = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0 ? 'kubectl' : undefined;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x) => (Number.isFinite(x) ? `${x.toFixed(x < 20 ? 1 : 0)} ms` : 'n/a');

/** Run a process to its end; wall time in ms (from just before spawn). */
function timed(file, argv, env = {}, expect = [0]) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const startedEpoch = performance.timeOrigin + t0;
    const child = spawn(file, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (!expect.includes(code)) reject(new Error(`bench: ${file} ${argv.join(' ')} exited ${code}:\n${err}`));
      else resolve({ ms, startedEpoch, out });
    });
  });
}
const cli = (argv, env, expect) => timed(process.execPath, [BIN, ...argv], env, expect);

/** The measures of one cluster, `runs` rounds, interleaved. */
async function startupRounds(target) {
  const m = { node: [], kubectl: [], help: [], validate: [], badInput: [], noKubeconfig: [], list: [], firstRequest: [], complete: [] };
  const empty = await mkdtemp(join(tmpdir(), 'snapshotctl-bench-home-'));
  for (let i = 0; i < runs; i++) {
    m.node.push((await timed(process.execPath, ['-e', '0'])).ms);
    if (kubectlBin) m.kubectl.push((await timed(kubectlBin, ['--kubeconfig', target.kubeconfig, 'get', 'pods', '-n', target.namespace])).ms);
    m.help.push((await cli(['--help'])).ms);
    m.validate.push((await cli(['validate', WORKER])).ms);
    m.badInput.push((await cli(['checkpoint', '--checkpoint-id', 'x'], {}, [2])).ms);
    m.noKubeconfig.push((await cli(['list'], { KUBECONFIG: '', HOME: empty, KUBERNETES_SERVICE_HOST: '' }, [3])).ms);
    const kc = target.kubeconfigFor ? await target.kubeconfigFor(`bench-list-${i}`) : target.kubeconfig;
    const run = await cli(['list', '-n', target.namespace], { KUBECONFIG: kc });
    m.list.push(run.ms);
    const first = target.firstRequestEpoch?.(`bench-list-${i}`);
    if (first !== undefined) m.firstRequest.push(first - run.startedEpoch);
    const done = await cli(['__complete', '--', 'restore', '-n', target.namespace, '--pod', ''], { KUBECONFIG: target.kubeconfig });
    if (!done.out.trim()) throw new Error(`bench: __complete offered no pod in namespace ${target.namespace}`);
    m.complete.push(done.ms);
  }
  await rm(empty, { recursive: true, force: true });
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
}

/**
 * Verdict to exit: `snapshotctl checkpoint` as a child; `verdict()` resolves at the
 * moment the verdict is written or seen; the child's exit is timed from there.
 */
async function verdictToExit(target) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const name = `bench-v${process.pid}-${i}`;
    const file = await target.worker(name);
    const child = spawn(process.execPath, [BIN, 'checkpoint', '--manifest', file, '--checkpoint-id', name, '-n', target.namespace, '-q', '--timeout', '120s', ...(target.checkpointArgs ?? [])], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CI: 'true', KUBECONFIG: target.kubeconfig },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.on('exit', (code) => r({ at: performance.now(), code })));
    const verdictAt = await target.verdict(`${name}-checkpoint`, exited);
    const { at, code } = await exited;
    if (code !== 0) throw new Error(`bench: checkpoint ${name} exited ${code}:\n${err}`);
    times.push(at - verdictAt);
    await target.after?.(name);
  }
  return median(times);
}

async function devCluster() {
  const { startDevCluster } = await import(join(root, 'dist/dev/cluster.js'));
  const cluster = await startDevCluster({ nodes: 2, readyDelayMs: 50 });
  for (const a of cluster.agents.values()) a.faults.silent = true;
  const text = await readFile(WORKER, 'utf8');
  const target = {
    name: 'dev cluster',
    kubeconfig: cluster.kubeconfigPath,
    namespace: 'default',
    async kubeconfigFor(user) {
      const path = join(cluster.dir, `${user}.kubeconfig`);
      await cluster.api.writeKubeconfig(path, { token: cluster.api.addToken(user, [{ verbs: ['*'], resources: ['*'] }]) });
      return path;
    },
    firstRequestEpoch: (user) => cluster.api.requestLog.entries({ user })[0]?.time,
    async worker(name) {
      const file = join(cluster.dir, `${name}.yaml`);
      await writeFile(file, text.replace('name: vllm-worker', `name: ${name}`));
      return file;
    },
    async verdict(job) {
      // Once the CLI's watch on its Job is open.
      const watching = () => cluster.api.requestLog.entries({ verb: 'watch', resource: 'jobs' }).some((e) => e.query.fieldSelector === `metadata.name=${job}`);
      while (!watching()) await sleep(2);
      await sleep(100);
      const t = performance.now();
      cluster.api.store.patch('jobs.batch', 'default', job, 'application/merge-patch+json', { metadata: { annotations: { [STATUS]: 'completed' } } });
      return t;
    },
  };
  // A pod for `__complete` to offer.
  cluster.api.store.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench-placeholder', namespace: 'default' },
    spec: { containers: [{ name: 'main', image: 'placeholder', command: ['sleep', 'infinity'] }] },
  });
  return { target, close: () => cluster.close() };
}

async function realCluster(kubeconfig) {
  const real = await import(join(root, 'dist/real/cluster.js'));
  const { createKubeClient } = await import(join(root, 'dist/kube/client.js'));
  const { RESOURCES } = await import(join(root, 'dist/kube/types.js'));
  const ns = `bench-startup-${process.pid}`;
  await real.installAgent({ kubeconfig, namespace: ns, partOf: 'snapshotctl-bench' });
  const client = await createKubeClient({ kubeconfig });
  const dir = await mkdtemp(join(tmpdir(), 'snapshotctl-bench-real-'));
  const target = {
    name: 'real cluster',
    kubeconfig,
    namespace: ns,
    // The sim engine on containerd: the worker runs, the agent judges it at once.
    checkpointArgs: ['--disable-cuda-checkpoint-job-file'],
    async worker(name) {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'worker',
              image: real.WORKER_IMAGE,
              imagePullPolicy: 'Never',
              command: ['sh', '-c', 'trap "exit 0" USR1; : > /tmp/ready-for-checkpoint; while :; do sleep 1; done'],
              env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/ready-for-checkpoint' }],
              readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] }, periodSeconds: 1 },
            },
          ],
        },
      };
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, stringify(pod));
      return file;
    },
    async verdict(job, exited) {
      // The bench's own watch sees the agent's verdict as the CLI's does.
      const ac = new AbortController();
      void exited.then(() => setTimeout(() => ac.abort(), 1000));
      try {
        for await (const ev of client.watch(RESOURCES.jobs, ns, { fieldSelector: `metadata.name=${job}` }, ac.signal)) {
          if (ev.type !== 'BOOKMARK' && ev.object?.metadata?.annotations?.[STATUS]) return performance.now();
        }
      } catch {
        // aborted
      }
      throw new Error(`bench: no verdict seen on job ${job}`);
    },
    async after(name) {
      await real.kubectl(kubeconfig, ['delete', 'job', `${name}-checkpoint`, '-n', ns, '--wait=false']);
    },
  };
  return {
    target,
    close: async () => {
      await real.removeAgentNamespace(kubeconfig, ns);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const results = { date: new Date().toISOString(), node: process.version, runs, clusters: {} };
const targets = [devCluster];
const realKc = process.env['SNAPSHOTCTL_REAL_KUBECONFIG'];
if (realKc) targets.push(() => realCluster(realKc));
for (const make of targets) {
  const { target, close } = await make();
  try {
    process.stderr.write(`startup (${target.name}): ${runs} rounds...\n`);
    const r = await startupRounds(target);
    process.stderr.write(`verdict to exit (${target.name}): ${runs} checkpoints...\n`);
    r.verdictToExit = await verdictToExit(target);
    results.clusters[target.name] = r;
  } finally {
    await close();
  }
}

const lines = ['| measure (median) | target | ' + Object.keys(results.clusters).join(' | ') + ' |', '|---|---|' + Object.keys(results.clusters).map(() => '---|').join('')];
const row = (label, goal, f) => lines.push(`| ${label} | ${goal} | ${Object.values(results.clusters).map(f).join(' | ')} |`);
row('`node -e 0`', 'baseline', (r) => fmt(r.node));
row('`kubectl get pods`', 'baseline', (r) => fmt(r.kubectl));
row('`--help`', '≤ 2x `node -e 0`', (r) => `${fmt(r.help)} (${(r.help / r.node).toFixed(2)}x)`);
row('`validate` one manifest', '≤ 350 ms', (r) => fmt(r.validate));
row('bad input, exit 2', '≤ 300 ms', (r) => fmt(r.badInput));
row('no kubeconfig, exit 3', '≤ 300 ms', (r) => fmt(r.noKubeconfig));
row('`list`: process start to first API request', '≤ 300 ms', (r) => fmt(r.firstRequest));
row('`list`: whole run', '', (r) => `${fmt(r.list)} (${(r.list / r.kubectl).toFixed(1)}x kubectl)`);
row('`__complete` with a cluster look-up', '≤ 400 ms', (r) => fmt(r.complete));
row('verdict to exit of `checkpoint`', '≤ 10 ms', (r) => fmt(r.verdictToExit));
row('verdict to exit, 2 s poll (v1.0.x)', 'baseline', () => fmt(POLL_MS / 2));
console.log(lines.join('\n'));
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/startup.json'), JSON.stringify(results, null, 2) + '\n');
console.log('\nwrote bench/results/startup.json');
