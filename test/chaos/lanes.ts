/**
 * A small pool of dev clusters ("lanes") for the chaos matrix. Starting a cluster costs
 * about as much as a CLI run, so each lane serves many cases one after the other and
 * a few lanes run side by side. Between cases a lane is reset (faults cleared, agent
 * switches off, every Job and non-DaemonSet pod deleted, request log emptied); a lane
 * whose reset does not converge is closed and replaced, so one bad case cannot leak
 * state into the next. Case names are unique (see matrix-table.ts), so an agent still
 * finishing a previous case's work can never touch the next case's objects.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDevCluster, type DevCluster } from '../../src/dev/cluster.js';
import { resetFaults } from '../../src/agent/faults.js';
import type { RequestFacts } from '../../src/dev/api/faults.js';
import { leftovers, runCli, waitFor, WORKER_MANIFEST } from '../e2e/harness.js';

/** The user the CLI runs as in every case. */
export const CLI_USER = 'cli';

/** The checkpoint every lane makes once, for the restore flows to restore from. */
export const BASE_CHECKPOINT_ID = 'chaos-base';

/** A watch stream the API server opened while the current case ran. */
export interface CaseWatch {
  facts: RequestFacts;
  /** Cut the stream as a broken connection would. */
  cut: () => void;
  /** Still open. */
  open: () => boolean;
}

export interface Lane {
  readonly cluster: DevCluster;
  /** Kubeconfig of user "cli": the CLI's requests, and faults meant only for them, are told from the agents'. */
  readonly cliKubeconfig: string;
  /** Set by a case that killed the lane's API server: the lane is replaced, never reset. */
  broken: boolean;
  /** Watches opened since the case began (the agents' own watches are older). */
  readonly watches: CaseWatch[];
  /** Undo hooks of the current case (store subscriptions), run on reset. */
  readonly cleanups: Array<() => void>;
}

async function startLane(): Promise<Lane> {
  const cluster = await startDevCluster({ nodes: 1, readyDelayMs: 50, engine: 'sim', runtime: 'sim' });
  const watches: CaseWatch[] = [];
  // Spy on watch registration: the only way to cut the CLI's stream without also
  // cutting the agents' informers, which watch pods in the same namespace.
  const faults = cluster.api.faults;
  const register = faults.registerWatch.bind(faults);
  faults.registerWatch = (facts, drop) => {
    let open = true;
    const unregister = register(facts, drop);
    watches.push({ facts, cut: () => drop('destroy'), open: () => open });
    return () => {
      open = false;
      return unregister();
    };
  };
  const base = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', BASE_CHECKPOINT_ID, '--timeout', '30s'], {
    cluster,
    timeoutMs: 40_000,
  });
  if (base.code !== 0) throw new Error(`chaos lane: the base checkpoint failed (exit ${String(base.code)}):\n${base.stderr}`);
  const cliKubeconfig = join(cluster.dir, 'kubeconfig-cli');
  await cluster.api.writeKubeconfig(cliKubeconfig, { token: cluster.api.addToken(CLI_USER, [{ verbs: ['*'], resources: ['*'] }]), namespace: 'default' });
  const lane: Lane = { cluster, cliKubeconfig, broken: false, watches, cleanups: [] };
  await resetLane(lane);
  return lane;
}

/** Delete every Job and non-DaemonSet pod, clear faults and switches; throws when the cluster does not settle. */
async function resetLane(lane: Lane): Promise<void> {
  if (lane.broken) throw new Error('chaos lane: its API server was killed by the case');
  const c = lane.cluster;
  for (const undo of lane.cleanups.splice(0)) undo();
  c.api.faults.clear();
  for (const agent of c.agents.values()) resetFaults(agent.faults);
  const store = c.api.store;
  for (const job of store.list('jobs')) {
    try {
      store.delete('jobs', job.metadata.namespace, job.metadata.name ?? '', { propagationPolicy: 'Background' });
    } catch {
      // Already gone.
    }
  }
  await waitFor('the Jobs to go', () => store.list('jobs').length === 0, 5000);
  for (const name of leftovers(c)) {
    const [, ns, pod] = name.split('/');
    try {
      store.delete('pods', ns, pod ?? '', { gracePeriodSeconds: 0 });
    } catch {
      // Already gone.
    }
  }
  await waitFor('the lane to be empty', () => leftovers(c).length === 0, 5000);
  lane.watches.length = 0;
  c.api.requestLog.clear();
}

/** `size` lanes; `use` lends one to a case and resets it afterwards. */
export class LanePool {
  private readonly idle: Lane[] = [];
  private readonly waiting: Array<(lane: Lane) => void> = [];
  private readonly all = new Set<Lane>();

  constructor(private readonly size: number) {}

  async start(): Promise<void> {
    const lanes = await Promise.all(Array.from({ length: this.size }, () => startLane()));
    for (const lane of lanes) {
      this.all.add(lane);
      this.idle.push(lane);
    }
  }

  /** Run `fn` on a free lane (waiting for one), then reset or replace the lane. */
  async use<T>(fn: (lane: Lane) => Promise<T>): Promise<T> {
    const lane = this.idle.pop() ?? (await new Promise<Lane>((resolve) => this.waiting.push(resolve)));
    try {
      return await fn(lane);
    } finally {
      let next = lane;
      try {
        await resetLane(lane);
      } catch {
        this.all.delete(lane);
        await lane.cluster.close().catch(() => undefined);
        next = await startLane();
        this.all.add(next);
      }
      const waiter = this.waiting.shift();
      if (waiter) waiter(next);
      else this.idle.push(next);
    }
  }

  /** Close every lane; throws when a lane's temp dir survived. */
  async close(): Promise<void> {
    const lanes = [...this.all];
    this.all.clear();
    await Promise.all(lanes.map((l) => l.cluster.close()));
    for (const l of lanes) if (existsSync(l.cluster.dir)) throw new Error(`chaos lane: ${l.cluster.dir} was not removed`);
  }
}
