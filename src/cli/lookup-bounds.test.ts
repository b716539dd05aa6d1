/**
 * list, describe and delete against an API server that never answers, and Ctrl-C
 * during their look-ups (issue 14 defects 9 and 10), through the real program on a
 * fake cluster: exit 4 within --timeout naming the server, exit 130 with the
 * interrupted message (never exit 3 "The operation was aborted (ABORT_ERR)").
 */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import type { RequestOptions, ResourceType } from '../kube/types.js';
import { runCli, seedAgent, seedCheckpoint } from './testing/run-cli.js';

/** A cluster whose reads never come back: each one ends only when its signal aborts, as a real request does. */
function silentCluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  seedCheckpoint(c, 'ck-a', { pod: 'worker-a', verdict: 'completed', node: 'node-1', minutesAgo: 10 });
  Object.assign(c, { server: 'https://10.0.0.1:6443' });
  const never = (signal: AbortSignal | undefined) =>
    new Promise<never>((_resolve, reject) => {
      signal?.addEventListener('abort', () => reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })), { once: true });
    });
  c.list = (_res, _ns, o) => never(o?.signal);
  c.get = ((_res: ResourceType, _ns: string | undefined, _name: string, o?: RequestOptions) => never(o?.signal)) as FakeKubeClient['get'];
  return c;
}

/** stderr without the `[  0.0s] phase` progress lines. */
function withoutProgress(stderr: string): string {
  return stderr.replace(/^\[ *[\d.]+s\] .*\n/gm, '');
}

const COMMANDS: Array<[string, string[], string]> = [
  ['list', ['list'], 'listing checkpoints in namespace "default"'],
  ['describe', ['describe', 'ck-a'], 'looking for checkpoint "ck-a" in namespace "default"'],
  ['delete', ['delete', 'ck-a', '--yes'], 'looking up checkpoints in namespace "default"'],
];

describe.each(COMMANDS)('%s', (_name, args, what) => {
  it('a server that never answers: exit 4 at --timeout, naming the server', async () => {
    const t0 = Date.now();
    const r = await runCli([...args, '--timeout', '300ms'], { client: silentCluster() });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(withoutProgress(r.stderr)).toBe(
      `error: timed out after 300ms while ${what}\nhint: the API server at https://10.0.0.1:6443 did not answer in time; check it is healthy (\`kubectl get --raw /readyz\`), or raise --timeout\n`,
    );
    // Does not hang: a generous bound, well below any per-request limit.
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('Ctrl-C during the look-ups: exit 130 with the interrupted message', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('SIGINT')), 50);
    const r = await runCli(args, { client: silentCluster(), signal: ac.signal });
    expect(r.code).toBe(130);
    expect(withoutProgress(r.stderr)).toBe(`error: interrupted while ${what}; nothing was changed\n`);
  });

  it('--timeout must be a duration', async () => {
    const r = await runCli([...args, '--timeout', 'soon'], { client: silentCluster() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --timeout "soon" is not a duration/);
  });
});
