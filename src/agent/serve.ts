/**
 * The agent as a program on a node (`snapshotctl agent`, `snapshot-agent`): loads the
 * kubeconfig (in-cluster first), builds the runtime and engine, serves /healthz and
 * /readyz, runs the agent until the signal aborts, then drains it: no new work,
 * operations in flight get the grace period, the rest fail with a reason, leases are
 * released and watches closed. Prints nothing itself; lines go to `deps.log`.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { loadKubeConfig } from '../kube/config.js';
import { createKubeClientFromConfig } from '../kube/client.js';
import { RESOURCES } from '../kube/types.js';
import { LABEL_IS_CHECKPOINT_SOURCE, LABEL_TRUE } from '../protocol/constants.js';
import { startAgent, type AgentLog, type AgentTiming } from './agent.js';
import type { AgentFileConfig } from './config-file.js';
import { createCriuEngine, type CriuEngineOptions } from './criu/engine.js';
import { createCudaEngine } from './cuda/engine.js';
import type { NodeRuntime, SnapshotEngine } from './engine.js';
import { chooseEngine, type EngineName } from './engines.js';
import { startHealthServer, watchEventLoop, type HealthServer, type ProbeResult } from './health.js';
import { AGENT_RUNTIMES, runtimeNames } from './runtimes.js';
import { createSimEngine } from './sim-engine.js';
import { errorText } from './util.js';

/** The longest timer Node keeps (about 24.8 days): what "no limit" becomes. */
const NO_LIMIT_MS = 2_147_483_647;
/** A loop past due this long fails liveness. */
const STALL_LIMIT_MS = 10_000;
/** How long one readiness look at the API may take, and how long its answer is reused. */
const API_PROBE_TIMEOUT_MS = 2_000;
const API_PROBE_REUSE_MS = 1_000;

export interface ServeAgentOptions {
  nodeName: string;
  /** Namespace to serve; default the kubeconfig's (in a pod: the service account's). */
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  config: AgentFileConfig;
  /** Default: the best engine of the runtime whose probe passes. */
  engine?: EngineName;
  runtime: string;
  /** containerd's socket, for `--runtime containerd`. */
  containerdAddress?: string;
  /** Where /healthz and /readyz listen; undefined serves no probes. */
  health?: { host: string; port: number };
  /** How long operations in flight may take to finish after the signal. */
  shutdownGraceMs: number;
}

export interface ServeAgentDeps {
  env: NodeJS.ProcessEnv;
  log: AgentLog;
  /** Aborted on SIGTERM/SIGINT; its reason names the signal. */
  signal: AbortSignal;
  /** Service-account directory (tests). */
  serviceAccountDir?: string;
  /** Told once the agent is up (tests, and the CLI's "listening" line). */
  onStarted?(info: StartedAgent): void;
}

/** What a started agent reports. */
export interface StartedAgent {
  identity: string;
  namespace: string;
  engine: string;
  healthAddress?: string;
}

/** How the run ended. */
export interface ServeAgentResult {
  /** The signal (or other reason) that stopped it. */
  stoppedBy: string;
}

/** An engine by name, with the config file's criu settings. */
export function buildEngine(name: EngineName, config: AgentFileConfig, runtime: NodeRuntime | undefined): SnapshotEngine {
  if (name === 'sim') return createSimEngine(runtime ? { runtime } : {});
  const opts: Omit<CriuEngineOptions, 'phases' | 'name'> = {};
  if (runtime) opts.runtime = runtime;
  if (config.criuBinaryPath !== undefined) opts.criu = { argv: [config.criuBinaryPath], source: `criu.binaryPath ${config.criuBinaryPath}` };
  if (config.criuLogLevel !== undefined) opts.verbosity = config.criuLogLevel;
  return name === 'criu' ? createCriuEngine(opts) : createCudaEngine(opts);
}

function reasonText(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'a stop request';
}

/** Run the agent until `deps.signal` aborts. Throws typed errors for bad setup. */
export async function serveAgent(opts: ServeAgentOptions, deps: ServeAgentDeps): Promise<ServeAgentResult> {
  const { log } = deps;
  const loaded = await loadKubeConfig({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    env: deps.env,
    preferInCluster: true,
    ...(deps.serviceAccountDir !== undefined ? { serviceAccountDir: deps.serviceAccountDir } : {}),
  });
  const namespace = opts.namespace ?? loaded.namespace;

  const entry = AGENT_RUNTIMES[opts.runtime];
  if (!entry) throw new UsageError(`--runtime ${opts.runtime}: unknown runtime`, `runtimes: ${runtimeNames().join(', ')}`);
  const runtime = await entry.create({ log, env: deps.env, ...(opts.containerdAddress ? { containerdAddress: opts.containerdAddress } : {}) });
  if (opts.engine !== undefined && !runtime.engines.includes(opts.engine)) {
    throw new UsageError(
      `--engine ${opts.engine} does not work with --runtime ${runtime.name} (${entry.description})`,
      `engines for this runtime: ${runtime.engines.join(', ')}`,
    );
  }
  const candidates = (opts.engine !== undefined ? [opts.engine] : runtime.engines).map((n) => buildEngine(n, opts.config, runtime.node));
  const engine = await chooseEngine(opts.engine, candidates)
    .then((c) => c.engine)
    .catch((err: unknown) => {
      throw new UsageError(errorText(err), 'pick an engine that works on this node with --engine');
    });

  const userAgent = `snapshot-agent/${opts.nodeName}`;
  const client = createKubeClientFromConfig(loaded, { userAgent });
  // Readiness asks the API itself: one attempt, a short limit, no retries.
  const probeClient = createKubeClientFromConfig(loaded, { userAgent, retry: { maxAttempts: 1 }, requestTimeoutMs: API_PROBE_TIMEOUT_MS });

  if (!existsSync(opts.config.basePath)) {
    // The first checkpoint creates it, but on the container's own filesystem a
    // checkpoint is lost with the container and no other node can restore it.
    log('warn', `checkpoint storage ${opts.config.basePath} (storage.basePath) does not exist: mount the checkpoint volume there`);
  }
  const timing: Partial<AgentTiming> = {};
  if (opts.config.restoreReadyTimeoutMs !== undefined) timing.restoreReadyTimeoutMs = opts.config.restoreReadyTimeoutMs === 0 ? NO_LIMIT_MS : opts.config.restoreReadyTimeoutMs;

  const agent = startAgent({
    client,
    nodeName: opts.nodeName,
    storageRoot: opts.config.basePath,
    engine,
    namespace,
    signalContainer: (ns, pod, sig) => runtime.signalContainer(ns, pod, sig),
    ...(runtime.lookupPid ? { lookupPid: runtime.lookupPid.bind(runtime) } : {}),
    log,
    timing,
    ...(opts.config.allowCrossNamespace ? { allowCrossNamespaceRestore: true } : {}),
  });

  let stopping = false;
  let lastProbe: { at: number; result: ProbeResult } | undefined;
  let probing: Promise<ProbeResult> | undefined;
  const apiReachable = (): Promise<ProbeResult> => {
    if (lastProbe && Date.now() - lastProbe.at < API_PROBE_REUSE_MS) return Promise.resolve(lastProbe.result);
    probing ??= probeClient
      .list(RESOURCES.pods, namespace, {
        labelSelector: `${LABEL_IS_CHECKPOINT_SOURCE}=${LABEL_TRUE}`,
        fieldSelector: `spec.nodeName=${opts.nodeName}`,
        signal: AbortSignal.timeout(API_PROBE_TIMEOUT_MS),
      })
      .then(
        (): ProbeResult => ({ ok: true, detail: 'ok' }),
        (err: unknown): ProbeResult => ({ ok: false, detail: `not ready: the API server did not answer (${errorText(err)})` }),
      )
      .then((result) => {
        lastProbe = { at: Date.now(), result };
        probing = undefined;
        return result;
      });
    return probing;
  };
  const loop = watchEventLoop();
  let health: HealthServer | undefined;
  const syncWatch = setInterval(() => {
    if (!agent.synced) return;
    clearInterval(syncWatch);
    log('info', `watching checkpoint and restore pods on node ${opts.nodeName} in namespace ${namespace}: synced`);
  }, 100);

  try {
    if (opts.health) {
      const where = `${opts.health.host}:${opts.health.port}`;
      health = await startHealthServer({
        ...opts.health,
        live: () => {
          const stalled = loop.stalledMs();
          return stalled > STALL_LIMIT_MS ? { ok: false, detail: `event loop stalled for ${Math.round(stalled / 1000)} s` } : { ok: true, detail: 'ok' };
        },
        ready: async () => {
          if (stopping) return { ok: false, detail: 'not ready: shutting down' };
          if (!agent.synced) return { ok: false, detail: 'not ready: pod informers not synced yet' };
          return apiReachable();
        },
      }).catch((err: unknown) => {
        throw new UsageError(`--health-addr ${where}: cannot listen (${errorText(err)})`, 'pick a free port, e.g. --health-addr 0.0.0.0:8080');
      });
    }
    log(
      'info',
      `snapshot agent on node ${opts.nodeName}: namespace ${namespace}, engine ${engine.name}${engine.simulated ? ' (simulated)' : ''}, runtime ${runtime.name}, ` +
        `storage ${opts.config.basePath}, config ${opts.config.source ?? 'built-in defaults'}, API ${loaded.server} (${loaded.source})` +
        (health ? `, probes on http://${health.address}/healthz and /readyz` : ''),
    );
    if (opts.config.allowCrossNamespace) log('warn', 'config: restore.allowCrossNamespace is true: pods in this namespace may restore checkpoints that another namespace made');
    if (opts.config.unused.length > 0) log('info', `config: accepted for compatibility with Dynamo's agent but not used here: ${opts.config.unused.join(', ')}`);
    deps.onStarted?.({ identity: agent.identity, namespace, engine: engine.name, ...(health ? { healthAddress: health.address } : {}) });

    if (!deps.signal.aborted) await new Promise<void>((resolve) => deps.signal.addEventListener('abort', () => resolve(), { once: true }));
    const by = reasonText(deps.signal);
    stopping = true;
    log('info', `received ${by}: taking no new work; operations in flight have ${Math.round(opts.shutdownGraceMs / 1000)} s to finish`);
    await agent.stop({
      graceMs: opts.shutdownGraceMs,
      reason: `the snapshot agent on node ${opts.nodeName} was stopped (${by}) before this finished; run it again`,
    });
    return { stoppedBy: by };
  } finally {
    stopping = true;
    clearInterval(syncWatch);
    await agent.stop();
    await health?.close();
    loop.stop();
    await runtime.close?.();
  }
}
