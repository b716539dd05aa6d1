/**
 * The layer picture of docs/architecture.md, enforced: every relative
 * import (static, `export ... from`, `import type`, dynamic `import('...')`) of every
 * non-test file under src/ is checked against the rules below, so an upward import
 * fails here instead of surfacing later as a cycle or a CLI module in the agent image.
 * Two more checks read the syntax tree: shipped kube code takes only types from
 * src/protocol, and outside src/cli only the other programs' entries build a
 * Kubernetes client (commands get theirs through their deps).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** Repo-relative paths (`src/kube/wait.ts`) of the non-test TypeScript files under `dir` (or `dir` itself, a `.ts` file). */
function sourceFiles(dir: string): string[] {
  if (dir.endsWith('.ts')) return [dir];
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
    .importedFiles.flatMap((f) => targetOf(file, f.fileName) ?? []);
}

/** The repo-relative target of a relative module specifier in `file`; undefined for a package. */
function targetOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT, resolve(dirname(join(ROOT, file)), spec)).replace(/\.js$/, '.ts');
}

/** `file`'s syntax tree, from `text` (its contents on disk unless given). */
function parse(file: string, text = readFileSync(join(ROOT, file), 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

/**
 * The relative targets `file` imports only as types: every import and re-export of them
 * is `import type`, `export type`, or names nothing but inline `type` specifiers (all
 * erased at build), or an `import('...')` type. A target also reached by a value import,
 * a side-effect import or a dynamic `import()` is not in the set.
 */
function typeOnlyImports(file: string, text?: string): Set<string> {
  const typeOnly = new Set<string>();
  const value = new Set<string>();
  const note = (spec: ts.Node | undefined, onlyTypes: boolean) => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const target = targetOf(file, spec.text);
    if (target) (onlyTypes ? typeOnly : value).add(target);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      note(node.moduleSpecifier, onlyTypes);
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const onlyTypes = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      note(node.moduleSpecifier, onlyTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      note(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      note(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      note(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(file, text));
  for (const t of value) typeOnly.delete(t);
  return typeOnly;
}

/** The client builders of src/kube/client.ts (re-exported by src/kube/index.ts). */
const CLIENT_BUILDERS = new Set(['createKubeClient', 'createKubeClientFromConfig']);

/** Does `file` name a client builder anywhere in its code (an import, a call, `(await import(...)).createKubeClient`)? */
function namesClientBuilder(file: string, text?: string): boolean {
  let found = false;
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && CLIENT_BUILDERS.has(node.text)) found = true;
    else ts.forEachChild(node, visit);
  };
  visit(parse(file, text));
  return found;
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
  { from: 'src/errors.ts', says: 'src/errors.ts imports nothing of ours', allowed: () => false },
  {
    from: 'src/real',
    says: 'src/real imports only src/real, src/kube, src/protocol and src/errors.ts',
    allowed: (t) => under(t, 'src/real', 'src/kube', 'src/protocol', 'src/errors.ts'),
  },
  // Test helpers of every layer use it (kube/testing included): it must sit below them all.
  { from: 'src/testing', says: 'src/testing imports only itself', allowed: (t) => under(t, 'src/testing') },
];

/**
 * Shipped files outside src/cli that may build a Kubernetes client: the entries of the
 * other two programs. Everything a CLI command uses is built by src/cli (CommandDeps.kube,
 * the factories in the dispatch table and src/cli/dev.ts) and passed in.
 * - src/agent/serve.ts: `snapshot-agent`'s entry, with its in-cluster config;
 * - src/dev/cluster.ts: the embedded cluster's own: it applies manifests/ and runs its
 *   in-process agents and DynamoCheckpoint controller, each with a client.
 */
const CLIENT_BUILDING_ENTRIES = new Set(['src/agent/serve.ts', 'src/dev/cluster.ts']);

/** Shipped src/ files outside src/kube (which defines the builders) and src/cli that name a client builder. */
function clientBuildersOutsideTheEntry(): string[] {
  return sourceFiles('src')
    .filter((f) => !under(f, 'src/kube', 'src/cli') && !CLIENT_BUILDING_ENTRIES.has(f))
    .filter((f) => namesClientBuilder(f));
}

/**
 * kube -> protocol edges of shipped kube code that carry values. The test helpers in
 * src/kube/testing/ (fake client, scripted server, selectors) may use protocol's functions.
 */
function kubeValueImportsOfProtocol(): string[] {
  return sourceFiles('src/kube')
    .filter((f) => !under(f, 'src/kube/testing'))
    .flatMap((f) => {
      const typeOnly = typeOnlyImports(f);
      return relativeImports(f)
        .filter((t) => under(t, 'src/protocol') && !typeOnly.has(t))
        .map((t) => `${f} -> ${t} (src/kube imports src/protocol with \`import type\` or inline \`type\` specifiers only)`);
    });
}

/**
 * Today's exceptions, each `importer -> target` exactly; a new one fails the test.
 * - protocol -> errors.ts: `import type { Finding }` only (erased at build, no runtime
 *   dependency); moving `Finding` into src/protocol would touch every validator.
 * - kube/testing -> src/testing: the scripted HTTP server (a test helper, not shipped
 *   behaviour) takes its temp dirs from the shared helper that removes them per file.
 * - testing/machine.ts -> agent/criu: the test run's one machine set-up step (vitest's
 *   globalSetup) prepares CRIU with the agent's own locator and set-up helper, so the
 *   tests find CRIU exactly as the agent does.
 */
const EXCEPTIONS = new Set([
  'src/protocol/identity.ts -> src/errors.ts',
  'src/protocol/manifest.ts -> src/errors.ts',
  'src/kube/testing/scripted-server.ts -> src/testing/temp-dir.ts',
  'src/testing/machine.ts -> src/agent/criu/locate.ts',
  'src/testing/machine.ts -> src/agent/criu/testing.ts',
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
    const edges = new Set(RULES.flatMap((r) => sourceFiles(r.from).flatMap((f) => relativeImports(f).map((t) => `${f} -> ${t}`))));
    expect([...EXCEPTIONS].filter((e) => !edges.has(e))).toEqual([]);
  });

  it('shipped kube code imports src/protocol for types only', () => {
    expect(kubeValueImportsOfProtocol()).toEqual([]);
  });

  it('only the CLI entry builds a Kubernetes client (commands get theirs through their deps)', () => {
    expect(clientBuildersOutsideTheEntry()).toEqual([]);
    // Each named entry still builds one (remove it from the list once it does not).
    expect([...CLIENT_BUILDING_ENTRIES].filter((f) => !namesClientBuilder(f))).toEqual([]);
  });

  it('tells type-only imports from value imports', () => {
    const kinds = [
      "import type { A } from '../protocol/a.js';",
      "import { type B, type C } from '../protocol/b.js';",
      "export type { D } from '../protocol/d.js';",
      "let e: import('../protocol/e.js').E;",
      "import { type F, f } from '../protocol/f.js';",
      "import G from '../protocol/g.js';",
      "import '../protocol/h.js';",
      "export * from '../protocol/i.js';",
      "const j = await import('../protocol/j.js');",
      "import type { K } from '../protocol/k.js'; import { k } from '../protocol/k.js';",
    ].join('\n');
    expect([...typeOnlyImports('src/kube/x.ts', kinds)].sort()).toEqual(['src/protocol/a.ts', 'src/protocol/b.ts', 'src/protocol/d.ts', 'src/protocol/e.ts']);
    expect(typeOnlyImports('src/kube/wait.ts')).toContain('src/protocol/types.ts'); // on disk
  });

  it('sees a client builder however it is reached', () => {
    expect(namesClientBuilder('src/commands/x.ts', "import { createKubeClient as make } from '../kube/index.js';")).toBe(true);
    expect(namesClientBuilder('src/commands/x.ts', "const { createKubeClientFromConfig } = await import('../kube/client.js');")).toBe(true);
    expect(namesClientBuilder('src/commands/x.ts', "import * as k from '../kube/client.js'; k.createKubeClient({});")).toBe(true);
    expect(namesClientBuilder('src/commands/x.ts', "// createKubeClient is built by src/cli\nconst s = 'createKubeClient';")).toBe(false);
    expect(namesClientBuilder('src/cli/verbs.ts')).toBe(true); // clientFactory: (await import(...)).createKubeClient(...)
  });

  it('sees static, type-only, re-export and dynamic imports', () => {
    // The checker is only as good as its import reader: prove it on a known file of each kind.
    expect(relativeImports('src/protocol/identity.ts')).toContain('src/errors.ts'); // import type
    expect(relativeImports('src/protocol/index.ts')).toContain('src/protocol/constants.ts'); // export * from
    expect(relativeImports('src/commands/demo.ts')).toContain('src/dev/cluster.ts'); // await import(...)
    expect(relativeImports('src/agent/runtimes.ts')).toContain('src/agent/containerd.ts'); // await import(...)
  });
});
