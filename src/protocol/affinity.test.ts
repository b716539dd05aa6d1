/**
 * Placement on agent nodes (docs/protocol.md §11): which agent pods count as ready, and the
 * required node affinity added to checkpoint and restore pods.
 */
import { describe, expect, it } from 'vitest';
import { isPodReady, readyAgentNodes, withAgentAffinity } from './affinity.js';
import type { NodeSelectorTerm, Pod, PodSpec } from './types.js';

function agentPod(node: string | undefined, status: Pod['status'], deleting = false): Pod {
  return {
    metadata: { name: `agent-${node ?? 'x'}`, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { containers: [{ name: 'agent' }], ...(node ? { nodeName: node } : {}) },
    status,
  };
}

const READY = { type: 'Ready', status: 'True' };
const running = (conditions = [READY]): Pod['status'] => ({ phase: 'Running', conditions });

describe('isPodReady: Running and Ready=True', () => {
  it.each<[string, Pod, boolean]>([
    ['Running, Ready=True', agentPod('n1', running()), true],
    ['Running, Ready=False', agentPod('n1', running([{ type: 'Ready', status: 'False' }])), false],
    ['Running, no conditions', agentPod('n1', { phase: 'Running' }), false],
    ['Running, only ContainersReady=True', agentPod('n1', running([{ type: 'ContainersReady', status: 'True' }])), false],
    ['Pending with Ready=True', agentPod('n1', { phase: 'Pending', conditions: [READY] }), false],
    ['Failed', agentPod('n1', { phase: 'Failed', conditions: [READY] }), false],
    ['no status', agentPod('n1', undefined), false],
    ['Running and Ready but being deleted', agentPod('n1', running(), true), false],
  ])('%s → %s', (_why, pod, ready) => {
    expect(isPodReady(pod)).toBe(ready);
  });
});

describe('readyAgentNodes', () => {
  it('nodes of ready agent pods only, unique and sorted', () => {
    const pods = [
      agentPod('node-b', running()),
      agentPod('node-a', running()),
      agentPod('node-b', running()),
      agentPod('node-c', { phase: 'Pending' }),
      agentPod(undefined, running()),
    ];
    expect(readyAgentNodes(pods)).toEqual(['node-a', 'node-b']);
  });

  it('no agent pods → no nodes', () => {
    expect(readyAgentNodes([])).toEqual([]);
  });
});

const hostnameIn = (nodes: string[]) => ({ key: 'kubernetes.io/hostname', operator: 'In', values: nodes });
const gpuPresent = { key: 'nvidia.com/gpu.present', operator: 'In', values: ['true'] };
const zoneField = { key: 'metadata.name', operator: 'NotIn', values: ['bad'] };

function spec(extra: Partial<PodSpec> = {}): PodSpec {
  return { containers: [{ name: 'w', image: 'i' }], ...extra };
}

const requiredTerms = (s: PodSpec): NodeSelectorTerm[] | undefined =>
  s.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;

describe('withAgentAffinity: required kubernetes.io/hostname In <nodes>', () => {
  it.each<[string, PodSpec, NodeSelectorTerm[]]>([
    ['no affinity → one new term', spec(), [{ matchExpressions: [hostnameIn(['n1', 'n2'])] }]],
    [
      'empty nodeSelectorTerms → one new term',
      spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }),
      [{ matchExpressions: [hostnameIn(['n1', 'n2'])] }],
    ],
    [
      'one existing term → ANDed into it',
      spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [gpuPresent] }] } } } }),
      [{ matchExpressions: [gpuPresent, hostnameIn(['n1', 'n2'])] }],
    ],
    [
      'several terms (ORed) → ANDed into every one; matchFields kept',
      spec({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [gpuPresent] }, { matchFields: [zoneField] }],
            },
          },
        },
      }),
      [
        { matchExpressions: [gpuPresent, hostnameIn(['n1', 'n2'])] },
        { matchFields: [zoneField], matchExpressions: [hostnameIn(['n1', 'n2'])] },
      ],
    ],
  ])('%s', (_why, input, terms) => {
    expect(requiredTerms(withAgentAffinity(input, ['n1', 'n2']))).toEqual(terms);
  });

  it('keeps preferred node affinity, pod affinity and anti-affinity', () => {
    const preferred = [{ weight: 1, preference: { matchExpressions: [gpuPresent] } }];
    const podAffinity = { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone', labelSelector: {} }] };
    const podAntiAffinity = { preferredDuringSchedulingIgnoredDuringExecution: [] };
    const out = withAgentAffinity(
      spec({ affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred }, podAffinity, podAntiAffinity } }),
      ['n1'],
    );
    expect(out.affinity).toEqual({
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: preferred,
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [hostnameIn(['n1'])] }] },
      },
      podAffinity,
      podAntiAffinity,
    });
  });

  it('changes nothing but the affinity', () => {
    const input = spec({ restartPolicy: 'Never', nodeSelector: { a: 'b' }, tolerations: [{ key: 'gpu' }] });
    const { affinity: _affinity, ...rest } = withAgentAffinity(input, ['n1']);
    expect(rest).toEqual(input);
  });

  it('does not modify its input (spec or node list)', () => {
    const input = spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [gpuPresent] }] } } } });
    const nodes = ['n1'];
    const before = structuredClone(input);
    const out = withAgentAffinity(input, nodes);
    expect(input).toEqual(before);
    nodes.push('n2');
    expect(requiredTerms(out)?.[0]?.matchExpressions?.[1]?.values).toEqual(['n1']);
  });
});
