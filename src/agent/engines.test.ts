import { describe, expect, it } from 'vitest';
import type { SnapshotEngine } from './engine.js';
import { chooseEngine, createEngine, isEngineName } from './engines.js';

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

  it('by default passes over cuda where there is no GPU (or no CRIU) and takes criu where CRIU works, else sim', async () => {
    const choice = await chooseEngine();
    expect(['criu', 'sim']).toContain(choice.engine.name);
    expect(choice.skipped[0]).toEqual({ name: 'cuda', reason: expect.stringMatching(/NVIDIA|CRIU/) });
    if (choice.engine.name === 'sim') expect(choice.skipped.map((s) => s.name)).toEqual(['cuda', 'criu']);
  });

  it('a wanted engine that cannot run is an error that says why', async () => {
    await expect(chooseEngine('cuda')).rejects.toThrow(/engine cuda cannot run here.*(NVIDIA|CRIU)/);
    expect((await chooseEngine('sim')).engine.simulated).toBe(true);
  });

  it('knows its names', () => {
    expect(isEngineName('sim')).toBe(true);
    expect(isEngineName('docker')).toBe(false);
    expect(createEngine('sim').name).toBe('sim');
  });
});
