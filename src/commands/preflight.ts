/**
 * `snapshotctl preflight --manifest FILE`: will checkpoint and restore of this worker
 * work on this cluster? Runs every check and reports each (a checklist, never a first
 * failure): the manifest rules checkpoint applies, storage discovery, the PVC Bound,
 * the agent DaemonSet's readiness and nodes, the caller's permissions, and a
 * short-lived probe pod with the worker's image on an agent node (seccomp profile
 * present, placeholder tools in the image).
 */
import { EXIT, Interrupted, SnapshotError, UsageError, ValidationError, type Finding } from '../errors.js';
import { explainApiError } from '../kube/errors.js';
import type { KubeClient } from '../kube/types.js';
import { checkForCheckpoint, parsePodManifest, SECCOMP_PROFILE, type KubeObject } from '../protocol/index.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { parseDuration } from './duration.js';
import { kubeTargetOf } from './list.js';
import { checkManifestOrThrow, readManifest } from './manifest-input.js';
import { checkAgent, checkPermissions, checkPvc, checkStorage, isUnreachable, type AccessCheck, type CheckId, type PreflightCheck } from './preflight-checks.js';
import { buildProbePod, runProbePod, type ProbeOutcome, type ProbeTools } from './preflight-probe.js';
import { assertName, resolveNamespace } from './common-options.js';
import { throwIfInterrupted } from './operation.js';

export type { CheckId, CheckItem, CheckStatus, PreflightCheck } from './preflight-checks.js';

export type PreflightOutput = 'kv' | 'json' | 'yaml';
const OUTPUTS: readonly PreflightOutput[] = ['kv', 'json', 'yaml'];
/** Default --timeout: how long the probe pod may take (image pull included). */
export const DEFAULT_PROBE_TIMEOUT = '120s';

export interface RawPreflightOptions {
  manifest?: string;
  namespace?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
  output?: string;
  timeout?: string;
  node?: string;
  skipProbe?: boolean;
  skipImageCheck?: boolean;
  config?: string;
  disableCudaCheckpointJobFile?: boolean;
}

export interface PreflightOptions extends KubeTarget {
  manifestSource: string;
  manifestText: string;
  namespace: string;
  output: PreflightOutput;
  timeoutMs: number;
  node?: string;
  skipProbe: boolean;
  skipImageCheck: boolean;
  config?: string;
  /** cuda-checkpoint wrapping on (no --disable-cuda-checkpoint-job-file): `--launch-job` is needed. */
  wrapCudaCheckpoint: boolean;
}

/** What `preflight` returns (and prints as json/yaml); field order is the output's. */
export interface PreflightResult {
  status: 'passed' | 'failed';
  namespace: string;
  manifest: string;
  image: string | null;
  storage: { pvc: string; basePath: string; daemonSet: string | null } | null;
  agent: { daemonSet: string; desired: number; ready: number; nodes: string[] | null } | null;
  permissions: AccessCheck[];
  probe: { pod: string; node: string | null; state: ProbeOutcome['state']; tools: ProbeTools | null; reason: string | null } | null;
  checks: PreflightCheck[];
}

/** Read the manifest and fill defaults; a missing or unreadable file is a usage error. */
export async function complete(raw: RawPreflightOptions, deps: Pick<CommandDeps, 'readFile' | 'readStdin' | 'contextNamespace'>): Promise<PreflightOptions> {
  if (!raw.manifest) throw new UsageError('preflight needs --manifest', 'pass --manifest FILE with the worker Pod manifest you will checkpoint (or - for stdin)');
  const target = kubeTargetOf(raw);
  const timeout = raw.timeout ?? DEFAULT_PROBE_TIMEOUT;
  const timeoutMs = parseDuration(timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout "${timeout}" is not a duration`, 'use Go-style durations such as 90s or 5m');
  const text = await readManifest(raw.manifest, deps);
  const manifestNs = manifestObject(text)?.metadata?.namespace;
  const contextNs = raw.namespace || manifestNs ? undefined : await deps.contextNamespace(target);
  return {
    ...target,
    manifestSource: raw.manifest,
    manifestText: text,
    namespace: resolveNamespace(raw.namespace, typeof manifestNs === 'string' ? manifestNs : undefined, contextNs, raw.manifest),
    output: (raw.output ?? 'kv') as PreflightOutput,
    timeoutMs,
    ...(raw.node !== undefined ? { node: raw.node } : {}),
    skipProbe: raw.skipProbe === true,
    skipImageCheck: raw.skipImageCheck === true,
    ...(raw.config !== undefined ? { config: raw.config } : {}),
    wrapCudaCheckpoint: raw.disableCudaCheckpointJobFile !== true,
  };
}

/** Pure checks of the flags. */
export function validate(opts: PreflightOptions): void {
  if (!OUTPUTS.includes(opts.output)) throw new UsageError(`--output "${opts.output}" is not supported by preflight`, `use one of: ${OUTPUTS.join(', ')}`);
  if (opts.timeoutMs <= 0) throw new UsageError('--timeout must be greater than 0 for preflight', 'e.g. --timeout 2m');
  if (opts.node === '') throw new UsageError('--node needs a node name', 'e.g. --node gpu-1');
  if (opts.node !== undefined) assertName('node', opts.node, '--node', '--node gpu-1');
}

/** 0 all passed (warnings allowed), 3 a check could not read the cluster, 1 otherwise. */
export function preflightExitCode(result: PreflightResult): number {
  const failed = result.checks.filter((c) => c.status === 'fail');
  if (failed.length === 0) return EXIT.ok;
  return failed.some((c) => c.clusterError) ? EXIT.cluster : EXIT.failed;
}

/** The manifest as parsed, even when it breaks rules (its image is still worth probing). */
function manifestObject(text: string): KubeObject | undefined {
  const { object } = parsePodManifest(text);
  return object && typeof object === 'object' ? (object as KubeObject) : undefined;
}

function findingLine(f: Finding): string {
  return `${f.rule} ${f.path ? `${f.path}: ` : ''}${f.message}`;
}

/** The checkpoint rules (offline), exactly as `checkpoint` applies them before sending anything. */
async function checkManifest(opts: PreflightOptions, deps: CommandDeps): Promise<PreflightCheck> {
  const base = { id: 'manifest' as const, title: `manifest ${opts.manifestSource} is a usable worker Pod` };
  const warnings: string[] = [];
  const collect = { phase: () => {}, info: () => {}, warn: (t: string) => void warnings.push(t) };
  try {
    await checkManifestOrThrow(
      opts.manifestText,
      opts.manifestSource,
      (p) => checkForCheckpoint(p, { requireCommand: opts.wrapCudaCheckpoint }),
      { purpose: 'checkpoint', skipImageCheck: opts.skipImageCheck, ...(opts.config !== undefined ? { config: opts.config } : {}) },
      { readFile: deps.readFile, reporter: collect },
    );
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;

    const image = err.findings.some((f) => f.rule === 'SNAP022' || f.rule === 'SNAP023') ? '; --skip-image-check accepts an image outside the placeholder-image policy' : '';
    return {
      ...base,
      status: 'fail',
      detail: `${err.findings.length} error${err.findings.length === 1 ? '' : 's'}`,
      fix: `fix the fields named; \`snapshotctl validate ${opts.manifestSource}\` explains every rule${image}`,
      items: [...err.findings.map((f) => ({ name: findingLine(f), ok: false })), ...warnings.map((name) => ({ name, ok: false, warning: true }))],
    };
  }
  if (warnings.length > 0) {
    return { ...base, status: 'warn', detail: `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`, fix: `\`snapshotctl validate ${opts.manifestSource}\` explains each`, items: warnings.map((name) => ({ name, ok: false, warning: true })) };
  }
  return { ...base, status: 'pass', detail: 'the checkpoint rules pass' };
}

const SECCOMP_TITLE = `seccomp profile ${SECCOMP_PROFILE} is installed on the node`;
const IMAGE_TITLE = 'image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep';

function skipped(id: CheckId, title: string, why: string): PreflightCheck {
  return { id, title, status: 'skip', detail: why };
}

/** The seccomp and image checks from the probe's outcome. */
export function probeChecks(outcome: ProbeOutcome, opts: Pick<PreflightOptions, 'wrapCudaCheckpoint' | 'namespace'>): PreflightCheck[] {
  const on = outcome.node ? ` on node ${outcome.node}` : '';
  if (outcome.state === 'not-started' || outcome.state === 'timeout') {
    const said = `${outcome.reason}${outcome.message ? `: ${outcome.message}` : ''}`;
    if (/seccomp/i.test(said)) {
      return [
        {
          id: 'seccomp',
          title: SECCOMP_TITLE,
          status: 'fail',
          detail: `the probe pod could not start${on} (${said})`,
          fix: `install the profile on the agent nodes: kubectl apply -f manifests/seccomp-installer.yaml -n ${opts.namespace} (checkpoint and restore pods need it too)`,
        },
        skipped('image', IMAGE_TITLE, 'not run: the probe pod could not start'),
      ];
    }
    const pull = /ImagePull|ErrImage|InvalidImageName/.test(outcome.reason);
    const fix =
      outcome.state === 'timeout'
        ? `see why with \`kubectl describe pod ${outcome.pod} -n ${opts.namespace}\` while it runs, or give it longer with --timeout (a large image takes a while to pull)`
        : pull
          ? 'check the image name and tag, and that the manifest\'s imagePullSecrets can pull it on the agent nodes'
          : `see \`kubectl get events -n ${opts.namespace} --field-selector involvedObject.name=${outcome.pod}\``;
    return [
      skipped('seccomp', SECCOMP_TITLE, 'unknown: the probe container never started'),
      { id: 'image', title: IMAGE_TITLE, status: 'fail', detail: `the probe pod ${outcome.state === 'timeout' ? 'did not finish in time' : 'could not start'}${on} (${said})`, fix },
    ];
  }
  const seccomp: PreflightCheck = { id: 'seccomp', title: SECCOMP_TITLE, status: 'pass', detail: `a pod with it started${on}` };
  if (outcome.state === 'bad-output') {
    return [
      seccomp,
      {
        id: 'image',
        title: IMAGE_TITLE,
        status: 'fail',
        detail: `the probe printed no result (exit code ${outcome.exitCode ?? 'unknown'}${outcome.message ? `: ${outcome.message}` : ''})`,
        fix: 'the probe needs /bin/sh in the image (placeholder images have it); check the image runs as a normal container',
      },
    ];
  }
  const t = outcome.tools;
  const items = [
    { name: 'criu', ok: t.criu },
    { name: 'cuda-checkpoint', ok: t['cuda-checkpoint'] },
    { name: 'cuda-checkpoint --launch-job', ok: t['cuda-checkpoint'] && t['launch-job'] },
    { name: '/usr/local/bin/nsrestore', ok: t.nsrestore },
    { name: 'sleep', ok: t.sleep },
  ];
  const missing = items.filter((i) => !i.ok && i.name !== 'cuda-checkpoint --launch-job').map((i) => i.name);
  if (missing.length > 0) {
    return [
      seccomp,
      {
        id: 'image',
        title: IMAGE_TITLE,
        status: 'fail',
        detail: `missing: ${missing.join(', ')}${missing.length >= 3 ? ' (is this the raw runtime image instead of its placeholder image?)' : ''}`,
        fix: 'use the placeholder image: the runtime image plus criu, cuda-checkpoint (on PATH), nsrestore at /usr/local/bin/nsrestore and sleep (Dynamo publishes them as ...-placeholder images)',
        items,
      },
    ];
  }
  if (!t['launch-job'] && opts.wrapCudaCheckpoint) {
    return [
      seccomp,
      {
        id: 'image',
        title: IMAGE_TITLE,
        status: 'warn',
        detail: 'cuda-checkpoint has no --launch-job (NVIDIA\'s public cuda-checkpoint 580.x lacks it), so the wrapped worker command would fail',
        fix: 'pass --disable-cuda-checkpoint-job-file to snapshotctl checkpoint',
        items,
      },
    ];
  }
  return [seccomp, { id: 'image', title: IMAGE_TITLE, status: 'pass', detail: `all present${t['launch-job'] ? ', cuda-checkpoint supports --launch-job' : ''}`, items }];
}

/** Everything the cluster checks found, for the probe and the result. */
interface ClusterFacts {
  checks: PreflightCheck[];
  permissions: AccessCheck[];
  storage: PreflightResult['storage'];
  agent: PreflightResult['agent'];
}

async function checkCluster(client: KubeClient, opts: PreflightOptions, deps: CommandDeps): Promise<ClusterFacts> {
  const ns = opts.namespace;
  deps.reporter.phase(`checking permissions in namespace "${ns}"`);
  const rbac = await checkPermissions(client, ns, deps.signal);
  deps.reporter.phase(`looking for the snapshot agent in namespace "${ns}"`);
  const found = await checkStorage(client, ns, deps.signal);
  const checks = [rbac.check, found.check];
  const facts: ClusterFacts = { checks, permissions: rbac.access, storage: null, agent: null };
  if (!found.storage || !found.daemonSet) {
    checks.push(skipped('pvc', 'checkpoint PVC is Bound', 'not run: storage unknown'), skipped('agent', 'snapshot agent DaemonSet is ready', 'not run: no agent DaemonSet'));
    return facts;
  }
  facts.storage = { pvc: found.storage.pvcName, basePath: found.storage.basePath, daemonSet: found.daemonSet.metadata.name ?? null };
  checks.push(await checkPvc(client, ns, found.storage.pvcName, deps.signal));
  const agent = await checkAgent(client, ns, found.daemonSet, opts.node, deps.signal);
  checks.push(agent.check);
  facts.agent = { daemonSet: found.daemonSet.metadata.name ?? '', desired: agent.desired, ready: agent.ready, nodes: agent.nodes ?? null };
  return facts;
}

/** Where the probe may run: the pinned node, the ready agent nodes, anywhere (nodes unknown), or nowhere. */
function probeNodes(opts: PreflightOptions, agent: PreflightResult['agent']): { nodes?: string[] } | { none: string } {
  if (!agent) return { none: 'not run: no agent DaemonSet' };
  if (agent.nodes === null) return opts.node !== undefined ? { nodes: [opts.node] } : {};
  if (agent.nodes.length === 0) return { none: 'not run: no node runs a Ready snapshot agent' };
  if (opts.node !== undefined) return agent.nodes.includes(opts.node) ? { nodes: [opts.node] } : { none: `not run: no Ready agent on node "${opts.node}"` };
  return { nodes: agent.nodes };
}

/** Run every check; returns the report (never throws for a failed check). */
export async function run(opts: PreflightOptions, deps: CommandDeps): Promise<PreflightResult> {
  deps.reporter.phase(`checking manifest ${opts.manifestSource}`);
  const manifestCheck = await checkManifest(opts, deps);
  const obj = manifestObject(opts.manifestText);
  const spec = (obj?.['spec'] ?? {}) as { containers?: Array<{ image?: unknown }>; imagePullSecrets?: unknown; tolerations?: unknown };
  const image = typeof spec.containers?.[0]?.image === 'string' && spec.containers[0].image !== '' ? spec.containers[0].image : null;
  const result: PreflightResult = { status: 'failed', namespace: opts.namespace, manifest: opts.manifestSource, image, storage: null, agent: null, permissions: [], probe: null, checks: [manifestCheck] };

  const client = await deps.kube(opts, deps.logger);
  let facts: ClusterFacts;
  try {
    facts = await checkCluster(client, opts, deps);
  } catch (err) {
    throwIfInterrupted(deps.signal);
    if (!isUnreachable(err)) throw err;
    // No answer at all: every cluster check fails the same way (exit 3).
    const { message, hint } = explainApiError(err);
    const titles: Array<[CheckId, string]> = [
      ['rbac', 'permissions for checkpoint and restore'],
      ['storage', 'checkpoint storage discovered from the agent DaemonSet'],
      ['pvc', 'checkpoint PVC is Bound'],
      ['agent', 'snapshot agent DaemonSet is ready'],
      ['seccomp', SECCOMP_TITLE],
      ['image', IMAGE_TITLE],
    ];
    result.checks.push(...titles.map(([id, title]): PreflightCheck => ({ id, title, status: 'fail', detail: message, fix: hint, clusterError: true })));
    return result;
  }
  // A request cut short by Ctrl-C reads as a failed check: say interrupted instead.
  throwIfInterrupted(deps.signal);
  result.checks.push(...facts.checks);
  result.permissions = facts.permissions;
  result.storage = facts.storage;
  result.agent = facts.agent;

  const where = probeNodes(opts, facts.agent);
  if (opts.skipProbe) {
    result.checks.push(skipped('seccomp', SECCOMP_TITLE, 'not run: --skip-probe'), skipped('image', IMAGE_TITLE, 'not run: --skip-probe'));
  } else if (obj === undefined) {
    result.checks.push(skipped('seccomp', SECCOMP_TITLE, 'not run: the manifest could not be parsed'), skipped('image', IMAGE_TITLE, 'not run: the manifest could not be parsed'));
  } else if (image === null) {
    result.checks.push(skipped('seccomp', SECCOMP_TITLE, 'not run: the manifest names no image'), { id: 'image', title: IMAGE_TITLE, status: 'fail', detail: 'the manifest names no image (spec.containers[0].image)', fix: 'set the placeholder image in the manifest' });
  } else if ('none' in where) {
    result.checks.push(skipped('seccomp', SECCOMP_TITLE, where.none), skipped('image', IMAGE_TITLE, where.none));
  } else {
    deps.reporter.phase(`starting a probe pod with image ${image}`);
    const pod = buildProbePod({
      namespace: opts.namespace,
      image,
      ...(Array.isArray(spec.imagePullSecrets) ? { imagePullSecrets: spec.imagePullSecrets.filter((s): s is { name: string } => typeof (s as { name?: unknown })?.name === 'string') } : {}),
      ...(Array.isArray(spec.tolerations) ? { tolerations: spec.tolerations } : {}),
      ...where,
    });
    let outcome: ProbeOutcome | undefined;
    try {
      outcome = await runProbePod(client, pod, { signal: deps.signal, timeoutMs: opts.timeoutMs, reporter: deps.reporter, ...(deps.leftovers ? { leftovers: deps.leftovers } : {}) });
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      throwIfInterrupted(deps.signal);
      const { message, hint } = err instanceof SnapshotError ? { message: err.message, hint: err.hint ?? '' } : explainApiError(err);
      result.checks.push(
        { id: 'seccomp', title: SECCOMP_TITLE, status: 'fail', detail: `the probe pod could not be run: ${message}`, fix: hint, clusterError: true },
        skipped('image', IMAGE_TITLE, 'not run: the probe pod could not be run'),
      );
    }
    if (outcome) {
      result.probe = {
        pod: outcome.pod,
        node: outcome.node,
        state: outcome.state,
        tools: outcome.state === 'ran' ? outcome.tools : null,
        reason: outcome.state === 'ran' ? null : outcome.state === 'bad-output' ? outcome.message : `${outcome.reason}${outcome.message ? `: ${outcome.message}` : ''}`,
      };
      result.checks.push(...probeChecks(outcome, opts));
    }
  }
  result.status = result.checks.some((c) => c.status === 'fail') ? 'failed' : 'passed';
  return result;
}
