#!/usr/bin/env node
/**
 * CLI benchmarks against the embedded dev cluster, each against a baseline measured in
 * the same run (numbers are printed and written to bench/results/cli.json):
 *   1. completion detection: agent verdict → `snapshotctl checkpoint` returns, vs a
 *      client that polls every 2 s as Dynamo v1.0.x does;
 *   2. API requests per operation for waits of 10 s and 60 s, ours vs the 2 s poll;
 *   3. start-up of `snapshotctl --help` and `snapshotctl validate` vs `node -e 0`;
 *   4. scale: concurrent checkpoints and restores on 10 nodes.
 * Run with `npm run bench` (builds first). `--runs N` (default 50), `--quick`.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startDevCluster } = await import(join(root, 'dist/dev/cluster.js'));
const { main } = await import(join(root, 'dist/cli/main.js'));
const { createKubeClient } = await import(join(root, 'dist/kube/client.js'));
const { RESOURCES } = await import(join(root, 'dist/kube/types.js'));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runs = Number(args[args.indexOf('--runs') + 1]) || (quick ? 10 : 50);
const WORKER = join(root, 'manifests/samples/worker.yaml');
const STATUS = 'nvidia.com/snapshot-checkpoint-status';
const POLL_MS = 2000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(0)} ms`;

/** IO for in-process runs: output kept, shown only when a run fails. */
function quietIO(signal = new AbortController().signal) {
  const io = { out: '', err: '', stdout: (t) => (io.out += t), stderr: (t) => (io.err += t), isTTY: false, env: {}, signal, readStdin: async () => '' };
  return io;
}

/** Run the CLI in-process; report the first failure's stderr so a broken bench is visible. */
let reportedFailure = false;
async function runCli(argv) {
  const io = quietIO();
  const code = await main(argv, io);
  if (code !== 0 && !reportedFailure) {
    reportedFailure = true;
    process.stderr.write(`bench: snapshotctl ${argv.slice(0, 2).join(' ')} exited ${code}:\n${io.err}\n`);
  }
  return code;
}

/** v1.0.x's wait: GET the Job every 2 s until the annotation is set. */
async function pollBaseline(client, ns, name, stop) {
  for (;;) {
    const job = await client.get(RESOURCES.jobs, ns, name).catch(() => undefined);
    if (job?.metadata?.annotations?.[STATUS]) return;
    if (stop()) return;
    await sleep(POLL_MS);
  }
}

function jobFor(name) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'placeholder', command: ['sleep', 'infinity'] }] } } },
  };
}

async function waitUntil(pred, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('bench: condition not reached');
    await sleep(5);
  }
}

function annotate(cluster, name) {
  cluster.api.store.patch('jobs.batch', 'default', name, 'application/merge-patch+json', { metadata: { annotations: { [STATUS]: 'completed' } } });
}

function silence(cluster) {
  for (const a of cluster.agents.values()) a.faults.silent = true;
}

/** 1. Detection latency, ours and the poll baseline side by side in each trial. */
async function latency(cluster, client) {
  const ours = [];
  const poll = [];
  for (let i = 0; i < runs; i++) {
    const id = `lat-${i}`;
    const file = join(cluster.dir, `w${i}.yaml`);
    const { readFile } = await import('node:fs/promises');
    await writeFile(file, (await readFile(WORKER, 'utf8')).replace('name: vllm-worker', `name: w${i}`));
    const oursJob = `w${i}-checkpoint`;
    const baseJob = `b${i}-checkpoint`;
    await client.create(RESOURCES.jobs, 'default', jobFor(baseJob));
    let oursDone, pollDone;
    const watchesBefore = cluster.api.requestLog.count({ verb: 'watch', resource: 'jobs' });
    const oursRun = runCli(['checkpoint', '--manifest', file, '--checkpoint-id', id, '--kubeconfig', cluster.kubeconfigPath, '-q']).then(() => (oursDone = performance.now()));
    let stop = false;
    const pollRun = pollBaseline(client, 'default', baseJob, () => stop).then(() => (pollDone = performance.now()));
    // Ours is watching once its watch on the Job is open; then the verdict comes at a random moment.
    await waitUntil(() => cluster.api.requestLog.count({ verb: 'watch', resource: 'jobs' }) > watchesBefore);
    await sleep(100 + Math.random() * POLL_MS);
    const t = performance.now();
    annotate(cluster, oursJob);
    annotate(cluster, baseJob);
    await Promise.all([oursRun, pollRun]);
    stop = true;
    ours.push(oursDone - t);
    poll.push(pollDone - t);
  }
  return { ours, poll };
}

/**
 * 2. Requests for one operation whose verdict comes after `waitMs`, counted from the
 * API server's request log by user: each side gets its own token.
 */
async function requestsFor(cluster, label, waitMs, useBaseline) {
  const user = `bench-${label}-${useBaseline ? 'poll' : 'ours'}`;
  const kubeconfig = join(cluster.dir, `${user}.kubeconfig`);
  await cluster.api.writeKubeconfig(kubeconfig, { token: cluster.api.addToken(user, [{ verbs: ['*'], resources: ['*'] }]) });
  const name = user;
  const job = `${name}-checkpoint`;
  let run;
  if (useBaseline) {
    // v1.0.x: storage discovery (two DaemonSet lists), create the Job, then GET every 2 s.
    const client = await createKubeClient({ kubeconfig });
    run = (async () => {
      await client.list(RESOURCES.daemonsets, 'default', { labelSelector: 'app.kubernetes.io/component=snapshot-agent' });
      await client.list(RESOURCES.daemonsets, 'default', { labelSelector: 'app.kubernetes.io/name=snapshot' });
      await client.create(RESOURCES.jobs, 'default', jobFor(job));
      await pollBaseline(client, 'default', job, () => false);
    })();
  } else {
    const file = join(cluster.dir, `${name}.yaml`);
    const { readFile } = await import('node:fs/promises');
    await writeFile(file, (await readFile(WORKER, 'utf8')).replace('name: vllm-worker', `name: ${name}`));
    run = runCli(['checkpoint', '--manifest', file, '--checkpoint-id', name, '--kubeconfig', kubeconfig, '-q']);
  }
  await waitUntil(() => cluster.api.store.get('jobs.batch', 'default', job) !== undefined);
  await sleep(waitMs);
  annotate(cluster, job);
  await run;
  return cluster.api.requestLog.count({ user });
}

function timeCommand(argv, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { cwd: root, stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    times.push(performance.now() - t);
    if (r.status !== 0 && r.status !== 2) throw new Error(`bench: ${argv.join(' ')} exited ${r.status}`);
  }
  return pct(times, 50);
}

/** 4. Many operations at once on a 10-node cluster. */
async function scale(count) {
  const cluster = await startDevCluster({ nodes: 10, readyDelayMs: 50 });
  try {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(WORKER, 'utf8');
    const files = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const f = join(cluster.dir, `s${i}.yaml`);
        await writeFile(f, text.replace('name: vllm-worker', `name: s${i}`).replace(/nvidia\.com\/gpu: "1"/, 'cpu: "1"'));
        return f;
      }),
    );
    const common = ['--kubeconfig', cluster.kubeconfigPath, '-q', '--timeout', '120s'];
    const t0 = performance.now();
    const ck = await Promise.all(files.map((f, i) => runCli(['checkpoint', '--manifest', f, '--checkpoint-id', `s${i}`, ...common])));
    const t1 = performance.now();
    const rs = await Promise.all(files.map((f, i) => runCli(['restore', '--manifest', f, '--checkpoint-id', `s${i}`, ...common])));
    const t2 = performance.now();
    return {
      count,
      checkpointSeconds: (t1 - t0) / 1000,
      checkpointErrors: ck.filter((c) => c !== 0).length,
      restoreSeconds: (t2 - t1) / 1000,
      restoreErrors: rs.filter((c) => c !== 0).length,
    };
  } finally {
    await cluster.close();
  }
}

const results = { date: new Date().toISOString(), node: process.version, runs };
const cluster = await startDevCluster({ nodes: 2, readyDelayMs: 50 });
try {
  silence(cluster);
  const client = await createKubeClient({ kubeconfig: cluster.kubeconfigPath });
  process.stderr.write(`completion detection: ${runs} trials...\n`);
  const lat = await latency(cluster, client);
  results.latency = {
    oursP50Ms: pct(lat.ours, 50),
    oursP95Ms: pct(lat.ours, 95),
    pollP50Ms: pct(lat.poll, 50),
    pollP95Ms: pct(lat.poll, 95),
  };
  process.stderr.write('requests per operation...\n');
  const waits = quick ? [2_000, 10_000] : [10_000, 60_000];
  results.requests = [];
  for (const w of waits) {
    results.requests.push({
      waitSeconds: w / 1000,
      ours: await requestsFor(cluster, `w${w}`, w, false),
      poll: await requestsFor(cluster, `w${w}`, w, true),
    });
  }
} finally {
  await cluster.close();
}
process.stderr.write('start-up...\n');
const n = quick ? 5 : 15;
const manifest = join(root, 'manifests/samples/worker.yaml');
results.startup = {
  nodeMs: timeCommand(['-e', '0'], n),
  helpMs: timeCommand(['bin/snapshotctl.js', '--help'], n),
  dryRunMs: timeCommand(['bin/snapshotctl.js', 'checkpoint', '--manifest', manifest, '--dry-run', '--pvc', 'p', '--base-path', '/c'], n),
};
process.stderr.write('scale...\n');
results.scale = await scale(quick ? 20 : 100);

const L = results.latency;
const S = results.startup;
const lines = [
  '| measure | snapshotctl | baseline | ratio |',
  '|---|---|---|---|',
  `| completion detection p50 (${runs} runs) | ${ms(L.oursP50Ms)} | ${ms(L.pollP50Ms)} (2 s poll) | ${(L.pollP50Ms / L.oursP50Ms).toFixed(1)}x faster |`,
  `| completion detection p95 | ${ms(L.oursP95Ms)} | ${ms(L.pollP95Ms)} (2 s poll) | ${(L.pollP95Ms / L.oursP95Ms).toFixed(1)}x faster |`,
  ...results.requests.map((r) => `| API requests, verdict after ${r.waitSeconds} s | ${r.ours} | ${r.poll} (2 s poll) | ${(r.poll / r.ours).toFixed(1)}x fewer |`),
  `| start-up: \`--help\` (median of ${n}) | ${ms(S.helpMs)} | ${ms(S.nodeMs)} (\`node -e 0\`) | ${(S.helpMs / S.nodeMs).toFixed(2)}x |`,
  `| start-up: offline \`checkpoint --dry-run\` | ${ms(S.dryRunMs)} | ${ms(S.nodeMs)} (\`node -e 0\`) | ${(S.dryRunMs / S.nodeMs).toFixed(2)}x |`,
  `| scale: ${results.scale.count} concurrent checkpoints, 10 nodes | ${results.scale.checkpointSeconds.toFixed(1)} s, ${results.scale.checkpointErrors} errors | | ${(results.scale.count / results.scale.checkpointSeconds).toFixed(1)}/s |`,
  `| scale: ${results.scale.count} concurrent restores, 10 nodes | ${results.scale.restoreSeconds.toFixed(1)} s, ${results.scale.restoreErrors} errors | | ${(results.scale.count / results.scale.restoreSeconds).toFixed(1)}/s |`,
];
console.log(lines.join('\n'));
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/cli.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`\nwrote bench/results/cli.json`);
