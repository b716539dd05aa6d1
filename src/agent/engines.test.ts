import { describe, expect, it } from 'vitest';
import type { SnapshotEngine } from './engine.js';
import { chooseEngine, createEngine, ENGINE_NAMES, isEngineName } from './engines.js';

function stub(name: string, ok: boolean): SnapshotEngine {
  return {
    name,
    simulated: name === 'sim',
    probe: async () => (ok ? { ok } : { ok, reason: `${name} missing` }),
    checkpoint: async () => ({}),
    restore: async () => ({}),
  };
}

describe('engine selection', () => {
  it('defaults to the best engine whose probe passes, naming the ones passed over', async () => {
    const choice = await chooseEngine(undefined, [stub('cuda', false), stub('criu', true), stub('sim', true)]);
    expect(choice.engine.name).toBe('criu');
    expect(choice.skipped).toEqual([{ name: 'cuda', reason: 'cuda missing' }]);
  });

  // What this machine has is an input: stub engines whose probes say so. The same
  // answers on a laptop, a CI runner and a GPU node.
  const machine = (has: { gpu: boolean; criu: boolean }): SnapshotEngine[] => [
    stub('cuda', has.gpu && has.criu),
    stub('criu', has.criu),
    stub('sim', true),
  ];

  it.each([
    { has: { gpu: true, criu: true }, engine: 'cuda', skipped: [] },
    { has: { gpu: false, criu: true }, engine: 'criu', skipped: ['cuda'] },
    { has: { gpu: true, criu: false }, engine: 'sim', skipped: ['cuda', 'criu'] },
    { has: { gpu: false, criu: false }, engine: 'sim', skipped: ['cuda', 'criu'] },
  ])('by default on a machine with $has: $engine, passing over $skipped', async ({ has, engine, skipped }) => {
    const choice = await chooseEngine(undefined, machine(has));
    expect(choice.engine.name).toBe(engine);
    expect(choice.skipped).toEqual(skipped.map((name) => ({ name, reason: `${name} missing` })));
  });

  it('a wanted engine: taken where its probe passes, else an error that says why', async () => {
    expect((await chooseEngine('cuda', machine({ gpu: true, criu: true }))).engine.name).toBe('cuda');
    await expect(chooseEngine('cuda', machine({ gpu: false, criu: true }))).rejects.toThrow('engine cuda cannot run here (cuda: cuda missing)');
    await expect(chooseEngine('criu', machine({ gpu: true, criu: false }))).rejects.toThrow('engine criu cannot run here (criu: criu missing)');
    expect((await chooseEngine('sim', machine({ gpu: false, criu: false }))).engine.simulated).toBe(true);
  });

  it('the real engines, on a machine pinned to have no CRIU and no CUDA helper: sim, each real engine passed over with its reason', async () => {
    const env = { ...process.env, SNAPSHOTCTL_CRIU: '/nonexistent/criu', SNAPSHOTCTL_PYTHON: '/nonexistent/python3' };
    const real = ENGINE_NAMES.map((n) => createEngine(n, { env }));
    const choice = await chooseEngine(undefined, real);
    expect(choice.engine.name).toBe('sim');
    expect(choice.skipped).toEqual([
      { name: 'cuda', reason: expect.stringMatching(/^CRIU: .*\/nonexistent\/criu/) },
      { name: 'criu', reason: expect.stringContaining('/nonexistent/criu') },
    ]);
    await expect(chooseEngine('cuda', ENGINE_NAMES.map((n) => createEngine(n, { env })))).rejects.toThrow(/^engine cuda cannot run here \(cuda: CRIU: /);
  });

  it('the default candidates on whatever machine runs this: the first whose probe passes, every one before it named with a reason', async () => {
    const choice = await chooseEngine();
    const at = ENGINE_NAMES.indexOf(choice.engine.name as (typeof ENGINE_NAMES)[number]);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(choice.skipped.map((s) => s.name)).toEqual(ENGINE_NAMES.slice(0, at));
    for (const s of choice.skipped) expect(s.reason).not.toBe('');
  });

  it('knows its names', () => {
    expect(isEngineName('sim')).toBe(true);
    expect(isEngineName('docker')).toBe(false);
    expect(createEngine('sim').name).toBe('sim');
  });
});
