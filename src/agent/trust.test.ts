import { describe, expect, it } from 'vitest';
import { LABEL_CHECKPOINT_ID } from '../protocol/constants.js';
import type { Job, Pod } from '../protocol/types.js';
import { checkpointPodRefusal, replaceArtifactRefusal, restoreArtifactCheck } from './trust.js';

const job: Job = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'w-checkpoint', namespace: 'ml', uid: 'job-uid', labels: { [LABEL_CHECKPOINT_ID]: 'ck' } },
  spec: { template: { spec: { containers: [] } } },
};
const ref = { apiVersion: 'batch/v1', kind: 'Job', name: 'w-checkpoint', uid: 'job-uid', controller: true };
function pod(refs: Array<Record<string, unknown>> | undefined, id: string | null = 'ck'): Pod {
  return {
    metadata: { name: 'w-checkpoint-x', namespace: 'ml', labels: id === null ? {} : { [LABEL_CHECKPOINT_ID]: id }, ...(refs ? { ownerReferences: refs as never } : {}) },
    spec: { containers: [] },
  };
}

describe('checkpointPodRefusal', () => {
  it.each<[string, Pod, Job, RegExp | undefined]>([
    ['the Job\'s own pod', pod([ref]), job, undefined],
    ['no ownerReferences', pod(undefined), job, /no controller ownerReference/],
    ['owner but not controller', pod([{ ...ref, controller: false }]), job, /no controller ownerReference/],
    ['another UID', pod([{ ...ref, uid: 'other' }]), job, /not Job ml\/w-checkpoint \(UID job-uid\)/],
    ['another kind', pod([{ ...ref, kind: 'CronJob' }]), job, /controller is CronJob/],
    ['another API group', pod([{ ...ref, apiVersion: 'example.com/v1' }]), job, /not Job/],
    ['another checkpoint ID', pod([ref], 'other'), job, /"other" is not its Job's \("ck"\)/],
    ['no checkpoint ID', pod([ref], null), job, /"" is not its Job's/],
    ['a Job without its label', pod([ref]), { ...job, metadata: { ...job.metadata, labels: {} } }, /carries no nvidia\.com\/snapshot-checkpoint-id label/],
    ['a Job without a UID', pod([ref]), { ...job, metadata: { ...job.metadata, uid: undefined } }, /has no UID/],
  ])('%s', (_why, p, j, expected) => {
    const got = checkpointPodRefusal(p, j);
    if (expected === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(expected);
  });
});

describe('restoreArtifactCheck and replaceArtifactRefusal', () => {
  const ctx = { checkpointId: 'ck', namespace: 'team-b', allowCrossNamespace: false, manifestFile: '/c/ck/versions/1/manifest.yaml' };
  it.each<[string, Record<string, unknown>, boolean, { refusal?: RegExp; warning?: RegExp }]>([
    ['same namespace', { checkpointId: 'ck', namespace: 'team-b' }, false, {}],
    ['other namespace', { checkpointId: 'ck', namespace: 'team-a' }, false, { refusal: /made in namespace team-a; restoring it into namespace team-b is refused/ }],
    ['other namespace, allowed', { namespace: 'team-a' }, true, {}],
    ['a namespace that is not a name is not quoted', { namespace: 'Not A Name!' }, false, { refusal: /made in another namespace;/ }],
    ['no namespace (Dynamo)', { checkpointId: 'ck' }, false, { warning: /records no namespace/ }],
    ['no namespace, allowed', {}, true, {}],
    ['namespace not a string', { namespace: 7 }, false, { refusal: /records a namespace that is not a string/ }],
    ['another checkpoint ID', { checkpointId: 'x', namespace: 'team-b' }, false, { refusal: /records another checkpoint ID than ck/ }],
  ])('%s', (_why, manifest, allow, expected) => {
    const got = restoreArtifactCheck(manifest, { ...ctx, allowCrossNamespace: allow });
    expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
    if (expected.refusal) expect(got.refusal).toMatch(expected.refusal);
    if (expected.warning) expect(got.warning).toMatch(expected.warning);
  });

  it('a checkpoint replaces only its own namespace\'s artifact, or one that records none', () => {
    expect(replaceArtifactRefusal({ namespace: 'team-b' }, ctx)).toBeUndefined();
    expect(replaceArtifactRefusal({}, ctx)).toBeUndefined();
    expect(replaceArtifactRefusal({ namespace: 'team-a' }, ctx)).toMatch(/made in namespace team-a; a checkpoint from namespace team-b may not replace it/);
    expect(replaceArtifactRefusal({ namespace: 'team-a' }, { ...ctx, allowCrossNamespace: true })).toBeUndefined();
  });
});
