/**
 * The slice of the Kubernetes object model the protocol touches. Loose on purpose:
 * unknown fields are carried through untouched, so a manifest's extra fields survive.
 */

export type StringMap = Record<string, string>;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: StringMap;
  annotations?: StringMap;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export interface Probe {
  failureThreshold?: number;
  successThreshold?: number;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  volumeMounts?: VolumeMount[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  [key: string]: unknown;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: string;
  nodeName?: string;
  securityContext?: { seccompProfile?: { type?: string; localhostProfile?: string }; [key: string]: unknown };
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
      [key: string]: unknown;
    };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  conditions?: PodCondition[];
  containerStatuses?: Array<{ name: string; containerID?: string; ready?: boolean; [key: string]: unknown }>;
  [key: string]: unknown;
}

export interface Pod extends KubeObject {
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}

export interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Job extends KubeObject {
  metadata: ObjectMeta;
  spec: {
    backoffLimit?: number;
    template: { metadata?: ObjectMeta; spec: PodSpec };
    [key: string]: unknown;
  };
  status?: { active?: number; succeeded?: number; failed?: number; conditions?: JobCondition[]; [key: string]: unknown };
}

export interface DaemonSet extends KubeObject {
  metadata: ObjectMeta;
  spec?: { template?: { metadata?: ObjectMeta; spec?: Partial<PodSpec> }; [key: string]: unknown };
  status?: { numberReady?: number; desiredNumberScheduled?: number; [key: string]: unknown };
}
