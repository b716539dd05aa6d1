/**
 * One `coordination.k8s.io/v1` Lease per checkpoint Job, so that only one agent works
 * on a Job at a time (two agents could see the same pod, e.g. after a node rename, or
 * an agent restarted mid-dump). Owned by the Job, so the garbage collector removes
 * it with the Job if release never happens.
 */
import type { KubeObject } from '../protocol/types.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { apiStatus, errorText, microTime } from './util.js';

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaseOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name: the Job's name. */
  name: string;
  /** This agent's identity (`holderIdentity`). */
  holder: string;
  durationMs: number;
  renewMs: number;
  /** The Job, as owner of the Lease. */
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
  now: () => number;
  log: (message: string) => void;
}

/** A Lease this agent holds; renewed in the background until `release()`. */
export interface HeldLease {
  /** True once a renewal found the Lease gone or taken over, or none got through for the Lease's duration (it expired for every other agent). */
  readonly lost: boolean;
  /** Stop renewing and delete the Lease (only if it is still ours). Never throws. */
  release(): Promise<void>;
}

/**
 * Outcome of an attempt: held, or who holds it. `tookOverFrom` names another holder
 * whose Lease had expired without being released: that agent stopped in the middle of
 * the Job's work (killed, its pod deleted, its node lost).
 */
export type LeaseAttempt = { acquired: true; lease: HeldLease; tookOverFrom?: string } | { acquired: false; holder: string };

/**
 * Take the Lease if it is free, expired or already ours. A lost race (409 on create
 * or on the guarded patch) reports the other holder instead of throwing.
 */
export async function tryAcquireLease(opts: LeaseOptions): Promise<LeaseAttempt> {
  const { client, namespace, name } = opts;
  const durationSeconds = Math.max(1, Math.round(opts.durationMs / 1000));
  const nowMs = opts.now();
  let current: LeaseObject | undefined;
  try {
    current = await client.get<LeaseObject>(RESOURCES.leases, namespace, name);
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }

  let held: LeaseObject;
  let tookOverFrom: string | undefined;
  if (!current) {
    const body: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, ...(opts.owner ? { ownerReferences: [{ ...opts.owner, controller: false }] } : {}) },
      spec: {
        holderIdentity: opts.holder,
        leaseDurationSeconds: durationSeconds,
        acquireTime: microTime(nowMs),
        renewTime: microTime(nowMs),
        leaseTransitions: 0,
      },
    };
    try {
      held = await client.create<LeaseObject>(RESOURCES.leases, namespace, body);
    } catch (err) {
      if (apiStatus(err) === 409) return { acquired: false, holder: 'another agent (lost the race to create the lease)' };
      throw err;
    }
  } else {
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== opts.holder && !isExpired(spec, nowMs)) return { acquired: false, holder };
    if (holder !== '' && holder !== opts.holder) tookOverFrom = holder;
    try {
      held = await client.patch<LeaseObject>(
        RESOURCES.leases,
        namespace,
        name,
        {
          // Guarded: if someone renewed or took it since our read, we back off.
          metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' },
          spec: {
            holderIdentity: opts.holder,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(nowMs),
            renewTime: microTime(nowMs),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === opts.holder ? 0 : 1),
          },
        },
        'merge',
      );
    } catch (err) {
      if (apiStatus(err) === 409) return { acquired: false, holder: 'another agent (lost the race to take over the lease)' };
      throw err;
    }
  }
  const lease = startRenewing(opts, held);
  return tookOverFrom === undefined ? { acquired: true, lease } : { acquired: true, lease, tookOverFrom };
}

function isExpired(spec: LeaseSpec, nowMs: number): boolean {
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  if (Number.isNaN(renewed)) return true;
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 <= nowMs;
}

function startRenewing(opts: LeaseOptions, initial: LeaseObject): HeldLease {
  let current = initial;
  let lost = false;
  // Past this without a renewal the Lease has expired for everyone else, whether or not
  // this agent could hear about it (an API outage): another agent may hold the Job.
  let renewedAt = opts.now();
  let released = false;
  let renewing: Promise<void> = Promise.resolve();

  const renew = async () => {
    try {
      current = await opts.client.patch<LeaseObject>(
        RESOURCES.leases,
        opts.namespace,
        opts.name,
        { metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' }, spec: { renewTime: microTime(opts.now()) } },
        'merge',
      );
      renewedAt = opts.now();
    } catch (err) {
      const status = apiStatus(err);
      if (status === 404 || status === 409) {
        lost = true;
        clearInterval(timer);
        opts.log(`lost lease ${opts.namespace}/${opts.name}: ${errorText(err)}`);
      } else {
        // Transient: the next tick retries; the lease stays valid for durationMs.
        opts.log(`could not renew lease ${opts.namespace}/${opts.name}: ${errorText(err)}`);
      }
    }
  };
  const timer = setInterval(() => {
    if (!released && !lost) renewing = renewing.then(renew);
  }, opts.renewMs);

  return {
    get lost() {
      return lost || opts.now() - renewedAt >= opts.durationMs;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      if (lost) return;
      try {
        const uid = current.metadata?.uid;
        await opts.client.delete(RESOURCES.leases, opts.namespace, opts.name, uid ? { uid } : {});
      } catch (err) {
        if (apiStatus(err) !== 404) opts.log(`could not release lease ${opts.namespace}/${opts.name}: ${errorText(err)}`);
      }
    },
  };
}
