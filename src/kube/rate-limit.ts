/**
 * A token bucket in front of every request the client sends, retries and watches
 * included: whatever loop above it goes wrong (a watch answering `410 Gone` forever,
 * say), one process cannot send more than `burst + perSecond × t` requests in `t`
 * seconds. client-go bounds its clients the same way (QPS and burst).
 */

/** Sustained rate and burst of one client. */
export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many requests may go at once after a quiet spell. */
  burst: number;
}

/** Our default: 8 requests a second sustained, 16 at once (a whole run fits in the burst). */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 8, burst: 16 };

/** Waits `ms`; rejects when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Hands out one token per request. A caller that finds the bucket empty reserves the
 * next token (the count goes below zero) and sleeps until it is due, so callers are
 * served in order; an aborted wait gives its token back.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly sleep: Sleep,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error(`rate limit needs perSecond > 0 and burst >= 1, got ${limit.perSecond}/${limit.burst}`);
    this.tokens = limit.burst;
    this.last = clock();
  }

  /** Resolves when the caller may send one request; rejects when `signal` aborts first. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = this.clock();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.perSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    const waitMs = Math.ceil((-this.tokens / this.limit.perSecond) * 1000);
    try {
      await this.sleep(waitMs, signal);
    } catch (err) {
      this.tokens += 1;
      throw err;
    }
  }
}
