import { describe, expect, it } from 'vitest';
import { tryAcquireLease } from './lease.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

describe('a held Lease', () => {
  it('counts as lost once no renewal got through for its duration (an API outage), not only on a 404 or 409', async () => {
    const kube = new FakeKubeClient();
    let now = Date.parse('2026-12-03T12:00:00Z');
    const logs: string[] = [];
    const attempt = await tryAcquireLease({ client: kube, namespace: 'ml', name: 'w-checkpoint', holder: 'agent-a', durationMs: 3000, renewMs: 20, now: () => now, log: (m) => logs.push(m) });
    if (!attempt.acquired) throw new Error('not acquired');
    const lease = attempt.lease;
    try {
      await new Promise((r) => setTimeout(r, 60));
      expect(lease.lost).toBe(false);
      // The API server stops answering renewals; time goes on.
      kube.failNext('patch', 'leases', 503, 1000);
      now += 2000;
      await new Promise((r) => setTimeout(r, 60));
      expect(lease.lost).toBe(false);
      expect(logs.join('\n')).toMatch(/could not renew lease ml\/w-checkpoint/);
      now += 1500;
      expect(lease.lost).toBe(true);
    } finally {
      await lease.release();
    }
  });
});
