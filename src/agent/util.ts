/** Small helpers shared by the agent's modules. */
import { ApiError } from '../kube/errors.js';

/**
 * HTTP status of an error thrown by a `KubeClient` (its contract: `ApiError`), or
 * undefined when the call got no answer (status 0) or the error is something else.
 */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiError && err.status > 0 ? err.status : undefined;
}

/** Message of anything thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Kubernetes MicroTime: RFC 3339 with microseconds, as Lease times are written. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Kubernetes Time: RFC 3339 with seconds. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
