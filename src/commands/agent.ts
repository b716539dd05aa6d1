/**
 * `snapshotctl agent` (and the `snapshot-agent` binary): our snapshot agent as the
 * program a DaemonSet runs on each GPU node. complete → validate → run, as every
 * command; run() lasts until SIGTERM/SIGINT and resolves after a clean stop.
 */
import { UsageError } from '../errors.js';
import type { AgentLog, AgentLogLevel } from '../agent/agent.js';
import { DEFAULT_CONFIG_PATH, defaultFileConfig, parseAgentConfig, type AgentFileConfig } from '../agent/config-file.js';
import { ENGINE_NAMES, isEngineName, type EngineName } from '../agent/engines.js';
import { parseHostPort } from '../agent/health.js';
import { DEFAULT_RUNTIME, runtimeNames } from '../agent/runtimes.js';
import type { ServeAgentResult, StartedAgent } from '../agent/serve.js';
import { formatDuration, parseDuration } from './duration.js';

/** `--health-addr` default: every interface, port 8080. */
export const DEFAULT_HEALTH_ADDR = '0.0.0.0:8080';
/** `--shutdown-grace` default: inside a pod's default 30 s termination grace period. */
export const DEFAULT_SHUTDOWN_GRACE = '20s';
export const LOG_LEVELS: readonly AgentLogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Commander's raw options of `agent`. */
export interface RawAgentOptions {
  config?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
  nodeName?: string;
  namespace?: string;
  healthAddr?: string;
  engine?: string;
  runtime?: string;
  containerdAddress?: string;
  shutdownGrace?: string;
  logLevel?: string;
}

/** The completed options. */
export interface AgentOptions {
  configPath: string;
  /** The file's settings (defaults when the default path is absent). */
  config: AgentFileConfig;
  kubeconfig?: string;
  context?: string;
  nodeName: string;
  namespace?: string;
  /** Raw `--health-addr`; `off` serves no probes. */
  healthAddr: string;
  engine?: string;
  runtime: string;
  containerdAddress?: string;
  shutdownGrace: string;
  logLevel: string;
}

export interface AgentCompleteContext {
  env: NodeJS.ProcessEnv;
  /** Rejects with an error carrying `code` (ENOENT, EACCES, ...) like fs/promises. */
  readFile(path: string): Promise<string>;
}

/** Flags, then the environment (`NODE_NAME`, `POD_NAMESPACE`, `SNAPSHOT_LOG_LEVEL`), then the config file. */
export async function complete(raw: RawAgentOptions, ctx: AgentCompleteContext): Promise<AgentOptions> {
  const explicit = raw.config !== undefined;
  const configPath = raw.config ?? DEFAULT_CONFIG_PATH;
  let config: AgentFileConfig;
  try {
    config = parseAgentConfig(await ctx.readFile(configPath), configPath);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' && !explicit) config = defaultFileConfig();
    else if (typeof code === 'string') {
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : code;
      throw new UsageError(`--config ${configPath}: ${why}`, explicit ? 'pass the agent config file (Dynamo\'s config.yaml format), or leave --config out for the defaults' : undefined);
    } else throw err;
  }
  const opts: AgentOptions = {
    configPath,
    config,
    nodeName: raw.nodeName ?? ctx.env['NODE_NAME'] ?? '',
    healthAddr: raw.healthAddr ?? DEFAULT_HEALTH_ADDR,
    runtime: raw.runtime ?? DEFAULT_RUNTIME,
    ...(raw.containerdAddress !== undefined ? { containerdAddress: raw.containerdAddress } : {}),
    shutdownGrace: raw.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE,
    logLevel: raw.logLevel ?? ctx.env['SNAPSHOT_LOG_LEVEL'] ?? 'info',
  };
  const context = raw.kubeContext ?? raw.context;
  if (raw.kubeconfig !== undefined) opts.kubeconfig = raw.kubeconfig;
  if (context !== undefined) opts.context = context;
  const namespace = raw.namespace ?? (ctx.env['POD_NAMESPACE'] || undefined);
  if (namespace !== undefined) opts.namespace = namespace;
  if (raw.engine !== undefined) opts.engine = raw.engine;
  return opts;
}

/** Check the flags; throws `UsageError` (exit 2). */
export function validate(opts: AgentOptions): void {
  if (opts.nodeName.trim() === '') {
    throw new UsageError(
      'the agent needs its node name: pass --node-name or set NODE_NAME',
      'in a DaemonSet, set env NODE_NAME from the downward API (fieldRef spec.nodeName), as manifests/agent-daemonset.yaml does',
    );
  }
  if (opts.engine !== undefined && !isEngineName(opts.engine)) throw new UsageError(`--engine ${opts.engine}: unknown engine`, `engines: ${ENGINE_NAMES.join(', ')}`);
  if (!runtimeNames().includes(opts.runtime)) throw new UsageError(`--runtime ${opts.runtime}: unknown runtime`, `runtimes: ${runtimeNames().join(', ')}`);
  if (opts.healthAddr !== 'off' && !parseHostPort(opts.healthAddr)) {
    throw new UsageError(`--health-addr ${opts.healthAddr}: expected host:port (e.g. ${DEFAULT_HEALTH_ADDR} or 127.0.0.1:0) or off`);
  }
  if (parseDuration(opts.shutdownGrace) === undefined) throw new UsageError(`--shutdown-grace ${opts.shutdownGrace}: expected a duration such as 20s or 1m`);
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new UsageError(`log level ${opts.logLevel}: expected one of ${LOG_LEVELS.join(', ')}`);
}

export interface AgentRunDeps {
  env: NodeJS.ProcessEnv;
  log: AgentLog;
  signal: AbortSignal;
  onStarted?(info: StartedAgent): void;
}

/** Run the agent until the signal; resolves after a clean stop. */
export async function run(opts: AgentOptions, deps: AgentRunDeps): Promise<ServeAgentResult & { shutdownGrace: string }> {
  // Loaded here so that no other command pays for the agent and its engines.
  const { serveAgent } = await import('../agent/serve.js');
  const health = opts.healthAddr === 'off' ? undefined : parseHostPort(opts.healthAddr);
  const graceMs = parseDuration(opts.shutdownGrace) ?? 0;
  const result = await serveAgent(
    {
      nodeName: opts.nodeName.trim(),
      config: opts.config,
      runtime: opts.runtime,
      ...(opts.containerdAddress !== undefined ? { containerdAddress: opts.containerdAddress } : {}),
      shutdownGraceMs: graceMs,
      ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
      ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
      ...(opts.context !== undefined ? { context: opts.context } : {}),
      ...(opts.engine !== undefined ? { engine: opts.engine as EngineName } : {}),
      ...(health ? { health } : {}),
    },
    { env: deps.env, log: deps.log, signal: deps.signal, ...(deps.onStarted ? { onStarted: deps.onStarted } : {}) },
  );
  return { ...result, shutdownGrace: formatDuration(graceMs) };
}
