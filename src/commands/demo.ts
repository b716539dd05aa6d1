/**
 * `snapshotctl demo`: the whole flow on the embedded dev cluster, in one command.
 * Starts the cluster, applies `manifests/`, checkpoints the sample worker, restores it
 * from the manifest and in place into the sample placeholder, prints each step with its
 * time and the engine that did the work, cleans up, and exits 0 only if every step did.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXIT, TimeoutError, UsageError } from '../errors.js';
import type { EngineName } from '../agent/engines.js';
import { CHECKPOINT_JOB_SUFFIX, LABEL_JOB_NAME_LEGACY } from '../protocol/constants.js';
import type { KubeObject, Pod } from '../protocol/index.js';
import type { KubeClient } from '../kube/types.js';
import type { CommandDeps } from './context.js';
import type { RealDemoOptions } from './demo-real.js';

/** `demo` on the embedded dev cluster. */
export interface DemoOptions {
  nodes: number;
  engine?: string;
  verbose: boolean;
}

/** `demo`'s options: the dev cluster's (default) or the real cluster's (`--cluster real`). */
export type DemoCommandOptions = ({ cluster: 'dev' } & DemoOptions) | ({ cluster: 'real' } & RealDemoOptions);

/** What the demo takes from its surroundings (the CLI passes the process's). */
export interface DemoDeps {
  /** Progress and step output, as it happens. */
  stdout: (text: string) => void;
  /** The agents' log (--verbose), a step's stderr, errors. */
  stderr: (text: string) => void;
  /** Run one snapshotctl command line (a step) with its output captured. */
  runCli: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  now: () => number;
  /** Builds the client the dev demo reads the cluster with (its pods, the worker's log); src/cli passes the real one. */
  kube: CommandDeps['kube'];
  /** Aborted on Ctrl-C (the real demo stops its scripts and kubectl). */
  signal: AbortSignal;
  /** The machine: the real demo needs root on Linux, and names its namespace after the process. */
  host: { platform: string; isRoot: boolean; pid: number };
}

/** The demo's verdict: 0 when every step did its work, else the exit code of what failed. */
export interface DemoResult {
  code: number;
}

/** `demo`'s flags, checked before anything starts. */
export function complete(raw: Record<string, unknown>): DemoCommandOptions {
  const cluster = raw['cluster'];
  if (cluster !== 'dev' && cluster !== 'real') throw new UsageError(`--cluster "${String(cluster)}" is not a cluster kind`, 'use --cluster dev (the embedded dev cluster, the default) or --cluster real');
  if (cluster === 'real') {
    for (const flag of ['nodes', 'engine'] as const) {
      if (raw[flag] !== undefined && !(flag === 'engine' && raw[flag] === 'criu')) {
        throw new UsageError(`--${flag} is for the dev cluster: the real cluster has one node and uses the criu engine`, `leave --${flag} out with --cluster real`);
      }
    }
    return { cluster, verbose: raw['verbose'] === true, keepCluster: raw['keepCluster'] === true };
  }
  if (raw['keepCluster'] === true) throw new UsageError('--keep-cluster is for --cluster real (the dev demo always stops its cluster)', 'add --cluster real, or leave --keep-cluster out');
  const nodes = Number(raw['nodes'] ?? 2);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new UsageError(`--nodes "${String(raw['nodes'])}" must be a whole number from 1 to 50`, 'e.g. --nodes 2');
  return { cluster, nodes, verbose: raw['verbose'] === true, ...(typeof raw['engine'] === 'string' ? { engine: raw['engine'] } : {}) };
}

/** Nothing beyond `complete`: the engine name is judged by `run` (it loads the engines). */
export function validate(_opts: DemoCommandOptions): void {}

/** Run the demo on the cluster asked for; resolves to its verdict. */
export async function run(opts: DemoCommandOptions, deps: DemoDeps): Promise<DemoResult> {
  if (opts.cluster === 'real') {
    const { runRealDemo } = await import('./demo-real.js');
    return { code: await runRealDemo({ verbose: opts.verbose, keepCluster: opts.keepCluster }, deps) };
  }
  return { code: await runDemo({ nodes: opts.nodes, verbose: opts.verbose, ...(opts.engine !== undefined ? { engine: opts.engine } : {}) }, deps) };
}

interface Step {
  title: string;
  args: string[];
}

/** Run the demo on the dev cluster; resolves to the exit code. */
export async function runDemo(opts: DemoOptions, deps: DemoDeps): Promise<number> {
  const { startDevCluster, describeEngine, MANIFESTS_DIR } = await import('../dev/cluster.js');
  const { isEngineName } = await import('../agent/engines.js');
  if (opts.engine !== undefined && !isEngineName(opts.engine)) {
    deps.stderr(`error: unknown engine "${opts.engine}"\nhint: use sim, criu or cuda, or leave --engine out (criu where CRIU works here, else sim)\n`);
    return EXIT.usage;
  }
  const t0 = deps.now();
  const secs = () => `${((deps.now() - t0) / 1000).toFixed(1)}s`;
  const say = (line: string) => deps.stdout(`${line}\n`);
  say('snapshotctl demo: checkpoint and restore on the embedded dev cluster (no Kubernetes, no GPU needed)');
  const choice: { engine: EngineName; why?: string } = opts.engine !== undefined ? { engine: opts.engine as EngineName } : await chooseDemoEngine();
  // Real engines save real processes: they need the process runtime and the CPU worker.
  const real = choice.engine !== 'sim';
  const cluster = await startDevCluster({
    nodes: opts.nodes,
    ...(real ? { runtime: 'process' as const } : {}),
    engine: choice.engine,
    log: (line, level) => {
      if (opts.verbose || level === 'warn' || level === 'error') deps.stderr(`  ${line}\n`);
    },
  });
  let code: number = EXIT.ok;
  try {
    say(`[${secs()}] dev cluster up at ${cluster.url}: ${opts.nodes} nodes, applied manifests/ (${cluster.applied.length} objects)`);
    say(`[${secs()}] snapshot agents Ready on ${[...cluster.agents.keys()].join(', ')}; ${describeEngine(cluster.engine)}`);
    if (choice.why) say(`[${secs()}] ${choice.why}`);
    const ns = cluster.namespace;
    const samples = real ? await cpuSamples(cluster.dir, MANIFESTS_DIR) : undefined;
    const worker = samples?.worker ?? join(MANIFESTS_DIR, 'samples', 'worker.yaml');
    const placeholderFile = samples?.placeholder ?? join(MANIFESTS_DIR, 'samples', 'placeholder.yaml');
    const placeholder = parse(await readFile(placeholderFile, 'utf8')) as KubeObject;
    const workerName = (parse(await readFile(worker, 'utf8')) as KubeObject).metadata?.name ?? '';
    const id = `demo-${deps.now()}`;
    let kube: KubeClient | undefined;
    const client = async (): Promise<KubeClient> => (kube ??= await deps.kube({ kubeconfig: cluster.kubeconfigPath }));
    // The CPU worker as it was before the checkpoint: what each restored worker must match.
    let original: OriginalWorker | undefined;
    const common = ['--kubeconfig', cluster.kubeconfigPath, '-n', ns, '--timeout', '90s', '--no-color'];
    // The CPU worker runs as a plain local process: no cuda-checkpoint to wrap it in.
    const wrap = real ? ['--disable-cuda-checkpoint-job-file'] : [];
    const steps: Step[] = [
      { title: 'checkpoint the sample worker', args: ['checkpoint', '--manifest', worker, '--checkpoint-id', id, ...wrap, ...common] },
      { title: 'restore it into a new pod from the manifest', args: ['restore', '--manifest', worker, '--checkpoint-id', id, ...common] },
      {
        title: `restore it in place into placeholder pod ${placeholder.metadata?.name ?? ''}`,
        args: ['restore', '--pod', placeholder.metadata?.name ?? '', '--checkpoint-id', id, ...common],
      },
    ];
    for (const [i, step] of steps.entries()) {
      if (i === 2) {
        const { RESOURCES } = await import('../kube/types.js');
        const kc = await client();
        if (samples) {
          // Without a PID namespace a second restore needs the same PIDs: end the first.
          await kc.delete(RESOURCES.pods, ns, workerName, { gracePeriodSeconds: 0 });
          await waitUntil(async () => !(await askWorker(samples.port).then(() => true, () => false)), 20_000, 'the restored worker to exit', deps.now);
          say(`[${secs()}] deleted the restored pod ${workerName} (the next restore reuses its process IDs)`);
        }
        // The placeholder a user would `kubectl apply`, and see Running, before restoring in
        // place: until it is on a node, restore --pod rightly refuses it. (It turns Ready only
        // once restored: its probe looks for the worker's state.)
        await kc.create(RESOURCES.pods, ns, placeholder);
        const placeholderName = placeholder.metadata?.name ?? '';
        await waitUntil(async () => (await kc.get<Pod>(RESOURCES.pods, ns, placeholderName)).status?.phase === 'Running', 60_000, `placeholder pod ${placeholderName} to be Running`, deps.now);
        say(`[${secs()}] created placeholder pod ${placeholder.metadata?.name ?? ''} from manifests/samples/${samples ? 'cpu-placeholder' : 'placeholder'}.yaml`);
      }
      const started = deps.now();
      say(`[${secs()}] step ${i + 1}/${steps.length}: ${step.title}`);
      say(`         $ snapshotctl ${step.args.map((a) => (a === cluster.kubeconfigPath ? '$KUBECONFIG' : a.startsWith(MANIFESTS_DIR) ? a.replace(MANIFESTS_DIR, 'manifests') : a)).join(' ')}`);
      const { code: stepCode, stdout: out, stderr: err } = await deps.runCli([...step.args, ...(opts.verbose ? [] : ['--quiet'])]);
      for (const line of out.trimEnd().split('\n')) say(`           ${line}`);
      if (err.trim()) for (const line of err.trimEnd().split('\n')) deps.stderr(`           ${line}\n`);
      const took = ((deps.now() - started) / 1000).toFixed(2);
      say(`         ${stepCode === 0 ? 'ok' : `FAILED (exit ${stepCode})`} in ${took}s, ${cluster.engine.name} engine${cluster.engine.simulated ? ' (simulated)' : ''}`);
      if (samples && stepCode === 0 && i === 0) {
        // The original's own log line, written at warm-up (before it turned Ready, so
        // before the dump): the reference each restored worker is held to.
        const found = await originalWorker(await client(), ns, `${workerName}${CHECKPOINT_JOB_SUFFIX}`);
        if ('error' in found) {
          say(`         ${found.error}`);
          code = EXIT.failed;
          break;
        }
        original = found;
        say(`         the worker before the checkpoint (its log, pod ${found.pod}): checksum ${found.checksum.slice(0, 16)}..., instance ${found.instance}, warm-ups 1`);
      }
      if (samples && original && stepCode === 0 && i > 0) {
        // The proof that matters: the restored process still holds the warmed-up state.
        const a = await askWorker(samples.port).catch((err: Error) => ({ error: err.message }));
        if ('error' in a) {
          say(`         the restored worker does not answer: ${a.error}`);
          code = EXIT.failed;
          break;
        }
        const verdict = judgeRestoredWorker(original, a);
        for (const line of verdict.lines) say(`         ${line}`);
        if (!verdict.survived) {
          code = EXIT.failed;
          break;
        }
      }
      if (stepCode !== 0) {
        code = stepCode;
        break;
      }
    }
  } finally {
    await cluster.close();
    say(`[${secs()}] dev cluster stopped and its files removed`);
  }
  say(code === 0 ? `demo finished in ${secs()}: checkpoint, restore from manifest and restore in place all completed` : `demo failed after ${secs()}`);
  if (code === 0 && cluster.engine.simulated) say(SIM_CLOSING_HINT);
  return code;
}

/** The last line of a simulated demo: each command in it runs as printed. */
export const SIM_CLOSING_HINT = 'for real checkpoints of a real process (root, Linux): scripts/setup-criu.sh, then snapshotctl demo --engine criu';

/**
 * The demo's default engine: criu on the process runtime when CRIU's probe passes here,
 * else sim. (cuda only when asked for: the CPU sample worker has no GPU state.)
 */
async function chooseDemoEngine(): Promise<{ engine: EngineName; why: string }> {
  const { createEngine } = await import('../agent/engines.js');
  const probe = await createEngine('criu')
    .probe()
    .catch((err: unknown) => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }));
  if (probe.ok) return { engine: 'criu', why: 'engine criu chosen by default: CRIU works on this machine, so the CPU sample worker runs as a real process (--engine sim for the simulated engine)' };
  return { engine: 'sim', why: `engine sim chosen by default: CRIU cannot run here (${probe.reason ?? 'its probe failed'})` };
}

/** What the CPU sample worker answers to `checksum` (manifests/samples/cpu-worker/worker.mjs). */
export interface WorkerAnswer {
  /** SHA-256 of its state, recomputed for this answer. */
  checksum: string;
  /** The one it computed at its own warm-up (a restored worker's is restored too). */
  warmupChecksum: string;
  warmups: number;
  /** Drawn at process start: the same after a restore, new after a cold start. */
  instance: string;
  mb?: number;
}

/** The checkpointed worker as it was before the checkpoint. */
export interface OriginalWorker {
  pod: string;
  checksum: string;
  instance: string;
}

/**
 * The original worker's warm-up checksum and instance from its log (worker.mjs writes
 * `warm-up 1 (instance I, pid P)` and `warm-up done in S s, checksum C` before it
 * turns Ready); undefined when the log lacks either.
 */
export function originalWorkerFromLog(log: string): { checksum: string; instance: string } | undefined {
  const instance = /warm-up 1 \(instance ([0-9a-f]+)/.exec(log)?.[1];
  const checksum = /warm-up done in [\d.]+ s, checksum ([0-9a-f]{64})/.exec(log)?.[1];
  return instance && checksum ? { checksum, instance } : undefined;
}

/**
 * A restored worker against the original before the checkpoint: its state survived
 * when the checksum it recomputes now equals the original's, it is the same process
 * instance, and it warmed up once. The lines show both checksums.
 */
export function judgeRestoredWorker(original: Pick<OriginalWorker, 'checksum' | 'instance'>, restored: WorkerAnswer): { survived: boolean; lines: string[] } {
  const head = `restored worker: checksum ${restored.checksum.slice(0, 16)}... over its ${restored.mb ?? '?'} MiB state, warm-ups run: ${restored.warmups}; before the checkpoint: checksum ${original.checksum.slice(0, 16)}...`;
  const lost: string[] = [];
  if (restored.checksum !== original.checksum) lost.push(`checksum ${restored.checksum}, the original's ${original.checksum}`);
  if (restored.instance !== original.instance) lost.push(`instance ${restored.instance}, the original's ${original.instance} (a cold start)`);
  if (restored.warmups !== 1) lost.push(`warm-ups ${restored.warmups}, not 1`);
  if (lost.length === 0) return { survived: true, lines: [`${head} (the state survived; warm-up did not run again)`] };
  return { survived: false, lines: [head, `STATE LOST: ${lost.join('; ')}`] };
}

/** The checkpoint Job's pod (the original worker) and what its log says about it before the checkpoint. */
async function originalWorker(client: KubeClient, ns: string, jobName: string): Promise<OriginalWorker | { error: string }> {
  const { RESOURCES } = await import('../kube/types.js');
  const pod = (await client.list<Pod>(RESOURCES.pods, ns, { labelSelector: `${LABEL_JOB_NAME_LEGACY}=${jobName}` })).items[0]?.metadata.name;
  if (pod === undefined) return { error: `no pod of Job ${jobName} is left to read the original worker's checksum from` };
  const log = (await client.log?.(ns, pod)) ?? '';
  const found = originalWorkerFromLog(log);
  if (!found) return { error: `the checkpointed worker's log (pod ${pod}) has no warm-up checksum:\n${log.trim()}` };
  return { pod, ...found };
}

/** Ask the CPU sample worker for its checksum over 127.0.0.1:`port`. */
function askWorker(port: number): Promise<WorkerAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => socket.write('checksum\n'));
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5s')));
    socket.setEncoding('utf8').on('data', (t: string) => (text += t));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as WorkerAnswer);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', reject);
  });
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string, now: () => number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await cond())) {
    if (now() > deadline) throw new TimeoutError(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The CPU sample worker and its placeholder, written into `dir` with the worker script
 * of this installation and a free port (the process runtime runs them on this machine).
 */
async function cpuSamples(dir: string, manifestsDir: string): Promise<{ worker: string; placeholder: string; port: number }> {
  const port = await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const root = join(manifestsDir, '..');
  const worker = (await readFile(join(manifestsDir, 'samples', 'cpu-worker.yaml'), 'utf8'))
    .replaceAll('/opt/snapshotctl/', `${root}/`)
    .replace(/(name: CPU_WORKER_PORT\s+value: )"\d+"/, `$1"${port}"`);
  const out = { worker: join(dir, 'cpu-worker.yaml'), placeholder: join(dir, 'cpu-placeholder.yaml'), port };
  await writeFile(out.worker, worker);
  await writeFile(out.placeholder, await readFile(join(manifestsDir, 'samples', 'cpu-placeholder.yaml'), 'utf8'));
  return out;
}
