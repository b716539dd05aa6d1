/** Shell completion: the scripts and the candidates of `__complete`. */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../commands/testing/fake-client.js';
import { runCli, seedCheckpoint, seedRestore } from './testing/run-cli.js';

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedCheckpoint(c, 'llama-v1', { pod: 'w1', verdict: 'completed', minutesAgo: 5 });
  seedCheckpoint(c, 'llama-v2', { pod: 'w2', verdict: 'completed', minutesAgo: 4 });
  seedCheckpoint(c, 'other', { ns: 'ml', pod: 'w3', verdict: 'completed', minutesAgo: 4 });
  seedRestore(c, 'llama-v1', 'placeholder-1', { status: 'completed', minutesAgo: 1 });
  return c;
}

const complete = async (words: string[], client = cluster()) => (await runCli(['__complete', '--', ...words], { client })).stdout;

describe('completion', () => {
  it.each(['bash', 'zsh', 'fish'])('%s: a script that calls __complete', async (shell) => {
    const r = await runCli(['completion', shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('snapshotctl __complete --');
  });

  it('an unknown shell: exit 2', async () => {
    expect((await runCli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('subcommands, flags and fixed flag values', async () => {
    expect(await complete(['l'])).toBe('list\n');
    expect((await complete(['']))).toContain('describe\n');
    expect(await complete(['list', '--all-'])).toBe('--all-namespaces\n');
    expect(await complete(['list', '-o', ''])).toBe('table\nwide\njson\nyaml\nname\n');
    expect(await complete(['hash', '--backend-framework', 's'])).toBe('sglang\n');
    expect(await complete(['completion', ''])).toBe('bash\nzsh\nfish\n');
  });

  it('checkpoint IDs from the cluster for describe, delete and --checkpoint-id, scoped by -n', async () => {
    expect(await complete(['describe', 'llama'])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['delete', 'llama-v1', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['restore', '--checkpoint-id', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['describe', '-n', 'ml', ''])).toBe('other\n');
  });

  it('pod names for restore --pod', async () => {
    expect(await complete(['restore', '--pod', 'place'])).toBe('placeholder-1\n');
  });

  it('no cluster: no candidates and exit 0 (the shell falls back to files)', async () => {
    const r = await runCli(['__complete', '--', 'describe', '']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });
});
