import { describe, expect, it } from 'vitest';
import { ApiError } from '../kube/errors.js';
import { RESOURCES, type KubeClient, type WatchEvent } from '../kube/types.js';
import type { KubeObject } from '../protocol/types.js';
import { goneBackoffMs, runInformer } from './informer.js';

/**
 * A client whose every watch is refused with 410 Gone, the way a server answers when
 * each fresh list's version is already compacted: the informer must re-list, but not
 * in a tight loop.
 */
function goneClient(how: 'event' | 'throw', ctl: AbortController): { client: KubeClient; lists: () => number } {
  let lists = 0;
  const client = {
    list: async () => {
      lists += 1;
      // A spinning informer never yields to timers, so the test's own timeout would
      // never fire: stop it from here.
      if (lists >= 1000) ctl.abort();
      return { items: [], resourceVersion: String(lists) };
    },
    watch: (): AsyncIterable<WatchEvent<KubeObject>> => ({
      async *[Symbol.asyncIterator]() {
        if (how === 'throw') {
          throw new ApiError({ verb: 'watch', resource: RESOURCES.pods, status: 410, reason: 'Expired', message: 'too old resource version' });
        }
        yield { type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } as unknown as KubeObject };
      },
    }),
  } as unknown as KubeClient;
  return { client, lists: () => lists };
}

async function listsIn(how: 'event' | 'throw', ms: number): Promise<number> {
  const ctl = new AbortController();
  const { client, lists } = goneClient(how, ctl);
  const run = runInformer({
    client,
    resource: RESOURCES.pods,
    namespace: 'ns',
    signal: ctl.signal,
    backoffMs: 40,
    onList: () => {},
    onEvent: () => {},
    log: () => {},
  });
  await new Promise((r) => setTimeout(r, ms));
  ctl.abort();
  await run;
  return lists();
}

describe('runInformer and 410 Gone', () => {
  it.each(['event', 'throw'] as const)('re-lists at once after one 410 (%s), then backs off instead of spinning', async (how) => {
    // 300 ms with a 40 ms base back-off, doubling: lists at about 0, 0, 40, 120, 280 ms.
    const n = await listsIn(how, 300);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(8);
  });
});

describe('goneBackoffMs', () => {
  it.each([
    [1, 0],
    [2, 40],
    [3, 80],
    [4, 160],
    [10, 1000],
    [100, 1000],
  ])('410 number %i in a row waits %i ms (base 40, cap 1000)', (n, ms) => {
    expect(goneBackoffMs(n, 40, 1000)).toBe(ms);
  });
});
