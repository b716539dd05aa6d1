/**
 * `parent`, or a deadline `ms` from now, whichever comes first: what
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])` says, without its flaw. Node's
 * timer holds an `AbortSignal.timeout` signal only weakly, and `AbortSignal.any` does
 * not hold its sources, so under memory pressure the timeout signal can be collected
 * before it fires and the deadline never comes (seen as a `--timeout 3s` look-up that
 * waited for the server's answer 20 s later). Here the timer holds the controller. The
 * timer does not keep the process alive.
 */
export function deadlineSignal(parent: AbortSignal, ms: number): AbortSignal {
  const ctl = new AbortController();
  const onAbort = (): void => {
    clearTimeout(timer);
    ctl.abort(parent.reason);
  };
  const timer = setTimeout(() => {
    parent.removeEventListener('abort', onAbort);
    ctl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref();
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return ctl.signal;
}
