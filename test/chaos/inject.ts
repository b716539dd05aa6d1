/**
 * How each (flow, step, fault) of the matrix is staged on a lane's dev cluster: which
 * request gets the fault, when a stream is cut or a signal sent, and a record of what
 * actually fired, so a case whose fault never reached the CLI fails instead of passing
 * vacuously.
 */
import type { ChildProcess } from 'node:child_process';
import type { Fault as ApiFault, FaultEffect, FaultVerb } from '../../src/dev/api/faults.js';
import { ANNOTATION_CHECKPOINT_STATUS, ANNOTATION_RESTORE_STATUS, LABEL_JOB_NAME } from '../../src/protocol/index.js';
import { createPlaceholder, sleep, writeManifest, type RunCliOptions } from '../e2e/harness.js';
import { BASE_CHECKPOINT_ID, CLI_USER, type Lane } from './lanes.js';
import type { Fault, Flow, MatrixCase } from './matrix-table.js';

export const NS = 'default';
/** `--timeout` of every case; short, so the timeout and hang checks stay cheap. */
export const TIMEOUT_MS = 3000;
export const POLL_INTERVAL = '200ms';

/** What each flow writes and waits on. */
export interface FlowShape {
  /** The resource whose verdict the CLI waits for. */
  awaited: 'jobs' | 'pods';
  /** The run's one write. */
  write: { verb: 'create' | 'patch'; resource: 'jobs' | 'pods' };
  /** True when the run created its object (and so must delete it on failure). */
  creates: boolean;
}

export const SHAPES: Record<Flow, FlowShape> = {
  checkpoint: { awaited: 'jobs', write: { verb: 'create', resource: 'jobs' }, creates: true },
  'restore --manifest': { awaited: 'pods', write: { verb: 'create', resource: 'pods' }, creates: true },
  'restore --pod': { awaited: 'pods', write: { verb: 'patch', resource: 'pods' }, creates: false },
};

/** Object names of a case: unique per case, so no agent work of an earlier case can touch them. */
export function caseNames(c: MatrixCase): { pod: string; awaited: string } {
  const pod = `${c.flow === 'checkpoint' ? 'ck' : c.flow === 'restore --manifest' ? 'rm' : 'rp'}${c.id}`;
  return { pod, awaited: c.flow === 'checkpoint' ? `${pod}-checkpoint` : pod };
}

/** A staged case: the command line, runCli options, and what fired. */
export interface Staged {
  args: string[];
  cli: Pick<RunCliOptions, 'signalAfter' | 'onSpawn'>;
  /** The restore --pod target as created (its uid must survive the run). */
  placeholderUid?: string;
  /** Runs beside the CLI (mid-wait cuts and evictions); resolves once it gave up or acted. */
  during?: (isRunning: () => boolean) => Promise<void>;
  /** Why the fault did not reach the CLI, or undefined when it did. */
  notFired: () => string | undefined;
  /** The fault registered on the server, if any (for the Retry-After timing check). */
  rule?: ApiFault;
}

/** The server-side effect of an API fault, and how many times it fires (undefined: always). */
function apiEffect(fault: Fault, step: MatrixCase['step']): { effect: FaultEffect; times?: number } | undefined {
  switch (fault) {
    case '503':
      // Retry-After: 0 keeps the suite fast; 429 below proves Retry-After is honoured.
      return { effect: { kind: 'status', code: 503, retryAfterSeconds: 0 }, times: 2 };
    case '503 always':
      // The server's own Retry-After (1 s): the client's give-up path as users meet it.
      return { effect: { kind: 'status', code: 503 } };
    case '429 Retry-After':
      return { effect: { kind: 'status', code: 429, retryAfterSeconds: 1 }, times: 1 };
    case 'connection reset':
      return { effect: { kind: 'reset' }, times: step === 'create' ? 1 : 2 };
    case '410 Gone':
      return { effect: { kind: 'status', code: 410 }, times: 1 };
    case '403':
      return { effect: { kind: 'status', code: 403 } };
    case 'watch 410 always':
      return { effect: { kind: 'status', code: 410 } };
    case 'watch 500 always':
      return { effect: { kind: 'status', code: 500 } };
    case 'unresponsive':
      // Far past --timeout and the grace period: as good as never.
      return { effect: { kind: 'delay', ms: 20_000 } };
    default:
      return undefined;
  }
}

/** The faults that never go away are the CLI's alone: an agent meeting them could not do its part. */
function whose(fault: Fault): { user?: string } {
  return fault === 'watch 410 always' || fault === 'watch 500 always' || fault === 'unresponsive' ? { user: CLI_USER } : {};
}

/** Verbs that get the fault after a cut: the resumed watch, or the list a 410 forces. */
function resumeVerbs(fault: Fault): FaultVerb[] {
  return fault === '410 Gone' || fault === '403' || fault === 'watch 410 always' || fault === 'watch 500 always' ? ['watch'] : ['list', 'watch'];
}

/** The agent's final verdict on the awaited object (`in_progress` is not one). */
function verdictOf(lane: Lane, shape: FlowShape, name: string): string | undefined {
  const obj = lane.cluster.api.store.get(shape.awaited, NS, name);
  const v = obj?.metadata.annotations?.[shape.awaited === 'jobs' ? ANNOTATION_CHECKPOINT_STATUS : ANNOTATION_RESTORE_STATUS];
  return v === 'completed' || v === 'failed' ? v : undefined;
}

/** The CLI's open watch streams on `resource` (opened during this case). */
function cliWatches(lane: Lane, resource: string) {
  return lane.watches.filter((w) => w.open() && w.facts.resource === resource && w.facts.namespace === NS);
}

/** Put the case's objects and faults in place; returns how to run it. */
export async function stage(lane: Lane, c: MatrixCase): Promise<Staged> {
  const cluster = lane.cluster;
  const api = cluster.api;
  const shape = SHAPES[c.flow];
  const { pod, awaited } = caseNames(c);
  const setAgents = (f: Partial<{ failAll: boolean; silent: boolean; delayMs: number }>) => {
    for (const agent of cluster.agents.values()) Object.assign(agent.faults, f);
  };

  let args: string[];
  let placeholderUid: string | undefined;
  if (c.flow === 'restore --pod') {
    const created = await createPlaceholder(cluster, (p) => {
      p.metadata.name = pod;
    });
    placeholderUid = created.metadata.uid;
    args = ['restore', '--pod', pod, '--checkpoint-id', BASE_CHECKPOINT_ID];
  } else {
    const manifest = await writeManifest(cluster, `${pod}.yaml`, (p) => {
      p.metadata.name = pod;
    });
    args =
      c.flow === 'checkpoint'
        ? ['checkpoint', '--manifest', manifest, '--checkpoint-id', `chaos-${c.id}`]
        : ['restore', '--manifest', manifest, '--checkpoint-id', BASE_CHECKPOINT_ID];
  }
  // The matrix's steps are the operation's own calls; restore's look first (a Job list,
  // a reader pod) is left out here and tested in test/e2e/restore-verify.test.ts.
  if (c.flow !== 'checkpoint') args.push('--no-verify');
  args.push('--timeout', `${TIMEOUT_MS / 1000}s`, '--poll-interval', POLL_INTERVAL);
  const staged: Staged = { args, cli: {}, notFired: () => undefined, ...(placeholderUid ? { placeholderUid } : {}) };

  const isSignal = c.fault === 'SIGINT' || c.fault === 'SIGTERM';
  const signal = c.fault === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  let signalled = false;
  const signalWhen = (cond: () => boolean): void => {
    staged.cli.signalAfter = {
      signal,
      when: () => {
        if (!cond()) return false;
        signalled = true;
        return true;
      },
    };
    staged.notFired = () => (signalled ? undefined : `${signal} was never sent`);
  };

  // The request each step stands for (the create/patch; discovery's DaemonSet list).
  const stepMatch =
    c.step === 'discovery'
      ? { verb: 'list' as const, resource: 'daemonsets' }
      : c.step === 'create'
        ? { verb: shape.write.verb, resource: shape.write.resource, ...(shape.write.verb === 'patch' ? { name: pod } : {}) }
        : { verb: 'watch' as const, resource: shape.awaited };

  if (c.step === 'discovery' || c.step === 'create' || c.step === 'first watch') {
    // A placeholder that is already Ready is restored in a few ms, before the CLI's
    // first list: hold the verdict so the CLI surely opens its watch.
    if (c.step === 'first watch') setAgents({ delayMs: 1200 });
    if (isSignal) {
      // Hold the step's request long enough for the signal to land while it is in flight.
      const held = api.faults.add({ ...stepMatch, namespace: NS, times: 1, effect: { kind: 'delay', ms: c.step === 'first watch' ? 2000 : 1200 } });
      signalWhen(() => held.hits > 0);
      return staged;
    }
    const eff = c.fault === 'watch closed' ? { effect: { kind: 'dropWatch' } as FaultEffect, times: 1 } : apiEffect(c.fault, c.step);
    if (!eff) throw new Error(`chaos: no staging for ${c.step} × ${c.fault}`);
    const rule = api.faults.add({ ...stepMatch, namespace: NS, ...whose(c.fault), effect: eff.effect, ...(eff.times !== undefined ? { times: eff.times } : {}) });
    staged.rule = rule;
    const want = eff.times ?? 1;
    staged.notFired = () => (rule.hits >= want ? undefined : `the ${c.fault} fault on ${stepMatch.verb} ${stepMatch.resource} fired ${rule.hits} of ${want} times`);
    return staged;
  }

  if (c.step === 'mid-wait') {
    const watchOpen = () => cliWatches(lane, shape.awaited).length > 0;
    if (c.fault === 'server gone') {
      // No verdict can come once the server is gone; none may come before it goes either.
      setAgents({ delayMs: 30_000 });
      let killed = false;
      staged.during = async (running) => {
        while (running() && !watchOpen()) await sleep(10);
        if (!running()) return;
        await sleep(100);
        lane.broken = true;
        killed = true;
        await api.close();
      };
      staged.notFired = () => (killed ? undefined : 'the API server was never killed');
      return staged;
    }
    if (isSignal) {
      setAgents({ silent: true });
      signalWhen(watchOpen);
      return staged;
    }
    if (c.fault === 'pod evicted') {
      // The agent is slow (its verdict would come long after --timeout): only the
      // eviction can end the wait.
      setAgents({ delayMs: 30_000 });
      let evicted: string | undefined;
      const target = (): string | undefined => {
        if (c.flow !== 'checkpoint') return pod;
        return api.store.list('pods', { namespace: NS, labelSelector: `${LABEL_JOB_NAME}=${awaited}` })[0]?.metadata.name;
      };
      staged.during = async (running) => {
        while (running() && evicted === undefined) {
          const name = target();
          const p = name ? api.store.get('pods', NS, name) : undefined;
          if (name && watchOpen() && (p?.status as { phase?: string } | undefined)?.phase === 'Running') {
            api.nodes.evictPod(NS, name);
            evicted = name;
            return;
          }
          await sleep(20);
        }
      };
      staged.notFired = () => (evicted ? undefined : 'no pod was evicted');
      return staged;
    }
    // The verdict comes 1.5 s after the agent starts; the CLI's first stream is cut
    // 100 ms after it opened, and the resumed requests meet the fault.
    setAgents({ delayMs: 1500 });
    let cut = 0;
    let verdictBeforeCut: string | undefined;
    let rule: ApiFault | undefined;
    staged.during = async (running) => {
      while (running() && !watchOpen()) await sleep(10);
      if (!running()) return;
      await sleep(100);
      const eff = apiEffect(c.fault, c.step);
      if (eff) {
        rule = api.faults.add({ verb: resumeVerbs(c.fault), resource: shape.awaited, namespace: NS, ...whose(c.fault), effect: eff.effect, ...(eff.times !== undefined ? { times: eff.times } : {}) });
        staged.rule = rule;
      }
      verdictBeforeCut = verdictOf(lane, shape, awaited);
      for (const w of cliWatches(lane, shape.awaited)) {
        w.cut();
        cut++;
      }
    };
    staged.notFired = () => {
      if (cut === 0) return 'the CLI\'s watch was never cut';
      if (verdictBeforeCut !== undefined) return `the verdict (${verdictBeforeCut}) came before the mid-wait cut`;
      if (rule && rule.hits === 0) return `the ${c.fault} fault after the cut never fired`;
      return undefined;
    };
    return staged;
  }

  // verdict: act in the store's own notification of the verdict, which runs before the
  // CLI's watch stream is written to (this subscription is older than the stream).
  if (c.fault === 'agent failed') {
    setAgents({ failAll: true });
    return staged;
  }
  if (c.fault === 'agent silent') {
    setAgents({ silent: true });
    return staged;
  }
  setAgents({ delayMs: 1000 }); // the CLI's watch is surely open when the verdict comes
  let child: ChildProcess | undefined;
  let fired = false;
  let cut = 0;
  let rule: ApiFault | undefined;
  const annotation = shape.awaited === 'jobs' ? ANNOTATION_CHECKPOINT_STATUS : ANNOTATION_RESTORE_STATUS;
  lane.cleanups.push(
    api.store.subscribe((e) => {
      if (fired || e.resource.plural !== shape.awaited || e.object.metadata.name !== awaited) return;
      const v = e.object.metadata.annotations?.[annotation];
      if (v !== 'completed' && v !== 'failed') return;
      fired = true;
      if (isSignal) {
        child?.kill(signal);
        return;
      }
      const eff = apiEffect(c.fault, c.step);
      if (eff) {
        // The CLI's resumed watch gets it: only the CLI's watches are cut, and an agent's
        // informer reconnecting at that moment must not take the one fault instead.
        rule = api.faults.add({ verb: resumeVerbs(c.fault), resource: shape.awaited, namespace: NS, user: CLI_USER, effect: eff.effect, ...(eff.times !== undefined ? { times: eff.times } : {}) });
        staged.rule = rule;
      }
      for (const w of cliWatches(lane, shape.awaited)) {
        w.cut();
        cut++;
      }
    }),
  );
  staged.cli.onSpawn = (p) => {
    child = p;
  };
  staged.notFired = () => {
    if (!fired) return 'the agent never wrote a verdict';
    if (isSignal) return child ? undefined : 'no process to signal';
    if (cut === 0) return 'the CLI had no open watch to cut at the verdict';
    if (rule && rule.hits === 0) return `the ${c.fault} fault after the cut never fired`;
    return undefined;
  };
  return staged;
}
