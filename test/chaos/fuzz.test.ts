/**
 * Fuzzing of command lines and manifests (issue 8, item 4), property-based, through the
 * in-process entry `main(argv, io)` with fake IO: whatever a user types or feeds in,
 * the CLI answers with a documented exit code and a sentence, never an uncaught
 * exception or a stack trace. A usage error exits 2 with an `error:` line.
 *
 * Nothing reaches a cluster: the `kube` factory refuses like an unreachable cluster
 * (ClusterError, exit 3) and counts the attempts; `dev status` reads only a temp state
 * directory. Run counts are bounded so the file finishes in a few seconds; a failure
 * prints fast-check's seed and shrunk command line, replayable with `{ seed, path }`;
 * FUZZ_SCALE=N multiplies the run counts for a deeper search.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { ClusterError } from '../../src/errors.js';
import { PLACEHOLDER_MANIFEST, WORKER_MANIFEST } from '../e2e/harness.js';

const WORKER = readFileSync(WORKER_MANIFEST, 'utf8');
const PLACEHOLDER = readFileSync(PLACEHOLDER_MANIFEST, 'utf8');
/** Terminal escapes: a window title, a cleared line after a carriage return, a C1 CSI, DEL. */
const ESCAPES = '\u001b]0;pwned\u0007\r\u001b[2Kfake line\u009b31m\u007f';
/** Over the 3 MiB input limit. */
const OVERSIZE = `${WORKER}\nmetadata-pad: "${'x'.repeat(3 * 1024 * 1024)}"\n`;
/** Deeper than any reader accepts, in flow and block style. */
const DEEP_FLOW = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
const DEEP_BLOCK = `${'- '.repeat(50_000)}x\n`;
/** The worker with its container's fields merged from an anchor (`<<`). */
const MERGED = WORKER.replace(/^(\s+)image: (.*)$/m, '$1<<: &base {image: $2}');
/** What `readFile` serves; anything else is ENOENT. */
const FILES: Record<string, string> = {
  'worker.yaml': WORKER,
  'placeholder.yaml': PLACEHOLDER,
  'worker.json': JSON.stringify(parse(WORKER)),
  'empty.yaml': '',
  'list.yaml': `${WORKER}\n---\n${PLACEHOLDER}`,
  'garbage.yaml': '{{{: [\n\t- :',
  'scalar.yaml': '42',
  'alias.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: *missing\n',
  'laughs.yaml': `a: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`,
  'big.yaml': OVERSIZE,
  'deep.yaml': DEEP_FLOW,
  'deep-block.yaml': DEEP_BLOCK,
  'merge.yaml': MERGED,
  'escape.yaml': `apiVersion: v1\nkind: ${JSON.stringify(`Deploy${ESCAPES}ment`)}\nmetadata: {name: ${JSON.stringify(`w${ESCAPES}`)}}\n`,
};
/** Names the real reader refuses without opening them for reading (FIFOs, sockets, devices). */
const NOT_REGULAR = new Set(['fifo.yaml', '/dev/zero']);

const STATE_DIR = mkdtempSync(join(tmpdir(), 'snapshotctl-fuzz-'));
afterAll(() => rmSync(STATE_DIR, { recursive: true, force: true }));

const EXIT_CODES = [0, 1, 2, 3, 4, 130];
/** `FUZZ_SCALE=20 npx vitest run test/chaos/fuzz.test.ts` for a deeper search than CI's. */
const SCALE = Math.max(1, Number(process.env['FUZZ_SCALE'] ?? 1) || 1);
const STACK = /\n\s+at /;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  kubeCalls: number;
}

/** Run `snapshotctl argv` in process with fakes; an escaping exception fails the property. */
async function run(argv: string[], stdin = ''): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  let kubeCalls = 0;
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
    env: { SNAPSHOTCTL_DEV_DIR: join(STATE_DIR, 'dev'), CI: 'true', NO_COLOR: '1' },
    signal: new AbortController().signal,
    readStdin: async () => stdin,
    readFile: async (p) => {
      // As src/cli/input-file.ts answers for a FIFO: at once, never blocking.
      if (NOT_REGULAR.has(p)) throw Object.assign(new Error('it is a FIFO (named pipe), not a regular file; pipe it to stdin and pass - instead'), { code: 'ENOTREG' });
      const text = FILES[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      return text;
    },
    now: () => Date.parse('2026-11-23T12:00:00Z'),
    nowNanos: () => 1743712345678901234n,
    kube: async () => {
      kubeCalls += 1;
      throw new ClusterError('fuzz: no cluster here', 'the fuzz test never reaches a cluster');
    },
    contextNamespace: async () => 'default',
    stdinIsTTY: false,
    prompt: async () => 'n',
  });
  return { code, stdout, stderr, kubeCalls };
}

/**
 * The properties every run must have. `validate` reports bad input as findings on
 * stdout (its CI report, rule IDs included) rather than as an `error:` line, and
 * `dev status` exits 1 when it finds leftovers, naming them on stderr.
 */
function assertSane(argv: string[], r: Outcome): void {
  const context = `argv: ${JSON.stringify(argv).slice(0, 2000)}\nexit ${r.code}\nstdout:\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr.slice(0, 4000)}`;
  expect(EXIT_CODES, context).toContain(r.code);
  expect(r.stderr, context).not.toMatch(STACK);
  expect(r.stderr, context).not.toContain('unexpected failure');
  expect(r.stderr, context).not.toMatch(/Maximum call stack/);
  // Human output never carries a raw control character from input (stderr is always human).
  expect(r.stderr, context).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  const report = (argv[0] === 'validate' && /SNAP\d{3}/.test(r.stdout)) || (argv[0] === 'dev' && r.code === 1 && /leftovers/.test(r.stdout));
  if (r.code === 2 && !report) expect(r.stderr, context).toMatch(/^error: \S/m);
  if (r.code !== 0 && !report) expect(r.stderr.trim(), context).not.toBe('');
}

// ---- values -------------------------------------------------------------------------

const HUGE = 'x'.repeat(100_000);
const tricky = fc.constantFrom(
  '',
  ' ',
  '-',
  '--',
  '=',
  '0',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  '90s',
  '1h30m',
  '1.5h',
  '300ms',
  '5m0s',
  '.5s',
  '1d',
  '10',
  '-5m',
  '2562048h',
  'kv',
  'json',
  'yaml',
  'name',
  'text',
  'sarif',
  'table',
  'wide',
  'client',
  'server',
  'true',
  'false',
  'checkpoint',
  'restore',
  'both',
  'default',
  'kube-system',
  'UPPER',
  'a'.repeat(63),
  'a'.repeat(64),
  'llama-8b-v1',
  'ck_1.2-x',
  '../../etc/passwd',
  '/checkpoints',
  'worker.yaml',
  'placeholder.yaml',
  'worker.json',
  'empty.yaml',
  'list.yaml',
  'garbage.yaml',
  'scalar.yaml',
  'alias.yaml',
  'laughs.yaml',
  'missing.yaml',
  'big.yaml',
  'deep.yaml',
  'deep-block.yaml',
  'merge.yaml',
  'escape.yaml',
  'fifo.yaml',
  '/dev/zero',
  ESCAPES,
  `ck${ESCAPES}`,
  'Bad_NS',
  '../kube-system',
  '/checkpoints/../etc',
  'key=value',
  'a=b,c=d',
  'x in (a,b)',
  '\u0000',
  '\n',
  'naïve-ünïcödé',
  '💥🚀',
  '\u202e\u200b',
  'ℌ𝔢𝔩𝔩𝔬',
  HUGE,
);
const value = fc.oneof(
  { weight: 5, arbitrary: tricky },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

/** Flags each command knows (value-taking or boolean), plus a few it does not. */
const COMMON = [
  'namespace',
  'kubeconfig',
  'kube-context',
  'context',
  'checkpoint-id',
  'output',
  'timeout',
  'dry-run',
  'no-wait',
  'keep-on-failure',
  'poll-interval',
  'pvc',
  'base-path',
  'node',
  'no-agent-affinity',
  'skip-image-check',
  'config',
  'quiet',
  'verbose',
  'no-color',
  'disable-cuda-checkpoint-job-file',
];
const FLAGS: Record<string, string[]> = {
  checkpoint: [...COMMON, 'manifest'],
  restore: [...COMMON, 'manifest', 'pod'],
  validate: ['for', 'output', 'strict', 'config', 'skip-image-check', 'checkpoint-id', 'base-path', 'pvc', 'disable-cuda-checkpoint-job-file', 'no-color'],
  hash: ['model', 'backend-framework', 'dynamo-version', 'tp', 'pp', 'dtype', 'max-model-len', 'extra', 'file', 'service', 'output'],
  list: ['all-namespaces', 'selector', 'output', 'namespace', 'kubeconfig', 'kube-context', 'context', 'quiet', 'verbose', 'no-color'],
  'dev status': ['state-dir', 'output'],
};
const SHORT = ['-n', '-o', '-q', '-v', '-A', '-l', '-f', '-h', '-x', '-'];
const UNKNOWN = ['bogus', 'help', 'version', 'manifest-file', 'Namespace', 'timeout-seconds', 'wait', 'color'];

/** One argument group in one of the spellings v1.0.x scripts and users type. */
function flagTokens(names: string[]): fc.Arbitrary<string[]> {
  const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN) });
  return fc.oneof(
    fc.tuple(name, value).map(([n, v]) => [`--${n}`, v]),
    fc.tuple(name, value).map(([n, v]) => [`--${n}=${v}`]),
    fc.tuple(name, value).map(([n, v]) => [`-${n}`, v]),
    fc.tuple(name, value).map(([n, v]) => [`-${n}=${v}`]),
    fc.tuple(name, fc.constantFrom('true', 'false', 'TRUE', '1', '0', 't', 'f', 'yes', '')).map(([n, v]) => [`-${n}=${v}`]),
    name.map((n) => [`--${n}`]),
    name.map((n) => [`-${n}`]),
    fc.tuple(fc.constantFrom(...SHORT), value).map(([s, v]) => [s, v]),
    value.map((v) => [v]),
  );
}

function commandLine(command: string): fc.Arbitrary<string[]> {
  const head = command.split(' ');
  return fc.array(flagTokens(FLAGS[command] ?? COMMON), { maxLength: 6 }).map((groups) => [...head, ...groups.flat()]);
}

/** A few flags that make a command go further (past "needs --manifest"), mixed in often. */
const HELPERS: Record<string, string[][]> = {
  checkpoint: [['--manifest', 'worker.yaml'], ['--manifest', '-'], ['--dry-run'], ['--pvc', 'p', '--base-path', '/c'], ['--checkpoint-id', 'ck-1']],
  restore: [['--manifest', 'worker.yaml'], ['--pod', 'ph'], ['--checkpoint-id', 'ck-1'], ['--dry-run'], ['--pvc', 'p', '--base-path', '/c']],
  validate: [['worker.yaml'], ['placeholder.yaml'], ['-'], ['list.yaml'], ['alias.yaml'], ['big.yaml'], ['deep.yaml'], ['merge.yaml'], ['escape.yaml'], ['fifo.yaml']],
  hash: [['--model', 'm'], ['--backend-framework', 'vllm'], ['--dynamo-version', '0.4.2'], ['-f', 'worker.yaml'], ['-f', 'alias.yaml'], ['-f', '-'], ['-f', 'deep-block.yaml'], ['-f', 'fifo.yaml']],
  list: [['-A'], ['-o', 'json']],
  'dev status': [['-o', 'json'], ['--state-dir', join(STATE_DIR, 'other')]],
};

function commandLineWithHelpers(command: string): fc.Arbitrary<string[]> {
  return fc
    .tuple(commandLine(command), fc.subarray(HELPERS[command] ?? []), fc.boolean())
    .map(([line, helpers, first]) => {
      const head = command.split(' ').length;
      const extra = helpers.flat();
      return first ? [...line.slice(0, head), ...extra, ...line.slice(head)] : [...line, ...extra];
    });
}

const stdinText = fc.oneof(fc.constantFrom('', WORKER, PLACEHOLDER, '{', 'null', '[]', '*!', HUGE, OVERSIZE, DEEP_FLOW, MERGED, FILES['escape.yaml']!), fc.string({ maxLength: 200 }));

// ---- manifests ----------------------------------------------------------------------

type Path = Array<string | number>;

/** Every path into a parsed document, the root excluded. */
function pathsOf(v: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...prefix, i], ...pathsOf(x, [...prefix, i])]);
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => [[...prefix, k], ...pathsOf(x, [...prefix, k])]);
  return [];
}

const WORKER_DOC = parse(WORKER) as unknown;
const WORKER_PATHS = pathsOf(WORKER_DOC);

const jsonValue = fc.oneof(
  { weight: 3, arbitrary: value },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, [], {}, [[]], { '': '' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** The sample worker with some fields deleted, replaced by random values, or renamed. */
const mutatedWorker = fc
  .array(fc.tuple(fc.constantFrom(...WORKER_PATHS), fc.constantFrom('delete', 'set', 'rename'), jsonValue, fc.string({ maxLength: 6 })), {
    minLength: 1,
    maxLength: 4,
  })
  .map((edits) => {
    const doc = structuredClone(WORKER_DOC);
    for (const [path, op, v, newKey] of edits) {
      let parent: unknown = doc;
      for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[step];
      if (typeof parent !== 'object' || parent === null) continue;
      const last = path.at(-1)!;
      const p = parent as Record<string | number, unknown>;
      if (op === 'delete') {
        if (Array.isArray(p) && typeof last === 'number') p.splice(last, 1);
        else delete p[last];
      } else if (op === 'set') p[last] = v;
      else if (!Array.isArray(p)) {
        p[newKey] = p[last];
        delete p[last];
      }
    }
    return doc;
  });

const manifestText = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(mutatedWorker, fc.boolean()).map(([doc, json]) => (json ? JSON.stringify(doc) : stringify(doc))) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.nat({ max: WORKER.length }), fc.nat({ max: 40 }), fc.string({ maxLength: 20 })).map(([at, cut, ins]) => WORKER.slice(0, at) + ins + WORKER.slice(at + cut)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${WORKER}\n---\n${WORKER}`,
      '---\n---\n',
      '\uFEFF' + WORKER,
      WORKER.replace(/ {2}/g, '\t'),
      HUGE,
      'a: &a [*a]',
      '*!',
      FILES['alias.yaml']!,
      FILES['laughs.yaml']!,
      '!!binary xyz',
      '%YAML 9.9\n---\na: 1',
      OVERSIZE,
      DEEP_FLOW,
      DEEP_BLOCK,
      MERGED,
      FILES['escape.yaml']!,
      WORKER.replace('name: vllm-worker', `name: ${JSON.stringify(`vllm${ESCAPES}`)}`),
    ),
  },
);

// ---- properties ---------------------------------------------------------------------

describe('fuzzed command lines: a documented exit code and a sentence, never a stack trace', () => {
  for (const command of Object.keys(FLAGS)) {
    it(`snapshotctl ${command} ...`, async () => {
      await fc.assert(
        fc.asyncProperty(commandLineWithHelpers(command), stdinText, async (argv, stdin) => {
          const r = await run(argv, stdin);
          assertSane(argv, r);
        }),
        { numRuns: 120 * SCALE },
      );
    }, 60_000 * SCALE);
  }

  it('usage errors (unknown flags, missing values, bad durations and formats) exit 2 with an error: line before any cluster call', async () => {
    const bad = fc.oneof(
      fc.constantFrom(...UNKNOWN.filter((u) => u !== 'help' && u !== 'version' && u !== 'wait' && u !== 'color')).map((u) => [`--${u}`, 'x']),
      fc.constantFrom('--timeout', '--poll-interval').chain((f) => fc.constantFrom('abc', '1d', '-5m', '1e309', 'NaN', '', ' ', '💥').map((v) => [f, v])),
      fc.constantFrom('abc', 'xml', '', 'JSON ').map((v) => ['-o', v]),
      fc.constantFrom('--checkpoint-id=', '--checkpoint-id=-bad-', `--checkpoint-id=${'a'.repeat(64)}`, '--checkpoint-id=a/b', '--checkpoint-id=..'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('checkpoint', 'restore'), bad, async (command, flags) => {
        const target = command === 'checkpoint' ? ['--manifest', 'worker.yaml'] : ['--manifest', 'worker.yaml', '--checkpoint-id', 'ck-1'];
        const argv = [command, ...target, ...[flags].flat()];
        const r = await run(argv);
        assertSane(argv, r);
        expect(r.code, `${argv.join(' ')}\n${r.stderr}`).toBe(2);
        expect(r.kubeCalls, 'nothing was sent').toBe(0);
      }),
      { numRuns: 80 * SCALE },
    );
  }, 60_000 * SCALE);

  it('checkpoint --dry-run --pvc p --base-path /c on random and mutated manifests: 0 with a Job, or 2 with findings; never a cluster call', async () => {
    await fc.assert(
      fc.asyncProperty(manifestText, fc.constantFrom('kv', 'json', 'yaml', 'name'), async (text, output) => {
        const argv = ['checkpoint', '--manifest', '-', '--dry-run', '--pvc', 'p', '--base-path', '/c', '--checkpoint-id', 'ck-1', '-o', output];
        const r = await run(argv, text);
        assertSane([...argv, `<stdin ${text.length} chars: ${JSON.stringify(text.slice(0, 300))}>`], r);
        expect([0, 2], r.stderr).toContain(r.code);
        expect(r.kubeCalls, 'an offline dry-run never builds a client').toBe(0);
        if (r.code === 0 && output === 'json') {
          const list = JSON.parse(r.stdout) as { kind?: string; items?: Array<{ kind?: string }> };
          expect(list.kind).toBe('List');
          expect(list.items?.map((i) => i.kind)).toEqual(['Job']);
        }
        if (r.code === 2) expect(r.stdout).toBe('');
      }),
      { numRuns: 250 * SCALE },
    );
  }, 60_000 * SCALE);
});

describe('input that once hung, crashed or fooled the CLI (FIFO, oversize, deep, merge keys, terminal escapes)', () => {
  const OFFLINE = ['--dry-run', '--pvc', 'p', '--base-path', '/c', '--checkpoint-id', 'ck-1'];
  it.each([
    ['fifo.yaml', 2, /it is a FIFO \(named pipe\), not a regular file/],
    ['big.yaml', 2, /is larger than 3 MiB \(3145728 bytes\)/],
    ['deep.yaml', 2, /nested more than 100 levels deep/],
    ['deep-block.yaml', 2, /nested more than 100 levels deep/],
    ['escape.yaml', 2, /Deploy\\x1b\]0;pwned\\x07\\x0d\\x1b\[2Kfake line\\x9b31m\\x7fment/],
    ['merge.yaml', 0, /^$/],
  ])('checkpoint, restore --manifest, validate and hash on %s', async (file, code, message) => {
    for (const argv of [
      ['checkpoint', '--manifest', file, ...OFFLINE, '-o', 'json'],
      ['restore', '--manifest', file, ...OFFLINE, '-o', 'json'],
      ['validate', file],
      ['hash', '-f', file],
    ]) {
      const r = await run(argv);
      assertSane(argv, r);
      expect(r.kubeCalls, argv.join(' ')).toBe(0);
      if (argv[0] === 'hash') continue;
      if (argv[0] === 'validate') {
        expect(r.stdout, argv.join(' ')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
        if (code !== 0) expect(r.stdout + r.stderr, argv.join(' ')).toMatch(message);
        continue;
      }
      expect(r.code, `${argv.join(' ')}\n${r.stderr}`).toBe(code);
      if (code !== 0) expect(r.stderr, argv.join(' ')).toMatch(message);
      else {
        const items = (JSON.parse(r.stdout) as { items: Array<Record<string, unknown>> }).items;
        expect(JSON.stringify(items)).not.toContain('"<<"');
        expect(JSON.stringify(items)).toContain('vllm-placeholder:1.0.0');
      }
    }
  }, 60_000);
});
