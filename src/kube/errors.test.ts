import { describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.js';
import { ApiError, describeApiError, isTransient, toClusterError, type ApiErrorInit } from './errors.js';
import { RESOURCES } from './types.js';

const base: Omit<ApiErrorInit, 'status' | 'message'> = {
  verb: 'create',
  resource: RESOURCES.jobs,
  namespace: 'ml',
  name: 'w-checkpoint',
  server: 'https://10.0.0.1:6443',
  context: 'prod',
};

const err = (init: Partial<ApiErrorInit> & Pick<ApiErrorInit, 'status' | 'message'>): ApiError => new ApiError({ ...base, ...init });

describe('describeApiError', () => {
  it.each<[string, ApiError, string]>([
    [
      '401',
      err({ status: 401, reason: 'Unauthorized', message: 'Unauthorized' }),
      'cannot create jobs.batch "w-checkpoint" in namespace "ml": unauthorized (the API server at https://10.0.0.1:6443 rejected the credentials of context "prod"). Log in again or refresh your token; Check --kubeconfig/--kube-context',
    ],
    [
      '403',
      err({
        status: 403,
        reason: 'Forbidden',
        message: 'jobs.batch "w-checkpoint" is forbidden: User "ci" cannot create resource "jobs" in API group "batch" in the namespace "ml"',
      }),
      'cannot create jobs.batch "w-checkpoint" in namespace "ml": forbidden (User "ci" cannot create resource "jobs" in API group "batch" in the namespace "ml"). Grant it with the Role in manifests/rbac-cli.yaml: kubectl apply -f manifests/rbac-cli.yaml',
    ],
    [
      '404 object',
      err({ verb: 'get', resource: RESOURCES.pods, name: 'w', status: 404, reason: 'NotFound', message: 'pods "w" not found' }),
      'pods "w" in namespace "ml" not found. Check the name and the namespace (-n/--namespace)',
    ],
    [
      '404 resource type',
      err({ verb: 'list', resource: RESOURCES.dynamocheckpoints, name: undefined, status: 404, message: '404 page not found' }),
      'cannot list dynamocheckpoints.nvidia.com in namespace "ml": the API server does not serve dynamocheckpoints.nvidia.com/v1alpha1. Is its CustomResourceDefinition installed? kubectl apply -f manifests/',
    ],
    [
      '409 exists',
      err({ status: 409, reason: 'AlreadyExists', message: 'jobs.batch "w-checkpoint" already exists' }),
      'jobs.batch "w-checkpoint" in namespace "ml" already exists. Pick another name (--checkpoint-id) or delete the existing one first',
    ],
    [
      '409 conflict',
      err({ verb: 'patch', resource: RESOURCES.pods, name: 'w', status: 409, reason: 'Conflict', message: 'the object has been modified' }),
      'cannot patch pods "w" in namespace "ml": conflict (the object has been modified). Someone else changed it meanwhile; retry',
    ],
    [
      'connection refused',
      err({ status: 0, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:6443' }),
      'cannot reach the API server at https://10.0.0.1:6443: connection refused. Is the cluster running? Check --kubeconfig/--kube-context',
    ],
    [
      'host not found',
      err({ status: 0, code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' }),
      'cannot reach the API server at https://10.0.0.1:6443: host not found. Check the server address of the context and your DNS/VPN. Check --kubeconfig/--kube-context',
    ],
    [
      'timeout',
      err({ verb: 'get', status: 0, code: 'ETIMEDOUT', message: 'no response within 30000 ms' }),
      'the API server at https://10.0.0.1:6443 did not answer in time (cannot get jobs.batch "w-checkpoint" in namespace "ml"). Check your network or VPN and that the cluster is up. Check --kubeconfig/--kube-context',
    ],
    [
      '422',
      err({ status: 422, reason: 'Invalid', message: 'Job.batch "w-checkpoint" is invalid: spec.template: Required value' }),
      'cannot create jobs.batch "w-checkpoint" in namespace "ml": invalid (spec.template: Required value). Fix the manifest; `snapshotctl validate` shows every problem',
    ],
    [
      '500',
      err({ status: 500, reason: 'InternalError', message: 'etcdserver: request timed out' }),
      "cannot create jobs.batch \"w-checkpoint\" in namespace \"ml\": the API server failed (500 InternalError: etcdserver: request timed out). Retry; if it persists, check the API server's health",
    ],
    [
      'cluster-scoped',
      err({ verb: 'get', resource: RESOURCES.nodes, name: 'n1', status: 403, message: 'nodes "n1" is forbidden: no' }),
      'cannot get nodes "n1": forbidden (no). Grant it with the Role in manifests/rbac-cli.yaml: kubectl apply -f manifests/rbac-cli.yaml',
    ],
  ])('%s', (_, e, sentence) => {
    expect(describeApiError(e)).toBe(sentence);
  });

  it('falls back to the message of other errors', () => {
    expect(describeApiError(new Error('boom'))).toBe('boom. Retry; run with --verbose to see each API call');
  });
});

describe('toClusterError', () => {
  it('keeps the status and splits the next step into the hint', () => {
    const c = toClusterError(err({ status: 403, message: 'x is forbidden: nope' }), 'creating the checkpoint Job');
    expect(c).toBeInstanceOf(ClusterError);
    expect([c.exitCode, c.status]).toEqual([3, 403]);
    // The sentence already names the call and the object: no second prefix.
    expect(c.message).toBe('cannot create jobs.batch "w-checkpoint" in namespace "ml": forbidden (nope)');
    expect(c.hint).toBe('Grant it with the Role in manifests/rbac-cli.yaml: kubectl apply -f manifests/rbac-cli.yaml');
  });

  it('does not prefix a list error either: its sentence names the call', () => {
    const c = toClusterError(err({ verb: 'list', resource: RESOURCES.daemonsets, namespace: 'default', name: undefined, status: 403, message: 'daemonsets.apps is forbidden: no' }), 'waiting for the storage');
    expect(c.message).toBe('cannot list daemonsets.apps in namespace "default": forbidden (no)');
  });

  it('prefixes what it was doing when the error is no API error', () => {
    const c = toClusterError(new Error('socket hang up'), 'waiting for the checkpoint Job');
    expect(c.message).toMatch(/^waiting for the checkpoint Job: socket hang up/);
  });

  it('passes a ClusterError through', () => {
    const c = new ClusterError('x');
    expect(toClusterError(c, 'y')).toBe(c);
  });
});

describe('isTransient', () => {
  it.each<[number, string | undefined, boolean]>([
    [429, undefined, true],
    [500, undefined, true],
    [503, undefined, true],
    [403, undefined, false],
    [404, undefined, false],
    [0, 'ECONNREFUSED', true],
    [0, 'ECONNRESET', true],
    [0, 'ENOTFOUND', false],
  ])('%i %s → %s', (status, code, want) => {
    expect(isTransient(err({ status, code, message: '' }))).toBe(want);
  });

  it.each<[number, string | undefined, boolean]>([
    [429, undefined, true],
    [503, undefined, true],
    [500, undefined, false],
    [504, undefined, false],
    [0, 'ECONNREFUSED', true],
    [0, 'ECONNRESET', false],
    [0, 'ETIMEDOUT', false],
  ])('a write: %i %s → %s (only what surely did not reach the server)', (status, code, want) => {
    expect(isTransient(err({ status, code, message: '' }), 'write')).toBe(want);
  });
});
