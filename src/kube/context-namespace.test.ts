import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/temp-dir.js';
import { readContextNamespace } from './context-namespace.js';

const dir = tempDir('ctxns-');
function kubeconfig(name: string, current: string | undefined, contexts: Array<[string, string | undefined]>): string {
  const path = join(dir, name);
  const lines = ['apiVersion: v1', 'kind: Config'];
  if (current) lines.push(`current-context: ${current}`);
  lines.push('contexts:');
  for (const [n, ns] of contexts) lines.push(`  - name: ${n}`, '    context:', '      cluster: c', ...(ns ? [`      namespace: ${ns}`] : []));
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('readContextNamespace (no client-node)', () => {
  const a = kubeconfig('a', 'prod', [['prod', 'ml'], ['dev', 'scratch'], ['bare', undefined]]);
  const b = kubeconfig('b', 'other', [['other', 'team-b']]);
  const cases: Array<[string, Parameters<typeof readContextNamespace>[0], string | undefined]> = [
    ['--kubeconfig, current context', { kubeconfig: a, env: {} }, 'ml'],
    ['--kube-context picks another context', { kubeconfig: a, context: 'dev', env: {} }, 'scratch'],
    ['a context without a namespace', { kubeconfig: a, context: 'bare', env: {} }, undefined],
    ['an unknown context', { kubeconfig: a, context: 'nope', env: {} }, undefined],
    ['KUBECONFIG list: first current-context wins', { env: { KUBECONFIG: `${b}:${a}` } }, 'team-b'],
    ['KUBECONFIG entries that do not exist are skipped', { env: { KUBECONFIG: `${join(dir, 'missing')}:${a}` } }, 'ml'],
    ['~/.kube/config from HOME', { env: { HOME: join(dir, 'nohome') } }, undefined],
  ];
  it.each(cases)('%s', (_label, opts, expected) => {
    expect(readContextNamespace(opts)).toBe(expected);
  });

  it('reads ~/.kube/config', () => {
    const home = tempDir('ctxns-home-');
    mkdirSync(join(home, '.kube'));
    copyFileSync(a, join(home, '.kube', 'config'));
    expect(readContextNamespace({ env: { HOME: home } })).toBe('ml');
  });
});
