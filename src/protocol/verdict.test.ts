/**
 * The agent's verdict on the checkpoint Job (docs/protocol.md §4 "Waiting") and on the restore
 * Pod (§5 "Waiting").
 */
import { describe, expect, it } from 'vitest';
import { jobVerdict, restoreVerdict } from './verdict.js';
import type { Job, Pod } from './types.js';

function job(annotations?: Record<string, string>, status?: Job['status']): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'w-checkpoint', ...(annotations ? { annotations } : {}) },
    spec: { backoffLimit: 0, template: { spec: { containers: [{ name: 'w' }] } } },
    ...(status ? { status } : {}),
  };
}

const STATUS = 'nvidia.com/snapshot-checkpoint-status';

describe('jobVerdict', () => {
  it.each<[string, Job | undefined, 'pending' | 'completed' | 'failed']>([
    ['Job not found yet', undefined, 'pending'],
    ['no annotation, no status', job(), 'pending'],
    ['running pod, no verdict', job(undefined, { active: 1 }), 'pending'],
    ['annotation completed', job({ [STATUS]: 'completed' }), 'completed'],
    ['annotation completed while the pod still runs', job({ [STATUS]: 'completed' }, { active: 1 }), 'completed'],
    ['annotation failed', job({ [STATUS]: 'failed' }), 'failed'],
    ['status.failed 1', job(undefined, { failed: 1 }), 'failed'],
    ['status.failed 0', job(undefined, { failed: 0 }), 'pending'],
    ['condition Failed=True', job(undefined, { conditions: [{ type: 'Failed', status: 'True', message: 'm' }] }), 'failed'],
    ['condition Failed=False', job(undefined, { conditions: [{ type: 'Failed', status: 'False' }] }), 'pending'],
    // Success is the agent's annotation only: a Job that completed without it has no checkpoint.
    ['condition Complete=True without annotation', job(undefined, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }), 'pending'],
    ['unknown annotation value', job({ [STATUS]: 'in_progress' }), 'pending'],
    ['other annotations only', job({ 'nvidia.com/snapshot-restore-status': 'completed' }), 'pending'],
  ])('%s → %s', (_why, input, state) => {
    expect(jobVerdict(input).state).toBe(state);
  });

  it('a Failed=True condition gives its message', () => {
    const verdict = jobVerdict(
      job(undefined, {
        failed: 1,
        conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }],
      }),
    );
    expect(verdict.state).toBe('failed');
    if (verdict.state === 'failed') expect(verdict.reason).toContain('Job has reached the specified backoff limit');
  });

  it('a failed verdict always has a reason', () => {
    for (const input of [job({ [STATUS]: 'failed' }), job(undefined, { failed: 2 })]) {
      const verdict = jobVerdict(input);
      expect(verdict.state).toBe('failed');
      if (verdict.state === 'failed') expect(verdict.reason.length).toBeGreaterThan(0);
    }
  });
});

function pod(annotations?: Record<string, string>, status?: Pod['status']): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'w', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'w' }] },
    ...(status ? { status } : {}),
  };
}

const RESTORE = 'nvidia.com/snapshot-restore-status';

describe('restoreVerdict', () => {
  it.each<[string, Pod, 'pending' | 'completed' | 'failed']>([
    ['no annotation, Pending', pod(undefined, { phase: 'Pending' }), 'pending'],
    ['no annotation, Running', pod(undefined, { phase: 'Running' }), 'pending'],
    ['in_progress', pod({ [RESTORE]: 'in_progress' }, { phase: 'Running' }), 'pending'],
    ['completed', pod({ [RESTORE]: 'completed' }, { phase: 'Running' }), 'completed'],
    ['failed', pod({ [RESTORE]: 'failed' }, { phase: 'Running' }), 'failed'],
    ['phase Failed without annotation', pod(undefined, { phase: 'Failed', reason: 'Evicted' }), 'failed'],
    ['phase Failed while in_progress', pod({ [RESTORE]: 'in_progress' }, { phase: 'Failed', reason: 'Evicted' }), 'failed'],
    ['checkpoint-status annotation is not a restore verdict', pod({ 'nvidia.com/snapshot-checkpoint-status': 'completed' }), 'pending'],
  ])('%s → %s', (_why, input, state) => {
    expect(restoreVerdict(input).state).toBe(state);
  });

  it('phase Failed gives status.reason', () => {
    const verdict = restoreVerdict(pod(undefined, { phase: 'Failed', reason: 'Evicted', message: 'The node was low on memory.' }));
    expect(verdict.state).toBe('failed');
    if (verdict.state === 'failed') expect(verdict.reason).toContain('Evicted');
  });
});
