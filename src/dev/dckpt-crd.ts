/**
 * The `DynamoCheckpoint` CustomResourceDefinition the dev cluster serves (docs/protocol.md
 * §8), built in code so it ships inside `dist/` with the controller that drives it.
 * Not in `manifests/` itself: users apply that folder to clusters that may already run
 * Dynamo's operator, which owns this CRD there. `manifests/crds/dynamocheckpoint.yaml`
 * is the same object as a file, for clusters without the operator and for the real
 * lane (test/real/identity.test.ts); dckpt-crd.test.ts keeps the two equal.
 */
import { DEFAULT_ACTIVE_DEADLINE_SECONDS, DYNAMO_CHECKPOINT_PHASES } from '../protocol/dynamo-checkpoint.js';
import { BACKEND_FRAMEWORKS } from '../protocol/identity.js';
import type { KubeObject } from '../protocol/types.js';

const str = { type: 'string' };
const int = { type: 'integer', format: 'int32', minimum: 0 };
/** A pod template is Kubernetes' own schema; the CRD keeps it as given. */
const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

export const DYNAMO_CHECKPOINT_CRD_NAME = 'dynamocheckpoints.nvidia.com';

/** The CRD object, ready to POST to `apiextensions.k8s.io/v1`. */
export function dynamoCheckpointCrd(): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: DYNAMO_CHECKPOINT_CRD_NAME },
    spec: {
      group: 'nvidia.com',
      scope: 'Namespaced',
      names: {
        plural: 'dynamocheckpoints',
        singular: 'dynamocheckpoint',
        kind: 'DynamoCheckpoint',
        listKind: 'DynamoCheckpointList',
        shortNames: ['dckpt'],
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Model', type: 'string', jsonPath: '.spec.identity.model' },
            { name: 'Backend', type: 'string', jsonPath: '.spec.identity.backendFramework' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Hash', type: 'string', jsonPath: '.status.identityHash' },
            { name: 'Job', type: 'string', priority: 1, jsonPath: '.status.jobName' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  required: ['identity', 'job'],
                  properties: {
                    identity: {
                      type: 'object',
                      required: ['model', 'backendFramework'],
                      properties: {
                        model: str,
                        backendFramework: { type: 'string', enum: [...BACKEND_FRAMEWORKS] },
                        dynamoVersion: str,
                        tensorParallelSize: { ...int, default: 1 },
                        pipelineParallelSize: { ...int, default: 1 },
                        dtype: str,
                        maxModelLen: int,
                        extraParameters: { type: 'object', additionalProperties: str },
                      },
                    },
                    gpuMemoryService: { type: 'object', properties: { enabled: { type: 'boolean' } } },
                    job: {
                      type: 'object',
                      required: ['podTemplateSpec'],
                      properties: {
                        podTemplateSpec: open,
                        activeDeadlineSeconds: { type: 'integer', format: 'int64', minimum: 1, default: DEFAULT_ACTIVE_DEADLINE_SECONDS },
                        backoffLimit: { type: 'integer', format: 'int32', description: 'deprecated and ignored: checkpoint Jobs are single-attempt' },
                      },
                    },
                  },
                },
                status: {
                  type: 'object',
                  properties: {
                    phase: { type: 'string', enum: [...DYNAMO_CHECKPOINT_PHASES] },
                    identityHash: str,
                    jobName: str,
                    createdAt: { type: 'string', format: 'date-time' },
                    message: str,
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
