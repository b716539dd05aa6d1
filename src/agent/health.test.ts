import { afterEach, describe, expect, it } from 'vitest';
import { parseHostPort, startHealthServer, watchEventLoop, type HealthServer, type ProbeResult } from './health.js';

describe('parseHostPort', () => {
  it.each([
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    [':9440', { host: '0.0.0.0', port: 9440 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
  ])('%s', (text, want) => expect(parseHostPort(text)).toEqual(want));

  it.each(['8080', 'host', 'a:b', '1.2.3.4:70000', '::1:80', ''])('refuses %j', (text) => expect(parseHostPort(text)).toBeUndefined());
});

describe('startHealthServer', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(live: ProbeResult, ready: () => Promise<ProbeResult>): Promise<string> {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, live: () => live, ready });
    return `http://${server.address}`;
  }

  it('answers /healthz and /readyz with 200 or 503 and the reason, anything else 404 or 405', async () => {
    let ready: ProbeResult = { ok: false, detail: 'not ready: pod informers not synced yet' };
    const base = await start({ ok: true, detail: 'ok' }, async () => ready);
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`${base}${path}`, { method });
      return [res.status, await res.text(), res.headers.get('content-type')];
    };
    expect(await get('/healthz')).toEqual([200, 'ok\n', 'text/plain; charset=utf-8']);
    expect(await get('/readyz')).toEqual([503, 'not ready: pod informers not synced yet\n', 'text/plain; charset=utf-8']);
    ready = { ok: true, detail: 'ok' };
    expect(await get('/readyz?verbose')).toEqual([200, 'ok\n', 'text/plain; charset=utf-8']);
    expect(await get('/readyz', 'HEAD')).toEqual([200, '', 'text/plain; charset=utf-8']);
    expect((await get('/readyz', 'POST'))[0]).toBe(405);
    expect((await get('/metrics'))[0]).toBe(404);
  });

  it('a liveness failure and a throwing readiness check are 503', async () => {
    const base = await start({ ok: false, detail: 'event loop stalled for 12 s' }, async () => {
      throw new Error('boom');
    });
    const live = await fetch(`${base}/healthz`);
    expect([live.status, await live.text()]).toEqual([503, 'event loop stalled for 12 s\n']);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([503, 'readiness check failed: boom\n']);
  });

  it('rejects an address in use', async () => {
    const base = await start({ ok: true, detail: 'ok' }, async () => ({ ok: true, detail: 'ok' }));
    const port = Number(new URL(base).port);
    await expect(startHealthServer({ host: '127.0.0.1', port, live: () => ({ ok: true, detail: '' }), ready: async () => ({ ok: true, detail: '' }) })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('watchEventLoop', () => {
  it('reports how long the timer is past due', () => {
    let t = 1000;
    const loop = watchEventLoop(500, () => t);
    t = 1400;
    expect(loop.stalledMs()).toBe(0);
    t = 13_500;
    expect(loop.stalledMs()).toBe(12_000);
    loop.stop();
  });
});
