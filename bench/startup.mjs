#!/usr/bin/env node
/**
 * CLI start-up and exit, as a CI script sees them: each command is a fresh process,
 * measured side by side in one run against `node -e 0` and `kubectl get pods` on the
 * same cluster, interleaved round by round so machine noise hits all of them alike.
 * Medians of `--runs N` (default 15, at least 10).
 *
 *   - `--help`; `validate` of one manifest; bad input (exit 2); no kubeconfig (exit 3);
 *   - a cluster command (`list --no-storage`): time from process start to its first API
 *     request (the dev API server logs each request's arrival, by user; on the real
 *     cluster a loopback TCP forwarder of the bench's, in front of the API server, sees
 *     the request's TLS record arrive), and to its exit; `list` with its volume listing
 *     (one short-lived reader pod) to its exit;
 *   - `__complete` with a cluster look-up (pods for `restore --pod`);
 *   - verdict to exit: from the Job's verdict (written by the bench on the dev cluster;
 *     by our agent on the real one, seen through the bench's own watch, which it closes
 *     only after the child's exit) to the exit of
 *     `snapshotctl checkpoint`, against the 2 s poll of Dynamo's v1.0.x CLI (computed:
 *     on average half a poll interval).
 *
 * On the dev cluster always; on the real cluster too when SNAPSHOTCTL_REAL_KUBECONFIG
 * names its kubeconfig (scripts/real-cluster.sh up, images imported): our agent
 * (sim engine) is installed in a namespace of its own, removed afterwards.
 * Writes bench/results/startup.json and prints a table. Run: `npm run bench`.
 *
 * `--compare DIR`: every snapshotctl measure is also taken with DIR's build (another
 * checkout, built: DIR/bin/snapshotctl.js), interleaved with ours run by run, so that a
 * change is judged against its baseline on the same noisy machine in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Math.max(10, Number(args[args.indexOf('--runs') + 1]) || 15);
const BIN = join(root, 'bin/snapshotctl.js');
const compareDir = args.includes('--compare') ? args[args.indexOf('--compare') + 1] : undefined;
/** The builds measured: ours, and with --compare the baseline, tagged `@before`. */
const builds = [['', BIN], ...(compareDir ? [['@before', join(compareDir, 'bin/snapshotctl.js')]] : [])];
/** Round `i`'s order of the builds: they take turns going first, so neither gains from going second. */
const buildsFor = (i) => (i % 2 ? [...builds].reverse() : builds);
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

/** Run a process to its end; wall time in ms (from just before spawn to its exit); its output once read to the end. */
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
    let ms;
    child.on('exit', () => (ms = performance.now() - t0));
    child.on('close', (code) => {
      if (!expect.includes(code)) reject(new Error(`bench: ${file} ${argv.join(' ')} exited ${code}:\n${err}`));
      else resolve({ ms, startedEpoch, out, err });
    });
  });
}
const cli = (argv, env, expect, bin = BIN) => timed(process.execPath, [bin, ...argv], env, expect);

/** The measures of one cluster, `runs` rounds, interleaved (with --compare, each snapshotctl measure for both builds). */
async function startupRounds(target) {
  const m = {};
  const push = (key, ms) => (m[key] ??= []).push(ms);
  const empty = await mkdtemp(join(tmpdir(), 'snapshotctl-bench-home-'));
  const listArgs = ['list', '-n', target.namespace];
  for (let i = 0; i < runs; i++) {
    push('node', (await timed(process.execPath, ['-e', '0'])).ms);
    if (kubectlBin) push('kubectl', (await timed(kubectlBin, ['--kubeconfig', target.kubeconfig, 'get', 'pods', '-n', target.namespace])).ms);
    for (const [tag, bin] of buildsFor(i)) {
      const run = (argv, env, expect) => cli(argv, env, expect, bin);
      push(`help${tag}`, (await run(['--help'])).ms);
      push(`validate${tag}`, (await run(['validate', WORKER])).ms);
      push(`badInput${tag}`, (await run(['checkpoint', '--checkpoint-id', 'x'], {}, [2])).ms);
      push(`noKubeconfig${tag}`, (await run(['list'], { KUBECONFIG: '', HOME: empty, KUBERNETES_SERVICE_HOST: '' }, [3])).ms);
      // The first request, seen where the target can see it; the whole run, on the direct
      // path (on the real cluster that is a run of its own, without the forwarder's hop).
      const seen = await target.observed(`bench-list-${i}${tag.replace('@', '-')}`);
      try {
        const listed = await run([...listArgs, '--no-storage'], { KUBECONFIG: seen.kubeconfig });
        const first = seen.firstRequestEpoch();
        if (first === undefined) throw new Error(`bench: no API request of list seen on ${target.name}`);
        push(`firstRequest${tag}`, first - listed.startedEpoch);
        push(`list${tag}`, seen.direct ? listed.ms : (await run([...listArgs, '--no-storage'], { KUBECONFIG: target.kubeconfig })).ms);
      } finally {
        await seen.close?.();
      }
      const scanned = await run([...listArgs, ...(target.listArgs ?? [])], { KUBECONFIG: target.kubeconfig });
      // Only a run that listed the volume counts (its phase line says so; a failed listing warns).
      if (!scanned.err.includes('through a short-lived reader pod') || /did not list|incomplete/.test(scanned.err)) {
        throw new Error(`bench: list did not list the checkpoint volume on ${target.name}:\n${scanned.err}`);
      }
      push(`listStorage${tag}`, scanned.ms);
      const done = await run(['__complete', '--', 'restore', '-n', target.namespace, '--pod', ''], { KUBECONFIG: target.kubeconfig });
      if (!done.out.trim()) throw new Error(`bench: __complete offered no pod in namespace ${target.namespace}`);
      push(`complete${tag}`, done.ms);
    }
  }
  await rm(empty, { recursive: true, force: true });
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
}

/**
 * A loopback TCP forwarder in front of `server` (an http or https URL): bytes pass
 * through untouched; it records (epoch ms) when the first request arrives. Over TLS that
 * is the client's first application-data record after its handshake (TLS 1.3: the
 * second, the first being its Finished; TLS 1.3 is told by the server sending
 * application data before the client does), over plain http the first bytes.
 */
async function requestRecorder(server) {
  const up = new URL(server);
  const upPort = Number(up.port || (up.protocol === 'https:' ? 443 : 80));
  let firstRequest;
  const sockets = new Set();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(upPort, up.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // TLS record framing, each direction: 5-byte headers (type, version, length).
    const framer = (onRecord) => {
      let need = 0; // bytes of the current record's body still to skip
      let head = Buffer.alloc(0);
      return (chunk) => {
        let off = 0;
        while (off < chunk.length) {
          if (need > 0) {
            const n = Math.min(need, chunk.length - off);
            need -= n;
            off += n;
            continue;
          }
          const take = Math.min(5 - head.length, chunk.length - off);
          head = Buffer.concat([head, chunk.subarray(off, off + take)]);
          off += take;
          if (head.length < 5) break;
          onRecord(head[0]);
          need = head.readUInt16BE(3);
          head = Buffer.alloc(0);
        }
      };
    };
    let tls;
    let serverData = false;
    let clientData = 0;
    let tls13;
    const fromServer = framer((type) => {
      if (type === 23 && clientData === 0) serverData = true;
    });
    const fromClient = framer((type) => {
      if (type !== 23) return;
      clientData++;
      tls13 ??= serverData;
      if (clientData === (tls13 ? 2 : 1)) firstRequest ??= performance.timeOrigin + performance.now();
    });
    client.on('data', (chunk) => {
      tls ??= chunk[0] === 22;
      if (!tls) firstRequest ??= performance.timeOrigin + performance.now();
      else fromClient(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (tls) fromServer(chunk);
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise((resolve, reject) => proxy.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    url: `${up.protocol}//127.0.0.1:${proxy.address().port}`,
    firstRequestEpoch: () => firstRequest,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    },
  };
}

/**
 * Verdict to exit: `snapshotctl checkpoint` as a child; `verdict()` resolves at the
 * moment the verdict is written or seen; the child's exit is timed from there. With
 * --compare, the builds take turns.
 */
async function verdictToExit(target) {
  const times = {};
  for (let i = 0; i < runs; i++) {
    for (const [tag, bin] of buildsFor(i)) {
      const name = `bench-v${process.pid}-${i}${tag ? 'b' : ''}`;
      const file = await target.worker(name);
      const child = spawn(process.execPath, [bin, 'checkpoint', '--manifest', file, '--checkpoint-id', name, '-n', target.namespace, '-q', '--timeout', '120s', ...(target.checkpointArgs ?? [])], {
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
      (times[`verdictToExit${tag}`] ??= []).push(at - verdictAt);
      await target.after?.(name);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
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
    // The dev API server logs each request's arrival by user: one user a run.
    async observed(user) {
      const path = join(cluster.dir, `${user}.kubeconfig`);
      await cluster.api.writeKubeconfig(path, { token: cluster.api.addToken(user, [{ verbs: ['*'], resources: ['*'] }]) });
      return { kubeconfig: path, direct: true, firstRequestEpoch: () => cluster.api.requestLog.entries({ user })[0]?.time };
    },
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
  // A placeholder for `__complete` to offer (it offers only pods restore --pod would take).
  cluster.api.store.create('pods', benchPlaceholder('default', 'placeholder', ['sleep', 'infinity']));
  return { target, close: () => cluster.close() };
}

/**
 * A placeholder pod (docs/protocol.md §6: one container mounting the checkpoint PVC at the
 * base path, the seccomp profile), never Ready: `__complete` offers only such pods.
 */
function benchPlaceholder(namespace, image, command) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench-placeholder', namespace },
    spec: {
      terminationGracePeriodSeconds: 1,
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: 'Never',
          command,
          volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }],
        },
      ],
      volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
    },
  };
}

/** The tools image (static busybox) scripts/real-cluster.sh imports into the node's containerd. */
const TOOLS_IMAGE = 'localhost/snapshotctl/test-placeholder:3';

async function realCluster(kubeconfig) {
  const real = await import(join(root, 'dist/real/cluster.js'));
  const { createKubeClient } = await import(join(root, 'dist/kube/client.js'));
  const { RESOURCES } = await import(join(root, 'dist/kube/types.js'));
  const ns = `bench-startup-${process.pid}`;
  await real.installAgent({ kubeconfig, namespace: ns, partOf: 'snapshotctl-bench' });
  // A running placeholder for `__complete` to offer.
  await real.kubectlOk(kubeconfig, ['apply', '-n', ns, '-f', '-'], { stdin: stringify(benchPlaceholder(ns, TOOLS_IMAGE, ['sleep', '3600'])) });
  await real.kubectlOk(kubeconfig, ['wait', '-n', ns, '--for=jsonpath={.status.phase}=Running', 'pod/bench-placeholder', '--timeout=90s'], { timeoutMs: 100_000 });
  const client = await createKubeClient({ kubeconfig });
  const dir = await mkdtemp(join(tmpdir(), 'snapshotctl-bench-real-'));
  const target = {
    name: 'real cluster',
    kubeconfig,
    namespace: ns,
    // The sim engine on containerd: the worker runs, the agent judges it at once.
    checkpointArgs: ['--disable-cuda-checkpoint-job-file'],
    // The reader pod runs the tools image `up` imports (the default busybox is not on the node).
    listArgs: ['--helper-image', TOOLS_IMAGE],
    // The real API server keeps no request log: a forwarder of ours in front of it sees the request arrive.
    async observed(user) {
      const rec = await requestRecorder(real.apiServer(kubeconfig));
      const doc = parse(await readFile(kubeconfig, 'utf8'));
      for (const c of doc.clusters ?? []) c.cluster.server = rec.url;
      const path = join(dir, `${user}.kubeconfig`);
      await writeFile(path, stringify(doc), { mode: 0o600 });
      return { kubeconfig: path, direct: false, firstRequestEpoch: rec.firstRequestEpoch, close: rec.close };
    },
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
      // The bench's own watch sees the agent's verdict as the CLI's does. It stays open
      // until the child has exited: closing it then is no work of ours in the window measured.
      const ac = new AbortController();
      void exited.then(() => setTimeout(() => ac.abort(), 1000));
      return new Promise((resolve, reject) => {
        let seen = false;
        void (async () => {
          try {
            for await (const ev of client.watch(RESOURCES.jobs, ns, { fieldSelector: `metadata.name=${job}` }, ac.signal)) {
              if (!seen && ev.type !== 'BOOKMARK' && ev.object?.metadata?.annotations?.[STATUS]) {
                seen = true;
                resolve(performance.now());
              }
            }
          } catch {
            // aborted
          }
          if (!seen) reject(new Error(`bench: no verdict seen on job ${job}`));
        })();
      });
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

const results = { date: new Date().toISOString(), node: process.version, runs, ...(compareDir ? { compare: compareDir } : {}), clusters: {} };
const targets = [devCluster];
const realKc = process.env['SNAPSHOTCTL_REAL_KUBECONFIG'];
if (realKc) targets.push(() => realCluster(realKc));
for (const make of targets) {
  const { target, close } = await make();
  try {
    process.stderr.write(`startup (${target.name}): ${runs} rounds...\n`);
    const r = await startupRounds(target);
    process.stderr.write(`verdict to exit (${target.name}): ${runs} checkpoints...\n`);
    Object.assign(r, await verdictToExit(target));
    results.clusters[target.name] = r;
  } finally {
    await close();
  }
}

const lines = ['| measure (median) | target | ' + Object.keys(results.clusters).join(' | ') + ' |', '|---|---|' + Object.keys(results.clusters).map(() => '---|').join('')];
const row = (label, goal, f) => lines.push(`| ${label} | ${goal} | ${Object.values(results.clusters).map(f).join(' | ')} |`);
/** Our figure, and with --compare the baseline's beside it. */
const ours = (r, key, extra = (x) => '') => `${fmt(r[key])}${extra(r[key])}${compareDir ? ` (before: ${fmt(r[`${key}@before`])}${extra(r[`${key}@before`])})` : ''}`;
row('`node -e 0`', 'baseline', (r) => fmt(r.node));
row('`kubectl get pods`', 'baseline', (r) => fmt(r.kubectl));
row('`--help`', '≤ 2x `node -e 0`', (r) => ours(r, 'help', (x) => ` (${(x / r.node).toFixed(2)}x)`));
row('`validate` one manifest', '≤ 350 ms', (r) => ours(r, 'validate'));
row('bad input, exit 2', '≤ 300 ms', (r) => ours(r, 'badInput'));
row('no kubeconfig, exit 3', '≤ 300 ms', (r) => ours(r, 'noKubeconfig'));
row('`list`: process start to first API request', '≤ 300 ms', (r) => ours(r, 'firstRequest'));
row('`list --no-storage`: whole run', '', (r) => ours(r, 'list', (x) => ` (${(x / r.kubectl).toFixed(1)}x kubectl)`));
row('`list` with its volume listing: whole run', '', (r) => ours(r, 'listStorage'));
row('`__complete` with a cluster look-up', '≤ 400 ms', (r) => ours(r, 'complete'));
row('verdict to exit of `checkpoint`', '≤ 10 ms', (r) => ours(r, 'verdictToExit'));
row('verdict to exit, 2 s poll (v1.0.x)', 'baseline', () => fmt(POLL_MS / 2));
console.log(lines.join('\n'));
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/startup.json'), JSON.stringify(results, null, 2) + '\n');
console.log('\nwrote bench/results/startup.json');
