import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit.js';

/** A bucket on a fake clock whose sleeps advance the clock. */
function bucket(perSecond: number, burst: number) {
  let now = 0;
  const sleeps: number[] = [];
  const b = new TokenBucket(
    { perSecond, burst },
    async (ms, signal) => {
      if (signal?.aborted) throw new Error('aborted');
      sleeps.push(ms);
      now += ms;
    },
    () => now,
  );
  return { b, sleeps, advance: (ms: number) => (now += ms), now: () => now };
}

describe('TokenBucket', () => {
  it('lets a burst through at once, then one request per 1/perSecond', async () => {
    const { b, sleeps } = bucket(8, 16);
    for (let i = 0; i < 16; i++) await b.take();
    expect(sleeps).toEqual([]);
    for (let i = 0; i < 4; i++) await b.take();
    expect(sleeps).toEqual([125, 125, 125, 125]);
  });

  it('bounds any loop: 1000 requests take at least (1000 - burst) / perSecond seconds of the clock', async () => {
    const { b, now } = bucket(8, 16);
    for (let i = 0; i < 1000; i++) await b.take();
    expect(now()).toBeGreaterThanOrEqual(((1000 - 16) / 8) * 1000);
  });

  it('refills while idle, never beyond the burst', async () => {
    const { b, sleeps, advance } = bucket(2, 2);
    await b.take();
    await b.take();
    advance(10_000);
    await b.take();
    await b.take();
    expect(sleeps).toEqual([]);
    await b.take();
    expect(sleeps).toEqual([500]);
  });

  it('waiters queue behind each other; an aborted wait gives its token back', async () => {
    const { b, sleeps } = bucket(1, 1);
    await b.take();
    const ac = new AbortController();
    ac.abort();
    await expect(b.take(ac.signal)).rejects.toThrow('aborted');
    await b.take();
    expect(sleeps).toEqual([1000]);
  });
});
