/**
 * Checkpoint storage discovery (docs/protocol.md §2), on DaemonSet objects built here.
 */
import { describe, expect, it } from 'vitest';
import { discoverStorage, describeAgentSelectors, type AgentDaemonSets } from './storage.js';
import type { DaemonSet, Volume, VolumeMount } from './types.js';

interface AgentSpecInput {
  name: string;
  volumes: Volume[];
  /** Mounts of the container named `agent` (or of `containerName`). */
  mounts: VolumeMount[];
  containerName?: string;
  /** Extra containers placed before the agent container. */
  others?: Array<{ name: string; volumeMounts?: VolumeMount[] }>;
}

function daemonSet(input: AgentSpecInput): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: input.name, namespace: 'ns' },
    spec: {
      template: {
        spec: {
          containers: [
            ...(input.others ?? []),
            { name: input.containerName ?? 'agent', image: 'agent:1', volumeMounts: input.mounts },
          ],
          volumes: input.volumes,
        },
      },
    },
  };
}

const pvc = (name: string, claimName: string): Volume => ({ name, persistentVolumeClaim: { claimName } });
const hostPath = (name: string): Volume => ({ name, hostPath: { path: '/var/run' } });
const mount = (name: string, mountPath: string): VolumeMount => ({ name, mountPath });

/** The chart's DaemonSet: `snapshot-agent`, PVC `snapshot-pvc` at `/checkpoints`. */
const chartDefault = daemonSet({
  name: 'snapshot-agent',
  volumes: [hostPath('containerd'), pvc('checkpoints', 'snapshot-pvc')],
  mounts: [mount('containerd', '/run/containerd'), mount('checkpoints', '/checkpoints')],
});

type Case = {
  name: string;
  sets: AgentDaemonSets;
  expected: { pvcName: string; basePath: string; daemonSet: string };
};

const FOUND: Case[] = [
  {
    name: 'chart defaults under the component selector',
    sets: { byComponent: [chartDefault], byName: [] },
    expected: { pvcName: 'snapshot-pvc', basePath: '/checkpoints', daemonSet: 'snapshot-agent' },
  },
  {
    name: 'chart defaults under the name selector',
    sets: { byComponent: [], byName: [chartDefault] },
    expected: { pvcName: 'snapshot-pvc', basePath: '/checkpoints', daemonSet: 'snapshot-agent' },
  },
  {
    name: 'name variant accepts any volume name',
    sets: {
      byComponent: [],
      byName: [daemonSet({ name: 'old-agent', volumes: [pvc('store', 'old-pvc')], mounts: [mount('store', '/data')] })],
    },
    expected: { pvcName: 'old-pvc', basePath: '/data', daemonSet: 'old-agent' },
  },
  {
    name: 'component selector is tried first when both find a usable DaemonSet',
    sets: {
      byComponent: [daemonSet({ name: 'comp', volumes: [pvc('checkpoints', 'comp-pvc')], mounts: [mount('checkpoints', '/c')] })],
      byName: [daemonSet({ name: 'named', volumes: [pvc('x', 'named-pvc')], mounts: [mount('x', '/n')] })],
    },
    expected: { pvcName: 'comp-pvc', basePath: '/c', daemonSet: 'comp' },
  },
  {
    name: 'component variant skips a PVC volume not named `checkpoints`, takes the one that is',
    sets: {
      byComponent: [
        daemonSet({
          name: 'comp',
          volumes: [pvc('cache', 'cache-pvc'), pvc('checkpoints', 'ckpt-pvc')],
          mounts: [mount('cache', '/cache'), mount('checkpoints', '/ckpt')],
        }),
      ],
      byName: [],
    },
    expected: { pvcName: 'ckpt-pvc', basePath: '/ckpt', daemonSet: 'comp' },
  },
  {
    name: 'falls back to the name selector when the component DaemonSet has no `checkpoints` volume',
    sets: {
      byComponent: [daemonSet({ name: 'comp', volumes: [pvc('data', 'comp-pvc')], mounts: [mount('data', '/d')] })],
      byName: [daemonSet({ name: 'named', volumes: [pvc('store', 'named-pvc')], mounts: [mount('store', '/s')] })],
    },
    expected: { pvcName: 'named-pvc', basePath: '/s', daemonSet: 'named' },
  },
  {
    name: 'first PVC volume in volume order, not mount order',
    sets: {
      byComponent: [],
      byName: [
        daemonSet({
          name: 'named',
          volumes: [pvc('first', 'first-pvc'), pvc('second', 'second-pvc')],
          mounts: [mount('second', '/second'), mount('first', '/first')],
        }),
      ],
    },
    expected: { pvcName: 'first-pvc', basePath: '/first', daemonSet: 'named' },
  },
  {
    name: 'skips non-PVC volumes, PVCs the agent does not mount, and PVCs mounted at an empty path',
    sets: {
      byComponent: [],
      byName: [
        daemonSet({
          name: 'named',
          volumes: [hostPath('host'), pvc('sidecar-only', 'side-pvc'), pvc('empty-path', 'empty-pvc'), pvc('real', 'real-pvc')],
          mounts: [mount('host', '/host'), mount('empty-path', ''), mount('real', '/real')],
          others: [{ name: 'sidecar', volumeMounts: [mount('sidecar-only', '/side')] }],
        }),
      ],
    },
    expected: { pvcName: 'real-pvc', basePath: '/real', daemonSet: 'named' },
  },
  {
    name: 'only the container named `agent` counts, even when it is not the first container',
    sets: {
      byComponent: [],
      byName: [
        daemonSet({
          name: 'named',
          volumes: [pvc('a', 'a-pvc'), pvc('b', 'b-pvc')],
          mounts: [mount('b', '/b')],
          others: [{ name: 'helper', volumeMounts: [mount('a', '/a')] }],
        }),
      ],
    },
    expected: { pvcName: 'b-pvc', basePath: '/b', daemonSet: 'named' },
  },
  {
    name: 'trailing `/` of the mount path is trimmed',
    sets: {
      byComponent: [daemonSet({ name: 'comp', volumes: [pvc('checkpoints', 'p')], mounts: [mount('checkpoints', '/checkpoints/')] })],
      byName: [],
    },
    expected: { pvcName: 'p', basePath: '/checkpoints', daemonSet: 'comp' },
  },
  {
    name: 'second DaemonSet under the same selector when the first has no usable volume',
    sets: {
      byComponent: [
        daemonSet({ name: 'broken', volumes: [hostPath('checkpoints')], mounts: [mount('checkpoints', '/c')] }),
        daemonSet({ name: 'good', volumes: [pvc('checkpoints', 'good-pvc')], mounts: [mount('checkpoints', '/g')] }),
      ],
      byName: [],
    },
    expected: { pvcName: 'good-pvc', basePath: '/g', daemonSet: 'good' },
  },
];

describe('discoverStorage: found', () => {
  it.each(FOUND)('$name', ({ sets, expected }) => {
    const result = discoverStorage(sets);
    expect(result.found).toBe(true);
    if (!result.found) return;
    expect(result.storage).toEqual(expected);
    expect(result.daemonSet.metadata.name).toBe(expected.daemonSet);
  });
});

describe('discoverStorage: errors', () => {
  it('no DaemonSet under either selector → no-daemonset', () => {
    expect(discoverStorage({ byComponent: [], byName: [] })).toEqual({ found: false, reason: 'no-daemonset' });
  });

  it.each<[string, AgentDaemonSets, string[]]>([
    [
      'component variant with a PVC volume not named `checkpoints`',
      { byComponent: [daemonSet({ name: 'comp', volumes: [pvc('data', 'p')], mounts: [mount('data', '/d')] })], byName: [] },
      ['comp'],
    ],
    [
      'no container named `agent`',
      {
        byComponent: [],
        byName: [daemonSet({ name: 'named', containerName: 'snapshot-agent', volumes: [pvc('x', 'p')], mounts: [mount('x', '/x')] })],
      },
      ['named'],
    ],
    [
      'only hostPath volumes',
      { byComponent: [], byName: [daemonSet({ name: 'named', volumes: [hostPath('x')], mounts: [mount('x', '/x')] })] },
      ['named'],
    ],
    [
      'PVC mounted only at an empty path',
      { byComponent: [], byName: [daemonSet({ name: 'named', volumes: [pvc('x', 'p')], mounts: [mount('x', '')] })] },
      ['named'],
    ],
    [
      'DaemonSet without a pod spec',
      { byComponent: [{ metadata: { name: 'bare' } }], byName: [] },
      ['bare'],
    ],
    [
      'several DaemonSets, all listed',
      {
        byComponent: [daemonSet({ name: 'one', volumes: [], mounts: [] })],
        byName: [daemonSet({ name: 'two', volumes: [hostPath('h')], mounts: [mount('h', '/h')] })],
      },
      ['one', 'two'],
    ],
  ])('%s → no-volume listing the DaemonSet names', (_why, sets, names) => {
    const result = discoverStorage(sets);
    expect(result).toEqual({ found: false, reason: 'no-volume', daemonSets: names });
  });

  it('a DaemonSet found by both selectors is listed once', () => {
    const ds = daemonSet({ name: 'both', volumes: [], mounts: [] });
    expect(discoverStorage({ byComponent: [ds], byName: [ds] })).toEqual({
      found: false,
      reason: 'no-volume',
      daemonSets: ['both'],
    });
  });

  it('the selector description names both selectors, component first', () => {
    const text = describeAgentSelectors();
    expect(text).toContain('app.kubernetes.io/component=snapshot-agent');
    expect(text).toContain('app.kubernetes.io/name=snapshot');
    expect(text.indexOf('component')).toBeLessThan(text.indexOf('app.kubernetes.io/name'));
  });
});
