/**
 * API errors as real `Status` objects. Every failure the server returns goes through
 * `ApiError`, so messages and reasons match what clients parse from a real cluster.
 */
import type { ResourceInfo } from './resources.js';

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** The `Status` body (kind Status, apiVersion v1). */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number; uid?: string };
  code: number;
}

/** An error carrying an HTTP code and the Status body to send. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusBody['details'];
  /** Extra response headers such as Retry-After. */
  readonly headers: Record<string, string>;
  constructor(code: number, reason: string, message: string, details?: StatusBody['details'], headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers;
  }

  /** The Status object for the response body. */
  toStatus(): StatusBody {
    const s: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details !== undefined) s.details = this.details;
    return s;
  }
}

/** `pods` or `jobs.batch`: how the real server names a resource in messages. */
export function qualifiedName(res: ResourceInfo): string {
  return res.group === '' ? res.plural : `${res.plural}.${res.group}`;
}

function details(res: ResourceInfo, name: string | undefined): NonNullable<StatusBody['details']> {
  const d: NonNullable<StatusBody['details']> = { group: res.group, kind: res.plural };
  if (name !== undefined) d.name = name;
  if (res.group === '') delete d.group;
  return d;
}

/** 404 `pods "x" not found`. */
export function notFound(res: ResourceInfo, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedName(res)} "${name}" not found`, details(res, name));
}

/** 409 `jobs.batch "x" already exists`. */
export function alreadyExists(res: ResourceInfo, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedName(res)} "${name}" already exists`, details(res, name));
}

/** 409 Conflict for a stale resourceVersion, worded like the real optimistic-lock error. */
export function conflict(res: ResourceInfo, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedName(res)} "${name}": ${why}`, details(res, name));
}

/** 422 Invalid with causes: `Pod "x" is invalid: spec.containers: Required value`. */
export function invalid(res: ResourceInfo, name: string, causes: StatusCause[]): ApiError {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const d: NonNullable<StatusBody['details']> = { name, group: res.group, kind: res.kind, causes };
  if (res.group === '') delete d.group;
  const qualifiedKind = res.group === '' ? res.kind : `${res.kind}.${res.group}`;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${joined}`, d);
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 404 for a path the server does not serve (the real body for unknown URLs). */
export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** 410 Gone with reason Expired, as sent for a too-old watch resourceVersion. */
export function expired(message = 'too old resource version'): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** Reason names for codes the fault injector may produce. */
export function reasonForCode(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 410: return 'Expired';
    case 415: return 'UnsupportedMediaType';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return code >= 500 ? 'InternalError' : 'BadRequest';
  }
}
