import { describe, expect, it } from 'vitest';
import { Leftovers, leftBehindLines } from './leftovers.js';

describe('Leftovers', () => {
  it('names each object still to delete with the kubectl command that removes it', () => {
    const l = new Leftovers();
    l.add({ kind: 'Job', namespace: 'ml', name: 'w-checkpoint' });
    l.add({ kind: 'Pod', namespace: 'ml', name: 'snapshotctl-reader-abcde' });
    l.add({ kind: 'DynamoCheckpoint', namespace: 'ml', name: 'llama' });
    l.remove({ kind: 'Pod', namespace: 'ml', name: 'snapshotctl-reader-abcde' });
    expect(leftBehindLines(l.list())).toEqual([
      'left behind: job.batch/w-checkpoint in namespace "ml"; delete it with: kubectl delete job w-checkpoint -n ml --cascade=foreground',
      'left behind: dynamocheckpoint.nvidia.com/llama in namespace "ml"; delete it with: kubectl delete dynamocheckpoint llama -n ml',
    ]);
  });
});
