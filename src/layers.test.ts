/**
 * The layer picture of docs/architecture.md, enforced: every relative
 * import (static, `export ... from`, `import type`, dynamic `import('...')`) of every
 * non-test file under src/ is checked against the rules below, so an upward import
 * fails here instead of surfacing later as a cycle or a CLI module in the agent image.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** Repo-relative paths (`src/kube/wait.ts`) of the non-test TypeScript files under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The repo-relative `.ts` targets of `file`'s relative imports. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(ROOT, resolve(dirname(join(ROOT, file)), spec)).replace(/\.js$/, '.ts'));
}

/** A rule: files under `from` may import only what `allowed` accepts. */
interface Rule {
  from: string;
  says: string;
  allowed: (target: string) => boolean;
}

const under = (target: string, ...prefixes: string[]): boolean =>
  prefixes.some((p) => (p.endsWith('.ts') ? target === p : target.startsWith(`${p}/`)));

const RULES: Rule[] = [
  { from: 'src/protocol', says: 'src/protocol imports only itself', allowed: (t) => under(t, 'src/protocol') },
  {
    from: 'src/kube',
    says: 'src/kube imports only src/kube, src/protocol and src/errors.ts',
    allowed: (t) => under(t, 'src/kube', 'src/protocol', 'src/errors.ts'),
  },
  {
    from: 'src/validate',
    says: 'src/validate imports only src/validate, src/protocol and src/errors.ts',
    allowed: (t) => under(t, 'src/validate', 'src/protocol', 'src/errors.ts'),
  },
  {
    from: 'src/agent',
    says: 'src/agent never imports src/cli, src/commands or src/dev',
    allowed: (t) => !under(t, 'src/cli', 'src/commands', 'src/dev'),
  },
  { from: 'src/commands', says: 'src/commands never imports src/cli', allowed: (t) => !under(t, 'src/cli') },
  { from: 'src/dev', says: 'src/dev never imports src/cli', allowed: (t) => !under(t, 'src/cli') },
];

/**
 * Today's exceptions, each `importer -> target` exactly; a new one fails the test.
 * - protocol -> errors.ts: `import type { Finding }` only (erased at build, no runtime
 *   dependency); moving `Finding` into src/protocol would touch every validator.
 * - kube/testing -> src/testing: the scripted HTTP server (a test helper, not shipped
 *   behaviour) takes its temp dirs from the shared helper that removes them per file.
 */
const EXCEPTIONS = new Set([
  'src/protocol/identity.ts -> src/errors.ts',
  'src/protocol/manifest.ts -> src/errors.ts',
  'src/kube/testing/scripted-server.ts -> src/testing/temp-dir.ts',
]);

/** Every `importer -> target` that breaks a rule, with the rule it breaks. */
function violations(): string[] {
  const found: string[] = [];
  for (const rule of RULES) {
    for (const file of sourceFiles(rule.from)) {
      for (const target of relativeImports(file)) {
        const edge = `${file} -> ${target}`;
        if (!rule.allowed(target) && !EXCEPTIONS.has(edge)) found.push(`${edge} (${rule.says})`);
      }
    }
  }
  return found;
}

describe('layers', () => {
  it('no file under src/ imports upward', () => {
    expect(violations()).toEqual([]);
  });

  it('every listed exception still exists (remove it once the import is gone)', () => {
    const edges = new Set(
      ['src/protocol', 'src/kube'].flatMap((d) => sourceFiles(d).flatMap((f) => relativeImports(f).map((t) => `${f} -> ${t}`))),
    );
    expect([...EXCEPTIONS].filter((e) => !edges.has(e))).toEqual([]);
  });

  it('sees static, type-only, re-export and dynamic imports', () => {
    // The checker is only as good as its import reader: prove it on a known file of each kind.
    expect(relativeImports('src/protocol/identity.ts')).toContain('src/errors.ts'); // import type
    expect(relativeImports('src/protocol/index.ts')).toContain('src/protocol/constants.ts'); // export * from
    expect(relativeImports('src/commands/demo.ts')).toContain('src/dev/cluster.ts'); // await import(...)
    expect(relativeImports('src/agent/runtimes.ts')).toContain('src/agent/containerd.ts'); // await import(...)
  });
});
