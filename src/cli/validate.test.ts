/**
 * `snapshotctl validate` through the real commander program: the fixture corpus under
 * test/fixtures/validate (each bad file names its expected rule IDs in a
 * `# expect:` header and extra flags in `# args:`), output formats, directories, stdin,
 * exit codes, and that no Kubernetes client is touched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/temp-dir.js';
import { RULE_REGISTRY } from '../validate/index.js';
import { main } from './main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = 'test/fixtures/validate';
/** JSON cannot carry a comment header. */
const JSON_EXPECT: Record<string, string[]> = { 'two-containers.json': ['SNAP001'] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  kubeCalls: number;
}

async function run(args: string[], stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let kubeCalls = 0;
  const code = await main(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
    env: {},
    signal: new AbortController().signal,
    readStdin: async () => stdin,
    kube: async () => {
      kubeCalls += 1;
      throw new Error('test: validate must not build a client');
    },
    contextNamespace: async () => undefined,
  });
  return { code, stdout, stderr, kubeCalls };
}

function header(text: string, key: string): string | undefined {
  return new RegExp(`^# ${key}: (.*)$`, 'm').exec(text)?.[1]?.trim();
}

function corpus(dir: string): Array<{ file: string; expect: string[]; args: string[] }> {
  return readdirSync(join(ROOT, FIXTURES, dir))
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort()
    .map((name) => {
      const file = `${FIXTURES}/${dir}/${name}`;
      const text = readFileSync(join(ROOT, file), 'utf8');
      const expect = JSON_EXPECT[name] ?? header(text, 'expect')?.split(',').map((s) => s.trim()) ?? [];
      return { file, expect, args: header(text, 'args')?.split(/\s+/) ?? [] };
    });
}

interface JsonOut {
  version: number;
  summary: { files: number; documents: number; errors: number; warnings: number; skipped: number };
  files: Array<{ file: string; documents: number; findings: Array<{ rule: string; severity: string; path: string; message: string; line: number; column: number; document: number }>; skipped: Array<{ message: string }> }>;
}

describe('the bad corpus: each file exits 2 with exactly its expected rule IDs', () => {
  const cases = corpus('bad');
  it('holds at least 40 manifests, each with an expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const c of cases) expect(c.expect.length, c.file).toBeGreaterThan(0);
  });
  it.each(cases)('$file', async ({ file, expect: ids, args }) => {
    const r = await run(['validate', '-o', 'json', ...args, file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.kubeCalls).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    const found = [...new Set(out.files.flatMap((f) => f.findings.map((x) => x.rule)))].sort();
    expect(found).toEqual([...ids].sort());
    for (const f of out.files.flatMap((x) => x.findings)) {
      expect(f.message.length).toBeGreaterThan(20);
      expect(f.line).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('the good corpus: no findings at all', () => {
  it.each(corpus('good'))('$file', async ({ file, args }) => {
    const r = await run(['validate', ...args, file]);
    expect(r.stdout).toBe(`${file}: ok\n\npassed: 1 file, 1 document, 0 errors, 0 warnings\n`);
    expect(r.code).toBe(0);
  });
  it('the sample placeholder passes --for restore with no findings (it tolerates the GPU taint)', async () => {
    const r = await run(['validate', '--for', 'restore', '-o', 'json', 'manifests/samples/placeholder.yaml']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files[0]?.findings.map((f) => f.rule)).toEqual([]);
  });
});

describe('text output', () => {
  it('groups findings per file with line:column, severity and rule, then a summary', async () => {
    const r = await run(['validate', `${FIXTURES}/bad/raw-runtime-image.yaml`, `${FIXTURES}/good/worker.yaml`]);
    expect(r.code).toBe(2);
    const [first, ...rest] = r.stdout.split('\n');
    expect(first).toBe(`${FIXTURES}/bad/raw-runtime-image.yaml`);
    expect(rest[0]).toMatch(
      /^ {2}20:7 {2}error {4}SNAP023 {2}spec\.containers\[0\]\.image "nvcr\.io\/nvidia\/ai-dynamo\/vllm-runtime:1\.0\.0" is a raw runtime image: it lacks criu, cuda-checkpoint, nsrestore at \/usr\/local\/bin\/nsrestore, and sleep.*nvcr\.io\/nvidia\/ai-dynamo\/vllm-placeholder:1\.0\.0/,
    );
    expect(rest[1]).toBe(`${FIXTURES}/good/worker.yaml: ok`);
    expect(r.stdout.endsWith('\nfailed: 2 files, 2 documents, 1 error, 0 warnings\n')).toBe(true);
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it('an unknown field is an error named as kubectl names it, with the field meant', async () => {
    const r = await run(['validate', `${FIXTURES}/bad/unknown-field-comand.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      '  15:7  error    SNAP011  unknown field "spec.containers[0].comand" (kubectl\'s strict field validation refuses it); did you mean "spec.containers[0].command"?\n',
    );
    const far = await run(['validate', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: w, zzz: 1}\nspec: {containers: [{name: w, image: x-placeholder:1, command: [w]}]}\n');
    expect(far.stdout).toMatch(/SNAP011 {2}unknown field "metadata\.zzz" \(kubectl's strict field validation refuses it\); the fields here are annotations, creationTimestamp, .*, uid\n/);
  });

  it('warnings pass, unless --strict (exit 1)', async () => {
    const dir = tempDir('validate-');
    const file = join(dir, 'w.yaml');
    writeFileSync(file, readFileSync(join(ROOT, FIXTURES, 'good/worker.yaml'), 'utf8').replace('restartPolicy: Never', 'restartPolicy: Always'));
    const lax = await run(['validate', file]);
    expect(lax.code).toBe(0);
    expect(lax.stdout).toMatch(/warning {2}SNAP018 {2}spec\.restartPolicy is Always/);
    expect(lax.stdout).toMatch(/\npassed: 1 file, 1 document, 0 errors, 1 warning\n$/);
    const strict = await run(['validate', '--strict', file]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/\nfailed \(--strict\): /);
  });
});

describe('json output', () => {
  it('is one stable object: version, for, policy, files with located findings, summary', async () => {
    const r = await run(['validate', '-o', 'json', `${FIXTURES}/bad/two-containers.yaml`]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      version: 1,
      for: 'checkpoint',
      strict: false,
      imagePolicy: { source: 'default' },
      files: [
        {
          file: `${FIXTURES}/bad/two-containers.yaml`,
          documents: 1,
          findings: [
            {
              rule: 'SNAP001',
              severity: 'error',
              path: 'spec.containers',
              message: 'spec.containers has 2 entries; exactly one worker container is required (move sidecars out, or disable their injection)',
              file: `${FIXTURES}/bad/two-containers.yaml`,
              document: 0,
              line: 18,
              column: 3,
            },
          ],
          skipped: [],
        },
      ],
      summary: { files: 1, documents: 1, errors: 1, warnings: 0, skipped: 0 },
    });
  });

  it('--skip-image-check reports the policy as skipped and accepts a raw runtime image', async () => {
    const r = await run(['validate', '-o', 'json', '--skip-image-check', `${FIXTURES}/bad/raw-runtime-image.yaml`]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { imagePolicy: unknown }).imagePolicy).toBe('skipped');
  });

  it('--config shows its patterns', async () => {
    const r = await run(['validate', '-o', 'json', '--config', `${FIXTURES}/policy.yaml`, `${FIXTURES}/good/custom-policy.yaml`]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { imagePolicy: unknown }).imagePolicy).toEqual({
      source: `${FIXTURES}/policy.yaml`,
      patterns: ['registry.example.com/*-placeholder:*', 'registry.example.com/team/**'],
    });
  });
});

describe('sarif output', () => {
  it('is SARIF 2.1.0 with every rule as metadata and a region per result', async () => {
    const r = await run(['validate', '-o', 'sarif', `${FIXTURES}/bad/hostpath-and-runtime.yaml`]);
    expect(r.code).toBe(2);
    const sarif = JSON.parse(r.stdout) as {
      version: string;
      $schema: string;
      runs: Array<{
        tool: { driver: { name: string; version: string; rules: Array<{ id: string; shortDescription: { text: string }; help: { text: string }; defaultConfiguration: { level: string } }> } };
        results: Array<{ ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } }; logicalLocations?: Array<{ fullyQualifiedName: string }> }> }>;
      }>;
    };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const [runObj] = sarif.runs;
    expect(runObj?.tool.driver.name).toBe('snapshotctl');
    expect(runObj?.tool.driver.rules.map((x) => x.id)).toEqual(RULE_REGISTRY.map((x) => x.id));
    for (const rule of runObj?.tool.driver.rules ?? []) {
      expect(rule.shortDescription.text).not.toBe('');
      expect(rule.help.text).not.toBe('');
      expect(['error', 'warning']).toContain(rule.defaultConfiguration.level);
    }
    const results = runObj?.results ?? [];
    expect(results.map((x) => [x.ruleId, x.level])).toEqual([
      ['SNAP019', 'warning'],
      ['SNAP023', 'error'],
    ]);
    for (const res of results) {
      expect(runObj?.tool.driver.rules[res.ruleIndex]?.id).toBe(res.ruleId);
      const loc = res.locations[0]!;
      expect(loc.physicalLocation.artifactLocation.uri).toBe(`${FIXTURES}/bad/hostpath-and-runtime.yaml`);
      expect(loc.physicalLocation.region.startLine).toBeGreaterThan(1);
      expect(loc.physicalLocation.region.startColumn).toBeGreaterThanOrEqual(1);
    }
    expect(results[1]?.locations[0]?.logicalLocations?.[0]?.fullyQualifiedName).toBe('spec.containers[0].image');
  });
});

describe('directories and stdin', () => {
  it('walks a directory recursively: .yaml/.yml/.json only, dot entries skipped, other kinds noted', async () => {
    const r = await run(['validate', '-o', 'json', `${FIXTURES}/tree`]);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files.map((f) => f.file)).toEqual([
      `${FIXTURES}/tree/nested/deeper/sidecar.yaml`,
      `${FIXTURES}/tree/nested/deployment.yaml`,
      `${FIXTURES}/tree/nested/worker.yml`,
      `${FIXTURES}/tree/with-configmap.yaml`,
    ]);
    expect(out.files.map((f) => [f.documents, f.findings.map((x) => x.rule), f.skipped.map((s) => s.message)])).toEqual([
      [1, ['SNAP001'], []],
      [0, [], ['skipped kind "Deployment": not a Pod (name the file to have it judged)']],
      [1, [], []],
      [1, [], ['skipped kind "ConfigMap": not a Pod (name the file to have it judged)']],
    ]);
    expect(out.summary).toEqual({ files: 4, documents: 3, errors: 1, warnings: 0, skipped: 2 });
    expect(r.code).toBe(2);
  });

  it('a file named explicitly is judged whole: another kind is SNAP002', async () => {
    const r = await run(['validate', '-o', 'json', `${FIXTURES}/tree/with-configmap.yaml`]);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files[0]?.findings.map((f) => [f.rule, f.document, f.line])).toEqual([['SNAP002', 0, 3]]);
    expect(r.code).toBe(2);
  });

  it('reads - from stdin, multi-document', async () => {
    const worker = readFileSync(join(ROOT, FIXTURES, 'good/worker.yaml'), 'utf8');
    const r = await run(['validate', '-'], `${worker}---\n${worker.replace('vllm-placeholder', 'vllm-runtime')}`);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^-\n {2}\d+:\d+ +error {4}SNAP023 /);
    expect(r.stdout).toMatch(/failed: 1 file, 2 documents, 1 error, 0 warnings\n$/);
  });

  it('a missing path is a finding, and the other inputs are still judged', async () => {
    const r = await run(['validate', 'no/such/file.yaml', `${FIXTURES}/good/worker.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^no\/such\/file\.yaml\n {2}1:1 {2}error {4}SNAP007 {2}cannot read no\/such\/file\.yaml: no such file or directory\n/);
    expect(r.stdout).toContain(`${FIXTURES}/good/worker.yaml: ok`);
  });
});

describe('flags', () => {
  it.each([
    [['validate'], /missing required argument 'paths'/],
    [['validate', '-o', 'yaml', 'x.yaml'], /--output "yaml" is not supported by validate/],
    [['validate', '--for', 'deploy', 'x.yaml'], /--for "deploy" is not supported/],
    [['validate', '--config', 'nope.yaml', 'x.yaml'], /cannot read config "nope\.yaml": no such file/],
    [['validate', '--base-path', 'ckpt', 'x.yaml'], /--base-path "ckpt" cannot be used: it is not an absolute path/],
    [['validate', '-', '-'], /stdin \(-\) can be given only once/],
  ])('%j exits 2 naming the problem', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--help ends with examples', async () => {
    const r = await run(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n[\s\S]*snapshotctl validate -o sarif --strict manifests\//);
  });
});

describe('no Kubernetes client code is loaded', () => {
  const bin = join(ROOT, 'bin/snapshotctl.js');
  /** An --import module whose resolve hook reports, on stderr, every Kubernetes client module that is loaded. */
  function hookFile(): string {
    const dir = tempDir('validate-hook-');
    writeFileSync(
      join(dir, 'hook.mjs'),
      `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('@kubernetes/client-node') || /\\/kube\\/(client|config)\\.js$/.test(r.url)) process.stderr.write('LOADED ' + r.url + '\\n');
  return r;
}
`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
    return join(dir, 'register.mjs');
  }
  const cli = (hook: string, args: string[]) => spawnSync(process.execPath, ['--import', hook, bin, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });

  it.runIf(existsSync(join(ROOT, 'dist/cli/main.js')))('validate and --help resolve neither @kubernetes/client-node nor src/kube/client', () => {
    const hook = hookFile();
    for (const args of [['validate', `${FIXTURES}/good/worker.yaml`], ['--help']]) {
      const r = cli(hook, args);
      expect(r.stderr).not.toMatch(/LOADED/);
      expect(r.status).toBe(0);
    }
    // The hook does see them when a command needs the client.
    const r = cli(hook, ['checkpoint', '--manifest', `${FIXTURES}/good/worker.yaml`, '--kubeconfig', join(tmpdir(), 'no-such-kubeconfig'), '--timeout', '1s']);
    expect(r.stderr).toMatch(/LOADED .*kube\/client\.js/);
  });
});
