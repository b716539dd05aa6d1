/**
 * API errors and the one translator from them to sentences. Every
 * failed call of `client.ts` throws `ApiError`, whether the server answered with an
 * error status or no answer arrived at all (`status` 0 and a `code`).
 */
import { ClusterError } from '../errors.js';
import type { ResourceType } from './types.js';

/** The verbs of our client, as RBAC names them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';

/** What a failed call was about. */
export interface ApiErrorInit {
  verb: Verb;
  resource: ResourceType;
  namespace?: string | undefined;
  name?: string | undefined;
  /** HTTP status, 0 when no response arrived. */
  status: number;
  /** Status `reason` (`Forbidden`, `NotFound`, ...) or the Node error code. */
  reason?: string | undefined;
  /** Status `message`, or the transport error's message. */
  message: string;
  /** Node error code when no response arrived: `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, ... */
  code?: string | undefined;
  /** API server URL, for "cannot reach" sentences. */
  server?: string | undefined;
  /** Kubeconfig context, for "credentials rejected" sentences. */
  context?: string | undefined;
  /** The Status object's `details`, when the server sent one. */
  details?: unknown;
  /** The server's `Retry-After`, ms, when it sent one. */
  retryAfterMs?: number | undefined;
}

/** A Kubernetes API call that failed. `message` is the server's Status message. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  readonly code: string | undefined;
  readonly verb: Verb;
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly objectName: string | undefined;
  readonly server: string | undefined;
  readonly context: string | undefined;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
  constructor(init: ApiErrorInit) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.reason = init.reason;
    this.code = init.code;
    this.verb = init.verb;
    this.resource = init.resource;
    this.namespace = init.namespace;
    this.objectName = init.name;
    this.server = init.server;
    this.context = init.context;
    this.details = init.details;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** True for an `ApiError` with one of the given HTTP statuses. */
export function isApiStatus(err: unknown, ...statuses: number[]): err is ApiError {
  return err instanceof ApiError && statuses.includes(err.status);
}

/**
 * Retry class of a call. Reads may be repeated freely; writes only when the server
 * certainly did not process them (429, 503, or the connection was refused), because a
 * create repeated after a lost answer could run twice.
 */
export type Idempotency = 'read' | 'write';

/**
 * The one retry policy's lists: the statuses and Node error codes after which waiting
 * and trying again may help. The client's retries and the waits' loops both ask
 * `isTransient`; nothing else keeps a list.
 */
const RETRY_STATUSES: Record<Idempotency, ReadonlySet<number>> = {
  read: new Set([429, 500, 502, 503, 504]),
  write: new Set([429, 503]),
};
const RETRY_CODES: Record<Idempotency, ReadonlySet<string>> = {
  read: new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE']),
  write: new Set(['ECONNREFUSED']),
};

/** Whether a Node error code is one a call of this class is tried again after. */
export function isTransientCode(code: string | undefined, idem: Idempotency = 'read'): boolean {
  return code !== undefined && RETRY_CODES[idem].has(code);
}

/**
 * Whether waiting and trying again may help: throttling, server trouble, a dropped
 * connection; for a write, only what certainly did not reach the server.
 */
export function isTransient(err: unknown, idem: Idempotency = 'read'): boolean {
  if (err instanceof ApiError) return err.status === 0 ? isTransientCode(err.code, idem) : RETRY_STATUSES[idem].has(err.status);
  return isTransientCode(errorCode(err), idem);
}

/** The Node error code of an error, if any. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/** `jobs.batch "w" in namespace "ml"`, kubectl's way of naming an object. */
export function describeObject(res: ResourceType, namespace: string | undefined, name: string | undefined): string {
  const kind = res.group ? `${res.plural}.${res.group}` : res.plural;
  const named = name !== undefined && name !== '' ? `${kind} "${name}"` : kind;
  return res.namespaced && namespace ? `${named} in namespace "${namespace}"` : named;
}

/** RBAC file the 403 sentence points to. */
export const RBAC_MANIFEST = 'manifests/rbac-cli.yaml';

const CHECK_CONFIG = 'Check --kubeconfig/--kube-context';

/** A sentence in two parts: what went wrong, and the next step. */
export interface Explanation {
  message: string;
  hint: string;
}

/**
 * Splits an error into what happened (naming the object) and what to do next. Works on
 * `ApiError`, Node transport errors and anything else (falls back to its message).
 */
export function explainApiError(err: unknown): Explanation {
  if (!(err instanceof ApiError)) {
    const code = errorCode(err);
    const msg = err instanceof Error ? err.message : String(err);
    return { message: code ? `${msg} (${code})` : msg, hint: 'Retry; run with --verbose to see each API call' };
  }
  const obj = describeObject(err.resource, err.namespace, err.objectName);
  const what = `cannot ${err.verb} ${obj}`;
  const server = err.server ?? 'the configured address';
  const serverMsg = err.message.trim();
  if (err.status === 0) {
    switch (err.code) {
      case 'ECONNREFUSED':
        return { message: `cannot reach the API server at ${server}: connection refused`, hint: `Is the cluster running? ${CHECK_CONFIG}` };
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return {
          message: `cannot reach the API server at ${server}: host not found`,
          hint: `Check the server address of the context and your DNS/VPN. ${CHECK_CONFIG}`,
        };
      case 'ETIMEDOUT':
        return {
          message: `the API server at ${server} did not answer in time (${what})`,
          hint: `Check your network or VPN and that the cluster is up. ${CHECK_CONFIG}`,
        };
      case 'ECONNRESET':
      case 'EPIPE':
        return { message: `the connection to the API server at ${server} was reset (${what})`, hint: 'Retry; if it persists, check proxies and the API server' };
      default:
        if (err.code?.startsWith('ERR_TLS') || err.code?.includes('CERT') || err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
          return {
            message: `TLS verification of the API server at ${server} failed: ${serverMsg}`,
            hint: `Check the cluster's certificate-authority in your kubeconfig. ${CHECK_CONFIG}`,
          };
        }
        return { message: `${what}: ${serverMsg}${err.code ? ` (${err.code})` : ''}`, hint: `Retry. ${CHECK_CONFIG}` };
    }
  }
  switch (err.status) {
    case 401:
      return {
        message: `${what}: unauthorized (the API server at ${server} rejected the credentials${err.context ? ` of context "${err.context}"` : ''})`,
        hint: `Log in again or refresh your token; ${CHECK_CONFIG}`,
      };
    case 403: {
      // The server says `jobs.batch "x" is forbidden: User "ci" cannot ...`; keep the why.
      const why = serverMsg.replace(/^.*? is forbidden: /, '');
      return {
        message: `${what}: forbidden (${why})`,
        hint: `Grant it with the Role in ${RBAC_MANIFEST}: kubectl apply -f ${RBAC_MANIFEST}`,
      };
    }
    case 404:
      // A Status with reason NotFound names a missing object; a bare 404 (no Status, or
      // one without details) on a list means the server does not know the resource type.
      if (err.reason === 'NotFound' && (err.objectName !== undefined || hasDetailsName(err.details))) {
        return { message: `${obj} not found`, hint: 'Check the name and the namespace (-n/--namespace)' };
      }
      // No Status naming the object: the resource type itself is unknown to the server.
      return {
        message: `${what}: the API server does not serve ${err.resource.plural}.${err.resource.group || 'core'}/${err.resource.version}`,
        hint: err.resource.group ? 'Is its CustomResourceDefinition installed? kubectl apply -f manifests/' : CHECK_CONFIG,
      };
    case 409:
      if (err.reason === 'AlreadyExists') {
        return { message: `${obj} already exists`, hint: 'Pick another name (--checkpoint-id) or delete the existing one first' };
      }
      return { message: `${what}: conflict (${serverMsg})`, hint: 'Someone else changed it meanwhile; retry' };
    case 410:
      return { message: `${what}: the requested resource version is gone (${serverMsg})`, hint: 'Retry; the data expired from the API server cache' };
    case 422:
      return { message: `${what}: invalid (${serverMsg.replace(/^.*? is invalid: /, '')})`, hint: 'Fix the manifest; `snapshotctl validate` shows every problem' };
    case 429:
      return { message: `${what}: the API server is throttling requests (429 Too Many Requests)`, hint: 'Wait a little and retry' };
    default:
      if (err.status >= 500) {
        return {
          message: `${what}: the API server failed (${err.status}${err.reason ? ` ${err.reason}` : ''}${serverMsg ? `: ${serverMsg}` : ''})`,
          hint: "Retry; if it persists, check the API server's health",
        };
      }
      return { message: `${what}: ${err.status}${err.reason ? ` ${err.reason}` : ''}${serverMsg ? ` (${serverMsg})` : ''}`, hint: CHECK_CONFIG };
  }
}

function hasDetailsName(details: unknown): boolean {
  return typeof details === 'object' && details !== null && typeof (details as { name?: unknown }).name === 'string';
}

/**
 * One sentence for a failed API call: what failed, naming the object, then the next
 * step, e.g. `cannot reach the API server at https://10.0.0.1:6443: connection refused.
 * Is the cluster running? Check --kubeconfig/--kube-context`.
 */
export function describeApiError(err: unknown): string {
  const { message, hint } = explainApiError(err);
  return `${message}. ${hint}`;
}

/**
 * The error to throw from a command when an API call failed (exit 3). The sentence is
 * the translator's alone: an `ApiError`'s already names the call and the object
 * (`cannot list daemonsets.apps in namespace "ml": ...`), so callers pass nothing that
 * restates it. `context` (e.g. `waiting for the checkpoint Job`) is prefixed only to
 * an error that is not an `ApiError`, whose message names no call. A `ClusterError`
 * passes through unchanged (it already says what went wrong).
 */
export function toClusterError(err: unknown, context?: string): ClusterError {
  if (err instanceof ClusterError) return err;
  const { message, hint } = explainApiError(err);
  const status = err instanceof ApiError && err.status > 0 ? err.status : undefined;
  const prefix = context && !(err instanceof ApiError);
  const code = err instanceof ApiError && err.status === 0 ? err.code : errorCode(err);
  return new ClusterError(prefix ? `${context}: ${message}` : message, hint, status, code);
}
